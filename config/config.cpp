// Loads a datacenter's JSON config into typed structs.
#include "config/config.h"

#include <rapidjson/error/en.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mccache::config {
namespace {

std::string line_column(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

constexpr Field<LogConfig> kLogFields[] = {
    field<&LogConfig::level>({.name = "level", .doc = "log verbosity (spdlog, to stderr)"}),
};

void read_pool(const FieldInfo& f, JsonObject& top, DatacenterConfig& c) {
  auto pool = top.required_object(f.name);
  c.pool = parse_pool_config(pool);
}

void read_proxy(const FieldInfo& f, JsonObject& top, DatacenterConfig& c) {
  if (auto s = top.object(f.name)) c.mcproxy = parse_proxy_config(*s);
}

void read_invalidator(const FieldInfo& f, JsonObject& top, DatacenterConfig& c) {
  if (auto s = top.object(f.name)) c.invalidator = parse_invalidator_config(*s, c.datacenter);
}

// "datacenter" comes first: the invalidator's default slot names derive from it.
constexpr Field<DatacenterConfig> kTopFields[] = {
    field<&DatacenterConfig::datacenter>({.name = "datacenter",
                                          .type = Type::kName,
                                          .required = true,
                                          .hint = "it names the replication slot",
                                          .doc = "the region's name"}),
    object<&DatacenterConfig::log, kLogFields>({.name = "log"}),
    custom<DatacenterConfig>({.name = "pool",
                              .required = true,
                              .type_text = "object",
                              .doc = "the region's memcached servers"},
                             &read_pool),
    custom<DatacenterConfig>({.name = "mcproxy",
                              .type_text = "object",
                              .doc = "settings of mcproxy; required to run it"},
                             &read_proxy),
    custom<DatacenterConfig>({.name = "invalidator",
                              .type_text = "object",
                              .doc = "settings of the invalidator; required to run it"},
                             &read_invalidator),
};

}  // namespace

std::vector<SectionDocs> documented_fields() {
  return {{"Top level", docs_of(kTopFields)},
          {"`pool`", pool_field_docs()},
          {"`mcproxy`", proxy_field_docs()},
          {"`invalidator`", invalidator_field_docs()}};
}

DatacenterConfig parse_config(std::string_view json_text, const std::string& file_name, Role role) {
  rapidjson::Document doc;
  // Comments and trailing commas are allowed: operators annotate these files.
  constexpr unsigned kFlags = rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag;
  std::string text(json_text);  // RapidJSON wants a NUL-terminated buffer
  doc.Parse<kFlags>(text.c_str(), text.size());
  if (doc.HasParseError()) {
    throw ConfigError(file_name + ":" + line_column(text, doc.GetErrorOffset()) +
                      ": JSON syntax error: " + rapidjson::GetParseError_En(doc.GetParseError()));
  }

  DatacenterConfig c;
  c.file = file_name;
  JsonObject top(doc, "", c.file);
  read_fields(kTopFields, top, c);
  top.finish();

  if (role == Role::kProxy && !c.mcproxy)
    top.fail("mcproxy", "is required to run mcproxy; add an \"mcproxy\": {...} section");
  if (role == Role::kInvalidator && !c.invalidator)
    top.fail("invalidator",
             "is required to run the invalidator; add an \"invalidator\": {...} "
             "section with at least \"source\": {\"dsn\": ...}");
  return c;
}

DatacenterConfig load_config(const std::string& path, Role role) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read the config file: " + std::strerror(errno));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_config(buffer.str(), path, role);
}

}  // namespace mccache::config
