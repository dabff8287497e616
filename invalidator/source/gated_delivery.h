// A batch's way to the pool: gated on the database the region's readers use (the local replica's
// replay, or the primary's visibility), then handed to the deliverer (which seals its position
// with the ConfirmTracker) over the region's memcached connections. Placement is ketama over the
// pool, and each key also goes to its gutter server when there is a gutter (mcproxy keeps a down
// server's keys there).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "config/config.h"
#include "invalidator/clock.h"
#include "invalidator/delivery/batch.h"
#include "invalidator/delivery/confirm_tracker.h"
#include "invalidator/delivery/deliverer.h"
#include "invalidator/delivery/memcached_connection.h"
#include "invalidator/delivery/replay_gate.h"
#include "invalidator/metrics.h"
#include "pool/placement.h"

namespace mccache::invalidator::source {

class GatedDelivery {
 public:
  using KeepGoing = std::function<bool()>;
  using Idle = std::function<void()>;

  GatedDelivery(const config::DatacenterConfig& config, const config::SourceConfig& src,
                Metrics& metrics, delivery::ConfirmTracker& tracker, const Clock& clock);

  // An empty batch over the pool's servers, then the gutter's (one already delivered, if any).
  std::unique_ptr<delivery::Batch> new_batch();
  // Waits for the read gate, then hands `batch` over and puts a fresh one in its place. False
  // (the batch stays) when `keep_going` said stop first (a signal).
  bool deliver(std::unique_ptr<delivery::Batch>& batch, const KeepGoing& keep_going,
               const Idle& idle);
  // After slot loss: once the readers' database has everything below `bar` (what the new slot
  // will not stream), flush_all every server and wait for every acknowledgement. False when
  // stopped first.
  bool flush_region(pgoutput::Lsn bar, const KeepGoing& keep_going, const Idle& idle);

  delivery::Deliverer& deliverer() { return deliverer_; }
  const delivery::Deliverer& deliverer() const { return deliverer_; }
  // Reading pauses while this many keys wait for a down server (memory stays bounded).
  bool too_many_held() const {
    return deliverer_.retained_keys() >= static_cast<size_t>(max_held_keys_);
  }

 private:
  bool gate(const delivery::Batch& batch, pgoutput::Lsn lsn, const KeepGoing& keep_going,
            const Idle& idle);

  int max_held_keys_;
  Metrics& metrics_;
  pool::Placement placement_;  // the pool's servers and the gutter's, if any
  std::vector<delivery::MemcachedConnection> connections_;  // the pool's, then the gutter's
  delivery::Deliverer deliverer_;
  delivery::ReplayGate gate_;
};

}  // namespace mccache::invalidator::source
