// Parses and validates the "invalidator" section.
#include "config/invalidator_config.h"

#include <cctype>

namespace mccache::config {
namespace {

// Cheap syntax check of a key template here; the invalidator compiles it properly at start-up.
std::optional<std::string> template_syntax_error(const std::string& t) {
  if (t.empty()) return "is empty";
  bool has_column = false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '}') return "has a '}' without '{' at offset " + std::to_string(i);
    if (t[i] != '{') continue;
    auto close = t.find('}', i);
    if (close == std::string::npos) return "has an unclosed '{' at offset " + std::to_string(i);
    if (close == i + 1) return "has an empty {} at offset " + std::to_string(i);
    has_column = true;
    i = close;
  }
  if (!has_column) return "names no column (write e.g. \"user:{id}\")";
  return std::nullopt;
}

void parse_tables(JsonObject& s, InvalidatorConfig& c) {
  const auto* tables = s.raw("tables");
  if (tables == nullptr) return;
  std::string path = s.field_path("tables");
  if (!tables->IsObject())
    s.fail("tables", std::string("expected an object {\"schema.table\": [templates]}, found ") +
                         json_type_name(*tables));
  for (auto it = tables->MemberBegin(); it != tables->MemberEnd(); ++it) {
    std::string table(it->name.GetString(), it->name.GetStringLength());
    std::string tpath = join_path(path, table);
    auto dot = table.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == table.size())
      s.fail_at(tpath, "table must be written \"schema.table\", e.g. "
                        "\"public." + table + "\"");
    if (!it->value.IsArray())
      s.fail_at(tpath, std::string("expected an array of key templates, found ") +
                           json_type_name(it->value));
    std::vector<std::string> templates;
    for (rapidjson::SizeType i = 0; i < it->value.Size(); ++i) {
      const auto& v = it->value[i];
      if (!v.IsString())
        s.fail_at(index_path(tpath, i),
                  std::string("expected a key template string, found ") + json_type_name(v));
      std::string t(v.GetString(), v.GetStringLength());
      if (auto err = template_syntax_error(t))
        s.fail_at(index_path(tpath, i), "template \"" + t + "\" " + *err);
      templates.push_back(std::move(t));
    }
    c.tables.emplace(std::move(table), std::move(templates));
  }
}

// An optional DSN: absent, null or "" mean none.
std::optional<std::string> optional_dsn(JsonObject& o, std::string_view name) {
  if (!o.has(name) || o.raw(name)->IsNull()) return std::nullopt;
  auto dsn = o.string(name, "");
  if (dsn.empty()) return std::nullopt;
  return dsn;
}

// The fields of one source object; the caller reads wait_for_replay and finishes the object.
SourceConfig parse_source(JsonObject& src, const std::string& name, const std::string& slot) {
  SourceConfig c;
  c.name = name;
  c.dsn = src.required_string("dsn");
  c.slot = src.string("slot", slot);
  c.publication = src.string("publication", c.publication);
  c.create_slot = src.boolean("create_slot", c.create_slot);
  c.create_publication = src.boolean("create_publication", c.create_publication);
  c.standby_retry_ms =
      static_cast<int>(src.integer("standby_retry_ms", c.standby_retry_ms, 10, 600000));
  c.state_file = src.string("state_file", c.state_file);
  c.on_slot_lost = src.choice("on_slot_lost", c.on_slot_lost, {"halt", "flush_region"});
  for (char ch : c.slot) {
    if (!(std::islower(static_cast<unsigned char>(ch)) ||
          std::isdigit(static_cast<unsigned char>(ch)) || ch == '_'))
      src.fail("slot", "\"" + c.slot +
                           "\": slot names may hold only lower-case letters, digits and '_'");
  }
  return c;
}

}  // namespace

InvalidatorConfig parse_invalidator_config(JsonObject& s, const std::string& datacenter) {
  InvalidatorConfig c;
  c.metrics_listen = s.optional_endpoint("metrics_listen");
  c.state_dir = s.string("state_dir", c.state_dir);

  if (s.has("source") == s.has("sources"))
    s.fail(s.has("source") ? "sources" : "source",
           "give either \"source\" (one primary) or \"sources\" (a list, one per shard)");
  if (s.has("source")) {
    auto src = s.required_object("source");
    c.sources.push_back(parse_source(src, "", "mcinval_" + datacenter));
    src.finish();
    c.sources.back().wait_for_replay = optional_dsn(s, "wait_for_replay");
  } else {
    if (s.has("wait_for_replay"))
      s.fail("wait_for_replay", "with \"sources\", give each source its own wait_for_replay");
    const auto* list = s.raw("sources");
    std::string path = s.field_path("sources");
    if (!list->IsArray() || list->Empty())
      s.fail("sources", "expected a list of source objects, one per primary");
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      std::string item_path = index_path(path, i);
      if (!(*list)[i].IsObject()) s.fail_at(item_path, "expected a source object");
      JsonObject src((*list)[i], item_path, s.file());
      auto name = src.required_string("name");
      if (name.empty()) src.fail("name", "must not be empty");
      for (char ch : name)
        if (!(std::islower(static_cast<unsigned char>(ch)) ||
              std::isdigit(static_cast<unsigned char>(ch)) || ch == '_'))
          src.fail("name", "\"" + name + "\": use lower-case letters, digits and '_'");
      for (const auto& other : c.sources)
        if (other.name == name) src.fail("name", "\"" + name + "\" is used by two sources");
      auto source = parse_source(src, name, "mcinval_" + datacenter + "_" + name);
      source.wait_for_replay = optional_dsn(src, "wait_for_replay");
      src.finish();
      c.sources.push_back(std::move(source));
    }
  }

  c.message_prefix = s.string("message_prefix", c.message_prefix);
  if (c.message_prefix.empty()) s.fail("message_prefix", "must not be empty");
  parse_tables(s, c);

  if (auto d = s.object("delivery")) {
    auto& dc = c.delivery;
    dc.mode = d->choice("mode", dc.mode, {"invalidate", "delete"});
    dc.stale_ttl_s = static_cast<int>(d->integer("stale_ttl_s", dc.stale_ttl_s, 0, 86400));
    dc.batch_max_keys = static_cast<int>(d->integer("batch_max_keys", dc.batch_max_keys, 1, 1 << 20));
    dc.request_timeout_ms =
        static_cast<int>(d->integer("request_timeout_ms", dc.request_timeout_ms, 1, 600000));
    dc.retry_initial_ms =
        static_cast<int>(d->integer("retry_initial_ms", dc.retry_initial_ms, 1, 600000));
    dc.retry_max_ms = static_cast<int>(d->integer("retry_max_ms", dc.retry_max_ms, 1, 3600000));
    dc.on_server_down = d->choice("on_server_down", dc.on_server_down, {"hold", "skip"});
    dc.max_held_keys =
        static_cast<int>(d->integer("max_held_keys", dc.max_held_keys, 1, 100000000));
    d->finish();
    if (dc.retry_max_ms < dc.retry_initial_ms)
      d->fail("retry_max_ms", "must be at least retry_initial_ms");
  }
  c.truncate = s.choice("truncate", c.truncate, {"flush_region", "ignore", "halt"});
  c.status_interval_ms =
      static_cast<int>(s.integer("status_interval_ms", c.status_interval_ms, 10, 600000));
  c.shutdown_timeout_ms =
      static_cast<int>(s.integer("shutdown_timeout_ms", c.shutdown_timeout_ms, 0, 600000));
  s.finish();
  return c;
}

}  // namespace mccache::config
