// What the loop tells the walsender and the metrics: standby status updates carrying the
// ConfirmTracker's position, and the confirmed/lag gauges.
#pragma once

#include <chrono>

#include "invalidator/clock.h"
#include "invalidator/metrics.h"
#include "invalidator/pgoutput/decoder.h"
#include "invalidator/replication/stream.h"

namespace mccache::invalidator::source {

class StatusFeedback {
 public:
  StatusFeedback(std::chrono::milliseconds interval, std::string who, Metrics& metrics,
                 const Clock& clock)
      : interval_(interval), who_(std::move(who)), metrics_(metrics), clock_(clock) {}

  // Is a status update due? Every `interval` (or now, when `force`): each update makes the
  // walsender move the slot, which may rewrite the slot's state file; one per batch slowed a
  // backlog replay down.
  bool due(bool force) const { return force || clock_.now() - last_sent_ >= interval_; }
  // Reports `confirmed`. A failed send closes the stream (the loop reconnects).
  void send(replication::ReplicationStream& stream, pgoutput::Lsn confirmed);
  // Reports the last position sent again (already recorded: nothing to write). A caught-up
  // walsender answers a reply behind what it sent with a keepalive carrying its send position
  // (walsender.c, WalSndWaitForWal), which moves the region's watermark on at once instead of
  // after the next status interval.
  void ping(replication::ReplicationStream& stream);
  // `oldest_commit`: the commit time of the oldest transaction not yet acknowledged (0: none).
  void update_gauges(pgoutput::Lsn confirmed, pgoutput::Lsn server_end,
                     pgoutput::PgTimestamp oldest_commit);

 private:
  std::chrono::milliseconds interval_;
  std::string who_;
  Metrics& metrics_;
  const Clock& clock_;
  SteadyTime last_sent_{};
  pgoutput::Lsn last_sent_lsn_ = 0;
};

}  // namespace mccache::invalidator::source
