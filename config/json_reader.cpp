// Typed, path-aware JSON reading with errors an operator can act on.
#include "config/json_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace mccache::config {
namespace {

bool is_identifier(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty() || port.empty()) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
    return std::nullopt;
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

std::string join_path(std::string_view parent, std::string_view name) {
  std::string field = is_identifier(name) ? std::string(name) : "\"" + std::string(name) + "\"";
  if (parent.empty()) return field;
  return std::string(parent) + "." + field;
}

std::string index_path(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

const char* json_type_name(const rapidjson::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "a boolean";
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string";
  if (v.IsArray()) return "an array";
  return "an object";
}

JsonObject::JsonObject(const rapidjson::Value& value, std::string path, const std::string& file)
    : value_(value), path_(std::move(path)), file_(file) {
  if (!value_.IsObject()) {
    throw ConfigError(file_ + ": " + (path_.empty() ? std::string("top level") : path_) +
                      ": expected an object, found " + json_type_name(value_));
  }
}

std::string JsonObject::field_path(std::string_view name) const { return join_path(path_, name); }

void JsonObject::fail(std::string_view name, std::string_view problem) const {
  std::string where = name.empty() ? (path_.empty() ? "top level" : path_) : field_path(name);
  throw ConfigError(file_ + ": " + where + ": " + std::string(problem));
}

void JsonObject::fail_at(const std::string& path, std::string_view problem) const {
  throw ConfigError(file_ + ": " + path + ": " + std::string(problem));
}

const rapidjson::Value* JsonObject::find(std::string_view name) {
  seen_.emplace(name);
  auto it = value_.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  if (it == value_.MemberEnd()) return nullptr;
  return &it->value;
}

bool JsonObject::has(std::string_view name) const {
  return value_.HasMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
}

const rapidjson::Value* JsonObject::raw(std::string_view name) { return find(name); }

std::string JsonObject::string(std::string_view name, std::string fallback) {
  const auto* v = find(name);
  if (v == nullptr) return fallback;
  if (!v->IsString()) fail(name, std::string("expected a string, found ") + json_type_name(*v));
  return std::string(v->GetString(), v->GetStringLength());
}

std::string JsonObject::required_string(std::string_view name) {
  if (!has(name)) fail(name, "is required (a string); add it");
  auto s = string(name, "");
  if (s.empty()) fail(name, "must not be empty");
  return s;
}

size_t JsonObject::choice(std::string_view name, size_t fallback,
                          std::span<const std::string_view> names) {
  const auto* v = find(name);
  if (v == nullptr) return fallback;
  auto s = string(name, "");
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == s) return i;
  std::string list;
  for (auto n : names) list += (list.empty() ? "\"" : ", \"") + std::string(n) + "\"";
  fail(name, "\"" + s + "\" is not one of " + list);
}

int64_t JsonObject::integer(std::string_view name, int64_t fallback, int64_t min, int64_t max) {
  const auto* v = find(name);
  if (v == nullptr) return fallback;
  if (!v->IsInt64()) fail(name, std::string("expected an integer, found ") + json_type_name(*v));
  int64_t n = v->GetInt64();
  if (n < min || n > max)
    fail(name, std::to_string(n) + " is out of range; use " + std::to_string(min) + ".." +
                   std::to_string(max));
  return n;
}

bool JsonObject::boolean(std::string_view name, bool fallback) {
  const auto* v = find(name);
  if (v == nullptr) return fallback;
  if (!v->IsBool()) fail(name, std::string("expected true or false, found ") + json_type_name(*v));
  return v->GetBool();
}

std::vector<std::string> JsonObject::string_list(std::string_view name,
                                                 std::vector<std::string> fallback) {
  const auto* v = find(name);
  if (v == nullptr) return fallback;
  if (!v->IsArray())
    fail(name, std::string("expected an array of strings, found ") + json_type_name(*v));
  std::vector<std::string> out;
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
    const auto& item = (*v)[i];
    if (!item.IsString())
      fail_at(index_path(field_path(name), i),
              std::string("expected a string, found ") + json_type_name(item));
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return out;
}

std::optional<JsonObject> JsonObject::object(std::string_view name) {
  const auto* v = find(name);
  if (v == nullptr) return std::nullopt;
  if (!v->IsObject()) fail(name, std::string("expected an object, found ") + json_type_name(*v));
  return JsonObject(*v, field_path(name), file_);
}

JsonObject JsonObject::required_object(std::string_view name) {
  auto o = object(name);
  if (!o) fail(name, "is required (an object); add it");
  return std::move(*o);
}

void JsonObject::finish() const {
  for (auto it = value_.MemberBegin(); it != value_.MemberEnd(); ++it) {
    std::string_view name(it->name.GetString(), it->name.GetStringLength());
    if (seen_.count(name)) continue;
    std::string problem = "unknown field";
    std::string_view best;
    size_t best_distance = 3;  // only suggest near misses
    for (const auto& known : seen_) {
      size_t d = edit_distance(name, known);
      if (d < best_distance) best_distance = d, best = known;
    }
    if (!best.empty()) {
      problem += "; did you mean \"" + std::string(best) + "\"?";
    } else {
      problem += "; remove it (see docs/config.md for the fields of " +
                 (path_.empty() ? std::string("the top level") : path_) + ")";
    }
    fail(name, problem);
  }
}

}  // namespace mccache::config
