// The catalog's view of the cached tables at one check, and what changed between two checks that
// the replication stream never shows: a table dropped (its rows go without DELETEs), a partition
// detached or dropped, a partition attached with rows, a table missing from the publication.
// Pure code; the daemon's SchemaWatch reads the states.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "invalidator/keys/schema.h"

namespace mccache::invalidator::keys {

// A relation that stores rows of a cached table: the table itself, or one of its leaf partitions.
struct StorageState {
  std::string name;    // "schema.name" now
  bool empty = false;  // no data pages (pg_relation_size 0): created empty
};

// One table followed for a configured name, by OID: the table of that name, possibly renamed
// since, or a new table created under the name.
struct RootState {
  std::string name;  // "schema.name" now
  bool covered =
      false;  // the publication streams its changes (directly, via a parent, schema, all)
  std::map<uint32_t, StorageState> storage;  // by OID
};

struct TableState {
  std::map<uint32_t, RootState> roots;  // by OID
};
using CatalogState = std::map<std::string, TableState>;  // by configured "schema.table"

struct CatalogRules {
  std::string publication;
  bool create_publication = true;
  TruncatePolicy policy = TruncatePolicy::kFlushRegion;
};

struct CatalogChanges {
  std::vector<SchemaNotice> notices;
  // Rows came or went without a streamed change, so their keys are unknown: under flush_region
  // or halt, a schema marker applies the policy where it lands in the stream.
  std::vector<std::string> flush_reasons;
  // A table joined the publication: a transaction running across that moment may have written
  // unstreamed rows, so the flush is repeated once such transactions have ended.
  bool published_again = false;
  // Relations (their names now) the publication must list again (create_publication only).
  std::vector<std::string> to_publish;
};

CatalogChanges catalog_changes(const CatalogState& before, const CatalogState& now,
                               const CatalogRules& rules);

}  // namespace mccache::invalidator::keys
