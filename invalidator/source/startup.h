// Start-up of one source, also run again by a reload: the templates compiled and checked against
// each table's replica identity, the publication, and (start-up only) the slot. Throws with a
// message naming the file, the field and the fix; the caller logs it.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "invalidator/keys/transaction_keys.h"
#include "invalidator/replication/catalog.h"
#include "invalidator/source/slot_lifecycle.h"

namespace mccache::invalidator::source {

// "source <name>: " in front of a source's log lines when there are several; "" for one.
inline std::string log_prefix(const config::SourceConfig& src) {
  return src.name.empty() ? "" : "source " + src.name + ": ";
}

// The pool's servers, then the gutter's: the order of the deliverer's connections and metrics.
std::vector<config::HostPort> every_server(const config::PoolConfig& pool);

// The templates of `config`, compiled and checked against the replica identity of their tables,
// and the source's publication made to cover those tables (docs/invalidator.md, "Start-up").
keys::TransactionKeysOptions prepare_tables(const config::DatacenterConfig& config,
                                            const config::SourceConfig& src,
                                            replication::Catalog& catalog);

struct PreparedSource {
  keys::TransactionKeysOptions options;
  SlotAtStart slot;  // slot.lost: why the slot counts as lost; empty when it is usable
};

// prepare_tables, then the slot (slot_lifecycle.h). Throws replication::ConnectError when the
// primary cannot be reached, so the caller can retry.
PreparedSource prepare_source(const config::DatacenterConfig& config,
                              const config::SourceConfig& src);

}  // namespace mccache::invalidator::source
