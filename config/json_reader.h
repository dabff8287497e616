// Typed, path-aware reading of a parsed JSON config: every error names the file, the JSON path,
// what was wrong and how to fix it. Parse once here; components only ever see typed structs.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mccache::config {

// Thrown only at start-up (load, --check-config, reload); main prints what() as one line.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string str() const { return host + ":" + std::to_string(port); }
  bool operator==(const HostPort&) const = default;
};

// Parses "host:port" or "[v6]:port"; nullopt when malformed.
std::optional<HostPort> parse_host_port(std::string_view text);

// One JSON object under a known path. Each getter marks its field as known; finish() then rejects
// every field nobody asked for, so a typo never silently falls back to a default.
class JsonObject {
 public:
  JsonObject(const rapidjson::Value& value, std::string path, const std::string& file);

  bool has(std::string_view name) const;
  std::string string(std::string_view name, std::string fallback);
  std::string required_string(std::string_view name);
  // The index of the name given among `names` (or `fallback` when absent); the error lists them.
  size_t choice(std::string_view name, size_t fallback, std::span<const std::string_view> names);
  int64_t integer(std::string_view name, int64_t fallback, int64_t min, int64_t max);
  bool boolean(std::string_view name, bool fallback);
  std::vector<std::string> string_list(std::string_view name, std::vector<std::string> fallback);
  std::optional<JsonObject> object(std::string_view name);
  JsonObject required_object(std::string_view name);
  // Raw access for maps whose keys are data (e.g. table names); marks the field as known.
  const rapidjson::Value* raw(std::string_view name);

  [[noreturn]] void fail(std::string_view name, std::string_view problem) const;
  // For a path below this object, such as an array item: index_path(field_path("servers"), 1).
  [[noreturn]] void fail_at(const std::string& path, std::string_view problem) const;
  void finish() const;

  std::string field_path(std::string_view name) const;
  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }

 private:
  const rapidjson::Value* find(std::string_view name);
  const rapidjson::Value& value_;
  std::string path_;
  const std::string& file_;
  std::set<std::string, std::less<>> seen_;
};

// "a.b", a."public.users", a[3]: quote a name that is not a plain identifier.
std::string join_path(std::string_view parent, std::string_view name);
std::string index_path(std::string_view parent, size_t index);
const char* json_type_name(const rapidjson::Value& v);

}  // namespace mccache::config
