// The readers and docs renderings behind every field table row.
#include "config/field_table.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace mccache::config {
namespace {

constexpr std::string_view kExampleServer = "127.0.0.1:11211";

std::string_view example_server(const FieldInfo& f) {
  return f.hint.empty() ? kExampleServer : f.hint;
}

std::string not_host_port(const FieldInfo& f, const std::string& text) {
  return "\"" + text + "\" is not host:port (e.g. \"" + std::string(example_server(f)) + "\")";
}

bool is_name(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

// 2^30 reads better than 1073741824 in a range.
std::string bound(int64_t n) {
  if (n >= (int64_t{1} << 30) && (n & (n - 1)) == 0) {
    int exponent = 0;
    while ((int64_t{1} << exponent) != n) ++exponent;
    return "2^" + std::to_string(exponent);
  }
  return std::to_string(n);
}

std::string quoted(std::string_view s) { return "`" + std::string(s) + "`"; }

// The docs' type column without ", required".
std::string type_name(const FieldInfo& f) {
  switch (f.type) {
    case Type::kInteger:
      return bound(f.min) + ".." + bound(f.max);
    case Type::kBool:
      return "bool";
    case Type::kName:
      return "string of `a-z` `0-9` `_`";
    case Type::kPath:
      return "path";
    case Type::kDsn:
      return "libpq DSN";
    case Type::kPemFile:
      return "PEM file";
    case Type::kEndpoint:
      return "`\"host:port\"`";
    case Type::kOptionalEndpoint:
      return "`\"host:port\"` or `null`";
    case Type::kServers:
      return "array of `\"host:port\"`";
    case Type::kObject:
      return "object";
    case Type::kCustom:
      return std::string(f.type_text);
    case Type::kChoice: {
      std::string names;
      for (auto name : f.choices) names += (names.empty() ? "" : " ") + quoted(name);
      return names;
    }
    case Type::kFromMember:
    case Type::kString:
      break;
  }
  return "string";
}

}  // namespace

int read_value(const FieldInfo& f, JsonObject& o, int current) {
  return static_cast<int>(o.integer(f.name, current, f.min, f.max));
}

int64_t read_value(const FieldInfo& f, JsonObject& o, int64_t current) {
  return o.integer(f.name, current, f.min, f.max);
}

bool read_value(const FieldInfo& f, JsonObject& o, bool current) {
  return o.boolean(f.name, current);
}

std::string read_value(const FieldInfo& f, JsonObject& o, std::string current) {
  if (!f.required && o.raw(f.name) == nullptr) return current;
  auto s = f.required ? o.required_string(f.name) : o.string(f.name, "");
  if (f.not_empty && s.empty()) o.fail(f.name, "must not be empty");
  if (f.type == Type::kName && !is_name(s)) {
    o.fail(f.name, "\"" + s + "\": use lower-case letters, digits and '_'" +
                       (f.hint.empty() ? "" : " (" + std::string(f.hint) + ")"));
  }
  if (f.type == Type::kPemFile && !s.empty() && !std::ifstream(s).good()) {
    o.fail(f.name,
           "\"" + s + "\" cannot be read (" + std::strerror(errno) + "); give a readable PEM file");
  }
  return s;
}

HostPort read_value(const FieldInfo& f, JsonObject& o, HostPort current) {
  if (o.raw(f.name) == nullptr) return current;
  auto text = o.string(f.name, "");
  auto hp = parse_host_port(text);
  if (!hp) o.fail(f.name, not_host_port(f, text));
  return *hp;
}

std::optional<HostPort> read_value(const FieldInfo& f, JsonObject& o,
                                   std::optional<HostPort> current) {
  const auto* v = o.raw(f.name);
  if (v == nullptr) return current;
  if (v->IsNull() || (v->IsString() && v->GetStringLength() == 0)) return std::nullopt;
  return read_value(f, o, HostPort{});
}

std::vector<HostPort> read_value(const FieldInfo& f, JsonObject& o, std::vector<HostPort> current) {
  if (!f.required && o.raw(f.name) == nullptr) return current;
  auto names = o.string_list(f.name, {});
  if (names.empty() && f.required) {
    o.fail(f.name, "needs at least one memcached server, e.g. [\"" +
                       std::string(example_server(f)) + "\"]");
  }
  std::vector<HostPort> out;
  for (size_t i = 0; i < names.size(); ++i) {
    auto hp = parse_host_port(names[i]);
    std::string where = index_path(o.field_path(f.name), i);
    if (!hp) o.fail_at(where, not_host_port(f, names[i]));
    if (std::find(out.begin(), out.end(), *hp) != out.end())
      o.fail_at(where, "\"" + names[i] + "\" is listed twice; list each server once");
    out.push_back(*hp);
  }
  return out;
}

size_t read_choice(const FieldInfo& f, JsonObject& o, size_t current) {
  return o.choice(f.name, current, f.choices);
}

std::optional<JsonObject> read_object(const FieldInfo& f, JsonObject& o) {
  const auto* v = o.raw(f.name);
  if (f.nullable && v != nullptr && v->IsNull()) return std::nullopt;
  auto object = o.object(f.name);
  if (!object && f.required) o.fail(f.name, "is required (an object); add it");
  return object;
}

std::string show_value(const FieldInfo&, int64_t value) { return std::to_string(value); }
std::string show_value(const FieldInfo&, int value) { return std::to_string(value); }
std::string show_value(const FieldInfo&, bool value) { return value ? "`true`" : "`false`"; }

std::string show_value(const FieldInfo& f, const std::string& value) {
  if (f.required) return "";
  return value.empty() ? "off" : quoted(value);
}

std::string show_value(const FieldInfo&, const HostPort& value) { return quoted(value.str()); }

std::string show_value(const FieldInfo& f, const std::optional<HostPort>& value) {
  return value ? show_value(f, *value) : "off";
}

std::string show_value(const FieldInfo& f, const std::vector<HostPort>& value) {
  if (f.required) return "";
  std::string out;
  for (const auto& hp : value)
    out += (out.empty() ? "" : ", ") + std::string("\"") + hp.str() + "\"";
  return quoted("[" + out + "]");
}

std::string show_choice(const FieldInfo& f, size_t value) { return quoted(f.choices[value]); }

std::string type_text(const FieldInfo& f) {
  std::string text = type_name(f);
  return f.required ? text + ", required" : text;
}

}  // namespace mccache::config
