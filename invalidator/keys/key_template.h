// Key templates such as "user_by_name:{username}": compiled once, bound to a relation's column
// layout, then turned into cache keys from a changed row's old and new values. Pure code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::keys {

class KeyTemplate {
 public:
  // Returns nullopt and sets `error` for an unusable template (the config loader checked syntax).
  static std::optional<KeyTemplate> compile(std::string_view text, std::string& error);

  const std::string& text() const { return text_; }
  // Column names in order of appearance, without repeats.
  std::vector<std::string> columns() const;

  struct Segment {
    bool is_column = false;
    std::string text;     // literal text or column name
    int column_index = -1;  // set by bind()
  };
  std::vector<Segment>& segments() { return segments_; }
  const std::vector<Segment>& segments() const { return segments_; }

 private:
  std::string text_;
  std::vector<Segment> segments_;
};

// Why a template produced no key for a row image; each one is counted by the daemon.
struct KeyStats {
  uint64_t null_column = 0;       // a column was NULL: no such key can exist
  uint64_t unchanged_toast = 0;   // new value was an unchanged TOAST pointer and no old value
  uint64_t invalid_key = 0;       // over 250 bytes or holds whitespace/control bytes
};

// memcached's rule for text-protocol keys: 1..250 bytes, no spaces or control characters.
bool is_valid_memcached_key(std::string_view key);

// The templates of one table, bound to the latest Relation message for it.
class TableKeys {
 public:
  explicit TableKeys(std::vector<KeyTemplate> templates) : templates_(std::move(templates)) {}

  // Resolves column names to positions; the error names the missing column.
  bool bind(const pgoutput::Relation& rel, std::string& error);

  // Appends (deduplicated against `out`) the keys of one row change. `new_row` is the INSERT/UPDATE
  // image, `old_row` the UPDATE/DELETE old image ('K' or 'O'); either may be null. Unchanged TOAST
  // values in the new row are taken from the old row when it carries them.
  void keys_for(const pgoutput::Tuple* new_row, const pgoutput::Tuple* old_row,
                std::vector<std::string>& out, KeyStats& stats) const;

  const std::vector<KeyTemplate>& templates() const { return templates_; }

 private:
  std::vector<KeyTemplate> templates_;
};

// Space-separated keys of an explicit-invalidation logical message.
void split_explicit_keys(std::string_view content, std::vector<std::string>& out, KeyStats& stats);

// What the start-up check learns from the catalog about one table.
struct TableIdentity {
  bool exists = false;
  char replica_identity = 'd';  // pg_class.relreplident
  std::vector<std::string> columns;           // all live columns
  std::vector<std::string> identity_columns;  // columns of the PK / identity index; empty if none
};

// Start-up check: can the replica identity supply every column of `tmpl` on DELETE? Returns the
// problem and its fix, or nullopt. `where` is the config location, e.g.
// `dc1.json: invalidator.tables."public.users"[1]`.
std::optional<std::string> check_replica_identity(const std::string& where,
                                                  const std::string& table,
                                                  const KeyTemplate& tmpl,
                                                  const TableIdentity& identity);

}  // namespace mccache::invalidator::keys
