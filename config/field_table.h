// One row per config field, in the manner of pgbouncer's bouncer_params[]: the JSON name, its type
// and bounds, where the value goes (the member's initial value is the default) and one line of
// doc. A section is parsed by walking its table, and docs/config.md's tables are checked against
// the same rows (tests/config/config_docs_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "config/choices.h"
#include "config/json_reader.h"

namespace mccache::config {

// What a field's JSON value must be: decides the check, the error text and the docs' type column.
enum class Type {
  kFromMember,  // whatever the member's C++ type says (a std::string member: kString)
  kInteger,
  kBool,
  kString,
  kName,  // a string of lower-case letters, digits and '_': it names a Postgres object or a label
  kPath,
  kDsn,
  kPemFile,  // a path that must be readable now rather than fail at first use
  kEndpoint,
  kOptionalEndpoint,  // absent, null or "": off
  kServers,           // an array of "host:port", each once
  kChoice,
  kObject,  // a nested object with a table of its own
  kCustom,  // read by hand-written code; type_text and default_text describe it
};

struct FieldInfo {
  std::string_view name = {};
  Type type = Type::kFromMember;
  int64_t min = 0;  // kInteger bounds, inclusive
  int64_t max = 0;
  bool required = false;               // must be present; a string must not be empty either
  bool not_empty = false;              // a string that may be absent but is never ""
  bool nullable = false;               // a kObject for which null means absent
  std::string_view hint = {};          // an example host:port, or why a name is restricted
  std::string_view type_text = {};     // kCustom: the docs' type column
  std::string_view default_text = {};  // the docs' default when the member's initial value cannot
                                       // say it (derived from other fields, or a kCustom field)
  std::string_view doc = {};           // one line
  std::span<const std::string_view> choices = {};  // kChoice: filled from the enum's names
};

// One row of a field table in docs/config.md.
struct FieldDoc {
  std::string name;           // JSON path inside the section, e.g. "backend.connect_timeout_ms"
  std::string type;           // e.g. "1..600000", "bool", "`hold` `skip`"
  std::string default_value;  // "" for a required field
  std::string_view doc;
};

template <class S>
struct Field {
  FieldInfo info;
  void (*read)(const FieldInfo&, JsonObject&, S&);  // leaves the member alone when absent
  std::string (*default_shown)(const FieldInfo&) = nullptr;
  std::vector<FieldDoc> (*nested_docs)(std::string_view prefix) = nullptr;  // kObject's rows
};

// The readers behind the rows; each fails with the file, the JSON path and the fix.
int read_value(const FieldInfo& f, JsonObject& o, int current);
int64_t read_value(const FieldInfo& f, JsonObject& o, int64_t current);
bool read_value(const FieldInfo& f, JsonObject& o, bool current);
std::string read_value(const FieldInfo& f, JsonObject& o, std::string current);
HostPort read_value(const FieldInfo& f, JsonObject& o, HostPort current);
std::optional<HostPort> read_value(const FieldInfo& f, JsonObject& o,
                                   std::optional<HostPort> current);
std::vector<HostPort> read_value(const FieldInfo& f, JsonObject& o, std::vector<HostPort> current);
size_t read_choice(const FieldInfo& f, JsonObject& o, size_t current);
// The object of a kObject row; nullopt when absent (or null and nullable).
std::optional<JsonObject> read_object(const FieldInfo& f, JsonObject& o);

// A default as the docs show it.
std::string show_value(const FieldInfo& f, int64_t value);
std::string show_value(const FieldInfo& f, int value);
std::string show_value(const FieldInfo& f, bool value);
std::string show_value(const FieldInfo& f, const std::string& value);
std::string show_value(const FieldInfo& f, const HostPort& value);
std::string show_value(const FieldInfo& f, const std::optional<HostPort>& value);
std::string show_value(const FieldInfo& f, const std::vector<HostPort>& value);
std::string show_choice(const FieldInfo& f, size_t value);
std::string type_text(const FieldInfo& f);

template <class S, size_t N>
void read_fields(const Field<S> (&rows)[N], JsonObject& o, S& into) {
  for (const auto& row : rows) row.read(row.info, o, into);
}

template <class S, size_t N>
std::vector<FieldDoc> docs_of(const Field<S> (&rows)[N], std::string_view prefix = "") {
  std::vector<FieldDoc> out;
  for (const auto& row : rows) {
    std::string name = std::string(prefix) + std::string(row.info.name);
    if (row.nested_docs != nullptr) {
      auto nested = row.nested_docs(name + ".");
      out.insert(out.end(), nested.begin(), nested.end());
      continue;
    }
    std::string shown = !row.info.default_text.empty() || row.default_shown == nullptr
                            ? std::string(row.info.default_text)
                            : row.default_shown(row.info);
    out.push_back({std::move(name), type_text(row.info), std::move(shown), row.info.doc});
  }
  return out;
}

namespace detail {

template <auto M>
struct Member;
template <class S, class T, T S::*M>
struct Member<M> {
  using Struct = S;
  using Value = T;
};
template <auto M>
using StructOf = typename Member<M>::Struct;

template <class T>
constexpr Type type_of() {
  if constexpr (std::is_enum_v<T>) return Type::kChoice;
  if constexpr (std::is_same_v<T, bool>) return Type::kBool;
  if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) return Type::kInteger;
  if constexpr (std::is_same_v<T, HostPort>) return Type::kEndpoint;
  if constexpr (std::is_same_v<T, std::optional<HostPort>>) return Type::kOptionalEndpoint;
  if constexpr (std::is_same_v<T, std::vector<HostPort>>) return Type::kServers;
  return Type::kString;
}

template <auto M>
void read_member(const FieldInfo& f, JsonObject& o, StructOf<M>& s) {
  using T = typename Member<M>::Value;
  if constexpr (std::is_enum_v<T>) {
    s.*M = static_cast<T>(read_choice(f, o, static_cast<size_t>(s.*M)));
  } else {
    s.*M = read_value(f, o, std::move(s.*M));
  }
}

template <auto M>
std::string show_member(const FieldInfo& f) {
  using T = typename Member<M>::Value;
  const StructOf<M> defaults{};
  if constexpr (std::is_enum_v<T>) {
    return show_choice(f, static_cast<size_t>(defaults.*M));
  } else {
    return show_value(f, defaults.*M);
  }
}

template <auto M, const auto& Rows, auto Check>
void read_nested(const FieldInfo& f, JsonObject& o, StructOf<M>& s) {
  auto object = read_object(f, o);
  if (!object) return;
  read_fields(Rows, *object, s.*M);
  object->finish();
  if constexpr (!std::is_null_pointer_v<decltype(Check)>) Check(*object, s.*M);
}

}  // namespace detail

