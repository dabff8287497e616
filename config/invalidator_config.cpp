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

}  // namespace

InvalidatorConfig parse_invalidator_config(JsonObject& s, const std::string& datacenter) {
  InvalidatorConfig c;
  c.metrics_listen = s.optional_endpoint("metrics_listen");

  auto src = s.required_object("source");
  c.source.dsn = src.required_string("dsn");
  c.source.slot = src.string("slot", "mcinval_" + datacenter);
  c.source.publication = src.string("publication", c.source.publication);
  c.source.create_slot = src.boolean("create_slot", c.source.create_slot);
  c.source.create_publication = src.boolean("create_publication", c.source.create_publication);
  c.source.standby_retry_ms =
      static_cast<int>(src.integer("standby_retry_ms", c.source.standby_retry_ms, 10, 600000));
  c.source.state_file = src.string("state_file", c.source.state_file);
  c.source.on_slot_lost = src.choice("on_slot_lost", c.source.on_slot_lost, {"halt", "flush_region"});
  src.finish();
  for (char ch : c.source.slot) {
    if (!(std::islower(static_cast<unsigned char>(ch)) || std::isdigit(static_cast<unsigned char>(ch)) || ch == '_'))
      src.fail("slot", "\"" + c.source.slot +
                           "\": slot names may hold only lower-case letters, digits and '_'");
  }

  if (s.has("wait_for_replay")) {
    const auto* v = s.raw("wait_for_replay");
    if (!v->IsNull()) c.wait_for_replay = s.string("wait_for_replay", "");
    if (c.wait_for_replay && c.wait_for_replay->empty()) c.wait_for_replay.reset();
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
