// The replication slot's life as one source's loop sees it: checked at start-up against the
// state file, streamed from, found held by another invalidator (this one is then the standby),
// lost (dropped, invalidated, or replaced by a slot that starts after the position this
// invalidator last confirmed), and after a loss, under on_slot_lost "flush_region", replaced.
// A lost slot is never streamed from silently: every change it dropped is unknown
// (docs/operations.md, "Slot loss").
#pragma once

#include <string>

#include "config/invalidator_config.h"
#include "invalidator/error.h"
#include "invalidator/metrics.h"
#include "invalidator/replication/catalog.h"
#include "invalidator/replication/slot_record.h"
#include "invalidator/replication/stream.h"

namespace mccache::invalidator::source {

// The state file of `src`: source.state_file (relative: to the state directory), or by default
// <state dir>/<slot>.state (<name>-<slot>.state for a named source). The state directory is
// invalidator.state_dir, else $STATE_DIRECTORY (systemd's StateDirectory=), else /var/lib/mccache.
std::string state_file_path(const config::InvalidatorConfig& inv, const config::SourceConfig& src);

// What start-up found out about the slot.
struct SlotAtStart {
  std::string lost;  // why the slot counts as lost; empty when it may be streamed from
  replication::SlotRecord record;  // its state (the file's, or new), without a position if none
  // How far the slot's position is vouched for when streaming begins: kFresh, it was created
  // just now (or recorded by an older version without a position); kRecorded, record.confirmed
  // bounds it; kUnknown, the slot existed and no state file records it.
  enum Trust { kFresh, kRecorded, kUnknown } trust = kUnknown;
};

// Start-up: the slot against the state file; creates the slot when missing and allowed (and
// records it). Throws on catalog or state file errors.
SlotAtStart check_slot_at_start(replication::Catalog& catalog, const config::SourceConfig& src);

class SlotLifecycle {
 public:
  // `src` is the loop's own copy: on_slot_lost may change with a reload.
  SlotLifecycle(const config::SourceConfig& src, SlotAtStart at_start, std::string who,
                Metrics& metrics);

  enum class Connected { kStreaming, kStandby, kLost, kFailed };
  // Starts `stream`. A standby records how far the active invalidator has confirmed; streaming
  // begins only from a slot that starts at or below the recorded position (or that this process
  // watched another invalidator stream from until now), else the slot counts as lost.
  Connected connect(replication::ReplicationStream& stream);
  // Before the walsender hears of `confirmed`: the state file must not be behind it, or a
  // restart would take our own progress for a replaced slot. An Error: do not send it.
  Status record_confirmed(pgoutput::Lsn confirmed);
  // Enters the lost state, saying once what is unknown now and what the policy does. True the
  // first time (the caller then forgets what it read). An empty `why`: what connect() found.
  bool lose(const std::string& why, pgoutput::Lsn confirmed);
  bool lost() const { return lost_; }
  // on_slot_lost "flush_region": drops the invalidated slot or creates the missing one, records it
  // in state_file, and returns the insert position read after that: every change the new slot
  // will not stream is below it. The caller flushes the region once the replica has it.
  Result<pgoutput::Lsn> replace();
  bool recovers() const { return src_.on_slot_lost == config::SlotLostPolicy::kFlushRegion; }
  void replaced();

 private:
  // Where streaming may begin, or why it may not.
  std::string check_start(pgoutput::Lsn slot_confirmed) const;
  Status write(pgoutput::Lsn confirmed);

  const config::SourceConfig& src_;
  replication::SlotRecord record_;
  SlotAtStart::Trust trust_;
  std::string who_;
  Metrics& metrics_;
  bool lost_ = false;
  bool watched_ = false;  // the last attempt found another invalidator streaming from the slot
  std::string why_lost_;  // the reason connect() last found, to log it once
  int standby_pid_ = 0;   // the other consumer we last saw holding the slot
};

}  // namespace mccache::invalidator::source