// docs_of(Rows, prefix) as a plain function, for a row's nested_docs.
template <const auto& Rows>
std::vector<FieldDoc> table_docs(std::string_view prefix) {
  return docs_of(Rows, prefix);
}

// A row for member M (e.g. &LeaseConfig::lease_ttl_s); its type follows from the member's.
template <auto M>
constexpr Field<detail::StructOf<M>> field(FieldInfo info) {
  using T = typename detail::Member<M>::Value;
  if (info.type == Type::kFromMember) info.type = detail::type_of<T>();
  if constexpr (std::is_enum_v<T>) info.choices = names_of(T{});
  if constexpr (std::is_same_v<T, int>) {
    // Not a constant expression, so a table whose bounds do not fit an int does not compile.
    if (info.min < std::numeric_limits<int>::min() || info.max > std::numeric_limits<int>::max())
      throw "the bounds of an int field must fit an int";
  }
  return {info, &detail::read_member<M>, &detail::show_member<M>};
}

// A nested object read with its own table `Rows`; Check(object, value), when given, then checks
// rules that span several of its fields.
template <auto M, const auto& Rows, auto Check = nullptr>
constexpr Field<detail::StructOf<M>> object(FieldInfo info) {
  info.type = Type::kObject;
  return {info, &detail::read_nested<M, Rows, Check>, nullptr, &table_docs<Rows>};
}

// A field read by hand-written code (maps keyed by data, lists of objects, fields that depend on
// one another); `nested`, when given, lists its fields in the docs instead of the row itself.
template <class S>
constexpr Field<S> custom(FieldInfo info, void (*read)(const FieldInfo&, JsonObject&, S&),
                          std::vector<FieldDoc> (*nested)(std::string_view) = nullptr) {
  info.type = Type::kCustom;
  return {info, read, nullptr, nested};
}

}  // namespace mccache::config
