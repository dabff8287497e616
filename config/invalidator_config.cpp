// The "invalidator" section: its field tables, and the readers of the fields that are not one
// value (the source or sources, the tables' key templates).
#include "config/invalidator_config.h"

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

void read_tables(const FieldInfo&, JsonObject& s, InvalidatorConfig& c) {
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
      s.fail_at(tpath,
                "table must be written \"schema.table\", e.g. "
                "\"public." +
                    table + "\"");
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
  const auto* v = o.raw(name);
  if (v == nullptr || v->IsNull()) return std::nullopt;
  auto dsn = o.string(name, "");
  if (dsn.empty()) return std::nullopt;
  return dsn;
}

// The fields a source has in both forms; each of "sources" adds its name and wait_for_replay.
constexpr Field<SourceConfig> kSourceFields[] = {
    field<&SourceConfig::dsn>(
        {.name = "dsn", .type = Type::kDsn, .required = true, .doc = "the Postgres primary"}),
    // Empty means absent here: parse_invalidator_config derives the default from the names.
    field<&SourceConfig::slot>({.name = "slot",
                                .type = Type::kName,
                                .not_empty = true,
                                .hint = "Postgres allows nothing else in a slot name",
                                .default_text = "`mcinval_<datacenter>`",
                                .doc = "the logical replication slot, one per region"}),
    field<&SourceConfig::publication>(
        {.name = "publication", .doc = "the publication the slot streams"}),
    field<&SourceConfig::create_slot>(
        {.name = "create_slot", .doc = "create the slot (pgoutput) if missing"}),
    field<&SourceConfig::create_publication>(
        {.name = "create_publication", .doc = "create the publication if missing"}),
    field<&SourceConfig::standby_retry_ms>({.name = "standby_retry_ms",
                                            .min = 10,
                                            .max = 600000,
                                            .doc = "how often a standby retries a slot in use"}),
    field<&SourceConfig::state_file>(
        {.name = "state_file",
         .type = Type::kPath,
         .default_text = "`<state_dir>/<slot>.state` (`<name>-<slot>.state` for a named source)",
         .doc = "records the slot and its position, so its loss is noticed"}),
    field<&SourceConfig::on_slot_lost>(
        {.name = "on_slot_lost", .doc = "what to do when the slot is lost"}),
};

constexpr FieldInfo kSourceName = {.name = "name", .type = Type::kName, .required = true};

void read_source(const FieldInfo&, JsonObject& s, InvalidatorConfig& c) {
  bool one = s.raw("source") != nullptr;
  if (one == (s.raw("sources") != nullptr))
    s.fail(one ? "sources" : "source",
           "give either \"source\" (one primary) or \"sources\" (a list, one per shard)");
  if (!one) return;
  auto src = s.required_object("source");
  SourceConfig source;
  read_fields(kSourceFields, src, source);
  src.finish();
  c.sources.push_back(std::move(source));
}

void read_section_replica(const FieldInfo& f, JsonObject& s, InvalidatorConfig& c) {
  if (s.raw("sources") != nullptr) {
    if (s.raw(f.name) != nullptr)
      s.fail(f.name, "with \"sources\", give each source its own wait_for_replay");
    return;
  }
  c.sources.back().wait_for_replay = optional_dsn(s, f.name);
}

void read_sources(const FieldInfo& f, JsonObject& s, InvalidatorConfig& c) {
  const auto* list = s.raw(f.name);
  if (list == nullptr) return;
  std::string path = s.field_path(f.name);
  if (!list->IsArray() || list->Empty())
    s.fail(f.name, "expected a list of source objects, one per primary");
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    std::string item_path = index_path(path, i);
    if (!(*list)[i].IsObject()) s.fail_at(item_path, "expected a source object");
    JsonObject src((*list)[i], item_path, s.file());
    SourceConfig source;
    source.name = read_value(kSourceName, src, std::string());
    for (const auto& other : c.sources)
      if (other.name == source.name)
        src.fail("name", "\"" + source.name + "\" is used by two sources");
    read_fields(kSourceFields, src, source);
    source.wait_for_replay = optional_dsn(src, "wait_for_replay");
    src.finish();
    c.sources.push_back(std::move(source));
  }
}

