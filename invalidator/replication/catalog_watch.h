// Follows the catalog of the cached tables for what the replication stream never shows: a table
// dropped or re-created, a partition detached or attached holding rows, a table the publication
// lost. It checks every kInterval on its own SQL connection to the
// primary, adds what the publication lost back (create_publication), and turns rows that came or
// went unstreamed into a schema marker, so the truncate policy applies where the marker lands in
// the stream. It also places the relations the stream names (keys::SchemaView): a partition, a
// renamed table, a relation that left. Never throws: a failed check is retried at the next one.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "invalidator/keys/catalog_changes.h"
#include "invalidator/keys/schema.h"
#include "invalidator/replication/catalog.h"

namespace mccache::invalidator::replication {

class SchemaWatch : public keys::SchemaView {
 public:
  struct Options {
    std::string dsn;
    std::string publication;
    std::string slot;
    bool create_publication = true;
    keys::TruncatePolicy policy = keys::TruncatePolicy::kFlushRegion;
    std::vector<std::string> tables;  // configured "schema.table"
    // The OIDs the start-up check found: followed even if renamed before the first check.
    std::map<std::string, uint32_t> table_oids;
  };
  // Often enough that a re-created table is published again within about a second, rarely
  // enough to cost the primary nothing (three catalog queries).
  static constexpr std::chrono::milliseconds kInterval{1000};

  explicit SchemaWatch(Options options);
  // A reload: other tables or policy; what the catalog holds now becomes the baseline.
  void reset(Options options);
  // Checks the catalog when kInterval has passed since the last check; returns the changes seen
  // since (the daemon logs and counts each).
  std::vector<keys::SchemaNotice> tick(std::chrono::steady_clock::time_point now);

  Origin origin(const pgoutput::Relation& relation) override;
  const std::string& slot() const override { return options_.slot; }

 private:
  using Clock = std::chrono::steady_clock;
  bool connected();
  void check();  // throws on SQL errors
  keys::CatalogState read_state();
  // The configured table holding `oid` as a followed table or one of its partitions, if any.
  std::optional<Origin> followed(uint32_t oid) const;

  Options options_;
  std::unique_ptr<Catalog> catalog_;
  std::optional<keys::CatalogState> state_;  // the last check; none before the baseline
  bool lists_only_cached_ = false;           // the publication streams nothing but cached tables
  std::vector<keys::SchemaNotice> notices_;  // seen, not yet handed out by tick()
  std::vector<std::string> flush_reasons_;   // awaiting a schema marker
  uint64_t flush_after_xid_ = 0;  // ... written once every transaction below this xid ended
  Clock::time_point last_check_{};
  bool unreachable_ = false;
};

}  // namespace mccache::invalidator::replication
