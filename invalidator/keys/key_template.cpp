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

TableKeys::TableKeys(std::vector<KeyTemplate> templates)
    : templates_(std::move(templates)), bindings_(templates_.size()) {}

TableKeys::BindReport TableKeys::bind(const pgoutput::Relation& rel) {
  BindReport report;
  for (size_t t = 0; t < templates_.size(); ++t) {
    Binding b{true, false};
    for (auto& s : templates_[t].segments()) {
      if (!s.is_column) continue;
      s.column_index = -1;
      for (size_t i = 0; i < rel.columns.size(); ++i)
        if (rel.columns[i].name == s.text) s.column_index = static_cast<int>(i);
      if (s.column_index < 0) {
        b.usable = false;
        report.missing_columns.push_back({templates_[t].text(), s.text});
      } else if (!rel.columns[static_cast<size_t>(s.column_index)].part_of_key &&
                 !b.needs_full_old_row) {
        // pgoutput flags every column under FULL, so this is DEFAULT, INDEX or NOTHING.
        b.needs_full_old_row = true;
        report.outside_identity.push_back({templates_[t].text(), s.text});
      }
    }
    bindings_[t] = b;
  }
  return report;
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

}  // namespace

bool TableKeys::keys_for(const RowChange& change, UniqueKeys& out, KeyStats& stats) const {
  bool complete = true;
  std::string key;
  auto add = [&](const KeyTemplate& t, const pgoutput::Tuple& row,
                 const pgoutput::Tuple* fallback) {
    switch (build_key(t, row, fallback, key)) {
      case Built::kKey: out.add(key); break;
      case Built::kNull: ++stats.null_column; break;
      case Built::kToast: ++stats.unchanged_toast; break;
      case Built::kInvalid: ++stats.invalid_key; break;
    }
  };
  for (size_t i = 0; i < templates_.size(); ++i) {
    const auto& t = templates_[i];
    if (!bindings_[i].usable) {
      complete = false;
      continue;
    }
    if (change.new_row != nullptr) add(t, *change.new_row, change.old_row);
    if (change.kind == RowChange::kInsert) continue;
    // The old key. A full old row ('O') always names it. Otherwise only identity columns are
    // known: from a 'K' image, or from the new row when an UPDATE sends no old image (then the
    // identity did not change). A template using other columns cannot name its old key, and
    // keeping quiet would leave that key cached.
    if (change.old_kind != 'O' && bindings_[i].needs_full_old_row) {
      complete = false;
      continue;
    }
    if (change.old_row != nullptr) add(t, *change.old_row, nullptr);
  }
  return complete;
}

void split_explicit_keys(std::string_view content, UniqueKeys& out, KeyStats& stats) {
  size_t i = 0;
  auto space = [&](size_t at) {
    return content[at] == ' ' || content[at] == '\n' || content[at] == '\t' || content[at] == '\r';
  };
  while (i < content.size()) {
    while (i < content.size() && space(i)) ++i;
    size_t start = i;
    while (i < content.size() && !space(i)) ++i;
    if (i == start) break;
    auto key = content.substr(start, i - start);
    if (!is_valid_memcached_key(key)) {
      ++stats.invalid_key;
      continue;
    }
    out.add(key);
  }
}

namespace {

std::string identity_name(char replica_identity, bool has_key_columns) {
  switch (replica_identity) {
    case 'd': return has_key_columns ? "DEFAULT (primary key)" : "DEFAULT without a primary key";
    case 'i': return "USING INDEX";
    case 'n': return "NOTHING";
    case 'f': return "FULL";
    default: return std::string("'") + replica_identity + "'";
  }
}

// The first column of `tmpl` that `identity` does not log on DELETE, if any.
std::optional<std::string> column_outside(const KeyTemplate& tmpl, char identity,
                                          const std::vector<std::string>& identity_columns) {
  if (identity == 'f') return std::nullopt;
  for (const auto& col : tmpl.columns())
    if (std::find(identity_columns.begin(), identity_columns.end(), col) == identity_columns.end())
      return col;
  return std::nullopt;
}

}  // namespace

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
  const std::string head = where + ": template \"" + tmpl.text() + "\": column \"";
  if (!id.partitioned) {
    if (auto col = column_outside(tmpl, id.replica_identity, id.identity_columns))
      return head + *col + "\" is not in the replica identity of " + table + " (REPLICA IDENTITY " +
             identity_name(id.replica_identity, !id.identity_columns.empty()) +
             "), so a DELETE cannot supply it; run ALTER TABLE " + table +
             " REPLICA IDENTITY FULL or drop the template";
    return std::nullopt;
  }
  for (const auto& p : id.partitions) {
    if (auto col = column_outside(tmpl, p.replica_identity, p.identity_columns))
      return head + *col + "\" is not in the replica identity of partition " + p.name + " of " +
             table + " (REPLICA IDENTITY " +
             identity_name(p.replica_identity, !p.identity_columns.empty()) +
             "), so a DELETE cannot supply it; each partition has its own replica identity "
             "(ALTER TABLE on the parent does not reach it): run ALTER TABLE " + p.name +
             " REPLICA IDENTITY FULL or drop the template";
  }
  return std::nullopt;
}

}  // namespace mccache::invalidator::keys
