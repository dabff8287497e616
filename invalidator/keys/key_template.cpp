// Key templates → keys, and the replica identity check behind them.
#include "invalidator/keys/key_template.h"

#include <algorithm>

namespace mccache::invalidator::keys {

std::optional<KeyTemplate> KeyTemplate::compile(std::string_view text, std::string& error) {
  KeyTemplate t;
  t.text_ = std::string(text);
  size_t i = 0;
  bool has_column = false;
  while (i < text.size()) {
    auto open = text.find('{', i);
    auto lit_end = open == std::string_view::npos ? text.size() : open;
    auto close_stray = text.find('}', i);
    if (close_stray != std::string_view::npos && close_stray < lit_end) {
      error = "has a '}' without '{' at offset " + std::to_string(close_stray);
      return std::nullopt;
    }
    if (lit_end > i) t.segments_.push_back({false, std::string(text.substr(i, lit_end - i)), -1});
    if (open == std::string_view::npos) break;
    auto close = text.find('}', open);
    if (close == std::string_view::npos) {
      error = "has an unclosed '{' at offset " + std::to_string(open);
      return std::nullopt;
    }
    if (close == open + 1) {
      error = "has an empty {} at offset " + std::to_string(open);
      return std::nullopt;
    }
    t.segments_.push_back({true, std::string(text.substr(open + 1, close - open - 1)), -1});
    has_column = true;
    i = close + 1;
  }
  if (!has_column) {
    error = "names no column (write e.g. \"user:{id}\")";
    return std::nullopt;
  }
  return t;
}

std::vector<std::string> KeyTemplate::columns() const {
  std::vector<std::string> out;
  for (const auto& s : segments_)
    if (s.is_column && std::find(out.begin(), out.end(), s.text) == out.end()) out.push_back(s.text);
  return out;
}

bool is_valid_memcached_key(std::string_view key) {
  if (key.empty() || key.size() > 250) return false;
  for (unsigned char c : key)
    if (c <= ' ' || c == 0x7f) return false;
  return true;
}

bool TableKeys::bind(const pgoutput::Relation& rel, std::string& error) {
  for (auto& t : templates_) {
    for (auto& s : t.segments()) {
      if (!s.is_column) continue;
      s.column_index = -1;
      for (size_t i = 0; i < rel.columns.size(); ++i)
        if (rel.columns[i].name == s.text) s.column_index = static_cast<int>(i);
      if (s.column_index < 0) {
        error = "template \"" + t.text() + "\": table " + rel.schema + "." + rel.name +
                " has no column \"" + s.text + "\"";
        return false;
      }
    }
  }
  return true;
}

namespace {

enum class Built { kKey, kNull, kToast, kInvalid };

// `fallback` supplies values the primary image holds only as unchanged TOAST pointers.
Built build_key(const KeyTemplate& t, const pgoutput::Tuple& row, const pgoutput::Tuple* fallback,
                std::string& key) {
  key.clear();
  for (const auto& s : t.segments()) {
    if (!s.is_column) {
      key += s.text;
      continue;
    }
    auto idx = static_cast<size_t>(s.column_index);
    if (s.column_index < 0 || idx >= row.size()) return Built::kNull;
    const pgoutput::Value* v = &row[idx];
    if (v->kind == pgoutput::ValueKind::kUnchangedToast) {
      if (fallback == nullptr || idx >= fallback->size() ||
          (*fallback)[idx].kind != pgoutput::ValueKind::kText)
        return Built::kToast;
      v = &(*fallback)[idx];
    }
    if (v->kind == pgoutput::ValueKind::kNull) return Built::kNull;
    key += v->text;
  }
  return is_valid_memcached_key(key) ? Built::kKey : Built::kInvalid;
}

void add_unique(std::vector<std::string>& out, std::string& key) {
  if (std::find(out.begin(), out.end(), key) == out.end()) out.push_back(key);
}

}  // namespace

void TableKeys::keys_for(const pgoutput::Tuple* new_row, const pgoutput::Tuple* old_row,
                         std::vector<std::string>& out, KeyStats& stats) const {
  std::string key;
  for (const auto& t : templates_) {
    // A 'K' old image holds only identity columns (others 'n'); a template passing the start-up
    // check uses identity columns only, so its old key is always complete.
    for (const auto* row : {new_row, old_row}) {
      if (row == nullptr) continue;
      const auto* fallback = row == new_row ? old_row : nullptr;
      switch (build_key(t, *row, fallback, key)) {
        case Built::kKey: add_unique(out, key); break;
        case Built::kNull: ++stats.null_column; break;
        case Built::kToast: ++stats.unchanged_toast; break;
        case Built::kInvalid: ++stats.invalid_key; break;
      }
    }
  }
}

void split_explicit_keys(std::string_view content, std::vector<std::string>& out,
                         KeyStats& stats) {
  size_t i = 0;
  while (i < content.size()) {
    while (i < content.size() && (content[i] == ' ' || content[i] == '\n' || content[i] == '\t' ||
                                  content[i] == '\r'))
      ++i;
    size_t start = i;
    while (i < content.size() && content[i] != ' ' && content[i] != '\n' && content[i] != '\t' &&
           content[i] != '\r')
      ++i;
    if (i == start) break;
    std::string key(content.substr(start, i - start));
    if (!is_valid_memcached_key(key)) {
      ++stats.invalid_key;
      continue;
    }
    add_unique(out, key);
  }
}

std::optional<std::string> check_replica_identity(const std::string& where,
                                                  const std::string& table,
                                                  const KeyTemplate& tmpl,
                                                  const TableIdentity& id) {
  if (!id.exists)
    return where + ": table " + table +
           " does not exist in the source database; create it or drop its templates";
  for (const auto& col : tmpl.columns()) {
    if (std::find(id.columns.begin(), id.columns.end(), col) == id.columns.end())
      return where + ": template \"" + tmpl.text() + "\": table " + table + " has no column \"" +
             col + "\"; fix the column name or drop the template";
  }
  if (id.replica_identity == 'f') return std::nullopt;
  std::string ident;
  switch (id.replica_identity) {
    case 'd': ident = id.identity_columns.empty() ? "DEFAULT without a primary key" : "DEFAULT (primary key)"; break;
    case 'i': ident = "USING INDEX"; break;
    case 'n': ident = "NOTHING"; break;
    default: ident = std::string("'") + id.replica_identity + "'"; break;
  }
  for (const auto& col : tmpl.columns()) {
    if (std::find(id.identity_columns.begin(), id.identity_columns.end(), col) ==
        id.identity_columns.end())
      return where + ": template \"" + tmpl.text() + "\": column \"" + col +
             "\" is not in the replica identity of " + table + " (REPLICA IDENTITY " + ident +
             "), so a DELETE cannot supply it; run ALTER TABLE " + table +
             " REPLICA IDENTITY FULL or drop the template";
  }
  return std::nullopt;
}

}  // namespace mccache::invalidator::keys
