// Loads a datacenter's JSON config into typed structs.
#include "config/config.h"

#include <rapidjson/error/en.h>

#include <cctype>
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

}  // namespace

DatacenterConfig parse_config(std::string_view json_text, const std::string& file_name,
                              Role role) {
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
  c.datacenter = top.required_string("datacenter");
  for (char ch : c.datacenter) {
    if (!(std::islower(static_cast<unsigned char>(ch)) ||
          std::isdigit(static_cast<unsigned char>(ch)) || ch == '_'))
      top.fail("datacenter", "\"" + c.datacenter +
                                 "\": use lower-case letters, digits and '_' (it names the "
                                 "replication slot)");
  }
  if (auto log = top.object("log")) {
    c.log.level = log->choice("level", c.log.level, {"trace", "debug", "info", "warn", "error"});
    log->finish();
  }
  auto pool = top.required_object("pool");
  c.pool = parse_pool_config(pool);
  if (auto s = top.object("mcproxy")) c.mcproxy = parse_proxy_config(*s);
  if (auto s = top.object("invalidator")) c.invalidator = parse_invalidator_config(*s, c.datacenter);
  top.finish();

  if (role == Role::kProxy && !c.mcproxy)
    top.fail("mcproxy", "is required to run mcproxy; add an \"mcproxy\": {...} section");
  if (role == Role::kInvalidator && !c.invalidator)
    top.fail("invalidator", "is required to run the invalidator; add an \"invalidator\": {...} "
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