void check_delivery(JsonObject& d, const DeliveryConfig& c) {
  if (c.retry_max_ms < c.retry_initial_ms)
    d.fail("retry_max_ms", "must be at least retry_initial_ms");
}

constexpr Field<DeliveryConfig> kDeliveryFields[] = {
    field<&DeliveryConfig::mode>({.name = "mode", .doc = "keep a stale copy, or remove the item"}),
    field<&DeliveryConfig::stale_ttl_s>({.name = "stale_ttl_s",
                                         .min = 0,
                                         .max = 86400,
                                         .doc = "life of the stale copy; 0 removes the item"}),
    field<&DeliveryConfig::batch_max_keys>(
        {.name = "batch_max_keys", .min = 1, .max = 1 << 20, .doc = "keys per pipelined batch"}),
    field<&DeliveryConfig::request_timeout_ms>({.name = "request_timeout_ms",
                                                .min = 1,
                                                .max = 600000,
                                                .doc = "how long a batch's replies may take"}),
    field<&DeliveryConfig::retry_initial_ms>({.name = "retry_initial_ms",
                                              .min = 1,
                                              .max = 600000,
                                              .doc = "first retry of a failed server"}),
    field<&DeliveryConfig::retry_max_ms>({.name = "retry_max_ms",
                                          .min = 1,
                                          .max = 3600000,
                                          .doc = "longest backoff between retries"}),
    field<&DeliveryConfig::on_server_down>(
        {.name = "on_server_down", .doc = "hold a down server's keys, or drop them"}),
    field<&DeliveryConfig::max_held_keys>(
        {.name = "max_held_keys",
         .min = 1,
         .max = 100000000,
         .doc = "keys kept for down servers before reading pauses"}),
};

constexpr Field<InvalidatorConfig> kInvalidatorFields[] = {
    field<&InvalidatorConfig::metrics_listen>(
        {.name = "metrics_listen", .doc = "Prometheus /metrics; off when absent"}),
    field<&InvalidatorConfig::state_dir>(
        {.name = "state_dir",
         .type = Type::kPath,
         .default_text = "`$STATE_DIRECTORY`, else `/var/lib/mccache`",
         .doc = "where the slots' state files live"}),
    custom<InvalidatorConfig>({.name = "source", .doc = "the one Postgres primary"}, &read_source,
                              &table_docs<kSourceFields>),
    custom<InvalidatorConfig>({.name = "wait_for_replay",
                               .type_text = "libpq DSN or `null`",
                               .default_text = "off",
                               .doc = "the local replica whose replay gates deletes"},
                              &read_section_replica),
    custom<InvalidatorConfig>({.name = "sources",
                               .type_text = "list of source objects",
                               .doc = "instead of source: one per sharded primary"},
                              &read_sources),
    field<&InvalidatorConfig::message_prefix>(
        {.name = "message_prefix",
         .not_empty = true,
         .doc = "prefix of logical messages that invalidate keys"}),
    custom<InvalidatorConfig>({.name = "tables",
                               .type_text = "object",
                               .default_text = "`{}`",
                               .doc = "\"schema.table\" to key templates"},
                              &read_tables),
    object<&InvalidatorConfig::delivery, kDeliveryFields, &check_delivery>({.name = "delivery"}),
    field<&InvalidatorConfig::truncate>(
        {.name = "truncate", .doc = "what a TRUNCATE of a configured table does"}),
    field<&InvalidatorConfig::status_interval_ms>(
        {.name = "status_interval_ms",
         .min = 10,
         .max = 600000,
         .doc = "standby status updates to the walsender"}),
    field<&InvalidatorConfig::shutdown_timeout_ms>(
        {.name = "shutdown_timeout_ms",
         .min = 0,
         .max = 600000,
         .doc = "how long the last batch may wait after SIGTERM"}),
};

}  // namespace

InvalidatorConfig parse_invalidator_config(JsonObject& s, const std::string& datacenter) {
  InvalidatorConfig c;
  read_fields(kInvalidatorFields, s, c);
  s.finish();
  for (auto& source : c.sources) {
    if (source.slot.empty())
      source.slot = "mcinval_" + datacenter + (source.name.empty() ? "" : "_" + source.name);
  }
  return c;
}

std::vector<FieldDoc> invalidator_field_docs() { return docs_of(kInvalidatorFields); }

}  // namespace mccache::config
