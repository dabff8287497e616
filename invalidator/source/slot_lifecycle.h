// The replication slot's life as one source's loop sees it: checked at start-up against the
// state file, streamed from, found held by another invalidator (this one is then the standby),
// lost (dropped or invalidated), and after a loss, under on_slot_lost "flush_region", replaced.
// A lost slot is never replaced silently: every change it dropped is unknown (docs/operations.md).
#pragma once

#include <string>

#include "config/invalidator_config.h"
#include "invalidator/error.h"
#include "invalidator/metrics.h"
#include "invalidator/replication/catalog.h"
#include "invalidator/replication/stream.h"

namespace mccache::invalidator::source {

// Start-up: why the slot counts as lost, or "" when it is usable (then it exists: created when
// missing and allowed, and recorded in state_file). Throws on catalog errors.
std::string check_slot_at_start(replication::Catalog& catalog, const config::SourceConfig& src);

class SlotLifecycle {
 public:
  // `src` is the loop's own copy: on_slot_lost may change with a reload.
  SlotLifecycle(const config::SourceConfig& src, std::string who, Metrics& metrics)
      : src_(src), who_(std::move(who)), metrics_(metrics) {}

  enum class Connected { kStreaming, kStandby, kLost, kFailed };
  // Starts `stream`; logs a standby once per other consumer and a failure each time.
  Connected connect(replication::ReplicationStream& stream);
  // Enters the lost state, saying once what is unknown now and what the policy does. True the
  // first time (the caller then forgets what it read).
  bool lose(const std::string& why, pgoutput::Lsn confirmed);
  bool lost() const { return lost_; }
  // on_slot_lost "flush_region": drops the invalidated slot or creates the missing one, records it
  // in state_file, and returns the insert position read after that: every change the new slot
  // will not stream is below it. The caller flushes the region once the replica has it.
  Result<pgoutput::Lsn> replace();
  bool recovers() const { return src_.on_slot_lost == "flush_region"; }
  void replaced();

 private:
  const config::SourceConfig& src_;
  std::string who_;
  Metrics& metrics_;
  bool lost_ = false;
  std::string why_lost_;  // the reason connect() last found, to log it once
  int standby_pid_ = 0;   // the other consumer we last saw holding the slot
};

}  // namespace mccache::invalidator::source
