// Start-up work on a plain SQL connection to the primary: the replica identity of each configured
// table, and the publication and slot (created when missing and allowed). Throws std::runtime_error
// with a message naming the fix; the daemon prints it and exits 1.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "invalidator/keys/key_template.h"
#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::replication {

// The source database could not be reached (as opposed to refusing what we asked).
struct ConnectError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

// SQL for "the publication named by `publication` streams the changes of relation `oid`": it is
// ALL TABLES, or lists the relation or an ancestor of it, or the schema of one of them. Both
// arguments are SQL expressions (e.g. "$1", "c.oid").
std::string publication_streams_sql(const std::string& oid, const std::string& publication);
// SQL for the set (column relid) of relation `oid` and its partition ancestors:
// pg_partition_ancestors() alone returns nothing for a table that is not a partition.
std::string self_and_ancestors_sql(const std::string& oid);

class Catalog {
 public:
  explicit Catalog(const std::string& dsn);
  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  keys::TableIdentity table_identity(const std::string& schema_table);
  // CREATE PUBLICATION ... FOR TABLE ..., or ALTER ... ADD TABLE for tables it does not stream
  // (directly, through a parent, its schema or ALL TABLES). Partitions are published as
  // themselves (publish_via_partition_root = false): only then does PostgreSQL stream a TRUNCATE
  // of one partition and each partition's own replica identity. An existing publication that
  // publishes via the root is altered when `create`, else refused.
  void ensure_publication(const std::string& name, const std::vector<std::string>& tables,
                          bool create);
  void add_to_publication(const std::string& publication, const std::string& schema_table);
  void ensure_slot(const std::string& slot, bool create);

  struct SlotStatus {
    bool exists = false;
    bool lost = false;  // wal_status 'lost': invalidated, can no longer stream
  };
  SlotStatus slot_status(const std::string& slot);
  // pg_control_system().system_identifier: tells this cluster (and its physical replicas) apart
  // from any other.
  std::string system_identifier();
  // After slot loss (on_slot_lost "flush_region"): drops `slot` if it is invalidated, creates it
  // if missing (another invalidator may already have), and returns pg_current_wal_insert_lsn()
  // read after that: every change the new slot will not stream is below it.
  pgoutput::Lsn replace_lost_slot(const std::string& slot);

  // One statement with text parameters; throws std::runtime_error with the server's message.
  Result query(const std::string& sql, const std::vector<std::string>& params = {});
  // "schema.table" as a quoted, qualified identifier.
  std::string quoted(const std::string& schema_table);

 private:
  PGresult* exec(const std::string& sql, const std::vector<std::string>& params = {});
  PGconn* conn_ = nullptr;
};

}  // namespace mccache::invalidator::replication
