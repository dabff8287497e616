// Key templates such as "user_by_name:{username}": compiled once, bound to a relation's column
// layout, then turned into cache keys from a changed row's old and new values. Pure code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "invalidator/keys/unique_keys.h"
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
  // Row changes with a key no template could name after a schema change (a lost column, a
  // weaker replica identity): each is flushed, halted or ignored under the truncate policy.
  uint64_t unnamed_changes = 0;
};

// memcached's rule for text-protocol keys: 1..250 bytes, no spaces or control characters.
bool is_valid_memcached_key(std::string_view key);

// One row change as pgoutput sends it: `new_row` for INSERT/UPDATE, `old_row` for DELETE and for
// an UPDATE that carries an old image; `old_kind` is that image's tag: 'O' the full old row
// (REPLICA IDENTITY FULL), 'K' only the identity key columns (the others NULL), 0 none.
struct RowChange {
  enum Kind { kInsert, kUpdate, kDelete } kind = kInsert;
  const pgoutput::Tuple* new_row = nullptr;
  const pgoutput::Tuple* old_row = nullptr;
  char old_kind = 0;
};

// The templates of one table, bound to the latest Relation message of a relation holding its rows.
class TableKeys {
 public:
  explicit TableKeys(std::vector<KeyTemplate> templates);

  // A template and the column that keeps it from naming some key.
  struct Gap {
    std::string tmpl;
    std::string column;
  };
  struct BindReport {
    std::vector<Gap> missing_columns;   // the relation has no such column: no key at all
    std::vector<Gap> outside_identity;  // not logged in a 'K' old image: old keys need 'O'
  };
  // Resolves column names to positions in `rel`, by name (partitions may order them otherwise).
  BindReport bind(const pgoutput::Relation& rel);

  // Appends the keys of one row change (deduplicated). Unchanged TOAST values in the new row are
  // taken from the old row when it carries them. False when some key could not be named: a
  // template lost its column, or an UPDATE/DELETE's old key needs columns its old image lacks.
  bool keys_for(const RowChange& change, UniqueKeys& out, KeyStats& stats) const;

  const std::vector<KeyTemplate>& templates() const { return templates_; }

 private:
  struct Binding {
    bool usable = false;              // every column found
    bool needs_full_old_row = false;  // uses a column outside the replica identity key
  };
  std::vector<KeyTemplate> templates_;
  std::vector<Binding> bindings_;
};

// Space-separated keys of an explicit-invalidation logical message.
void split_explicit_keys(std::string_view content, UniqueKeys& out, KeyStats& stats);

// What the start-up check learns from the catalog about one table.
struct TableIdentity {
  bool exists = false;
  uint32_t oid = 0;
  char replica_identity = 'd';  // pg_class.relreplident
  std::vector<std::string> columns;           // all live columns
  std::vector<std::string> identity_columns;  // columns of the PK / identity index; empty if none
  // A partitioned table stores its rows in its leaf partitions, and each logs them with its own
  // replica identity (ALTER TABLE ... REPLICA IDENTITY on the parent does not reach them).
  bool partitioned = false;
  struct Partition {
    std::string name;  // "schema.name"
    char replica_identity = 'd';
    std::vector<std::string> identity_columns;
  };
  std::vector<Partition> partitions;  // leaf partitions, when partitioned
};

// Start-up check: can the replica identity (of every leaf partition, for a partitioned table)
// supply every column of `tmpl` on DELETE? Returns the problem and its fix, or nullopt. `where`
// is the config location, e.g. `dc1.json: invalidator.tables."public.users"[1]`.
std::optional<std::string> check_replica_identity(const std::string& where,
                                                  const std::string& table,
                                                  const KeyTemplate& tmpl,
                                                  const TableIdentity& identity);

}  // namespace mccache::invalidator::keys
