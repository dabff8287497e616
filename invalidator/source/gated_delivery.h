// A batch's way to the pool: gated on the database the region's readers use (the local replica's
// replay, or the primary's visibility), then handed to the deliverer (which seals its position
// with the ConfirmTracker) over the region's memcached connections. Placement is ketama over the
// pool, and each key also goes to its gutter server when there is a gutter (mcproxy keeps a down
// server's keys there). A reload may change the pool: from then on every key, also one read
// before, is deleted where the new pool places it.
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
  using Gate = delivery::ReplayGate::Outcome;

  GatedDelivery(const config::DatacenterConfig& config, const config::SourceConfig& src,
                Metrics& metrics, delivery::ConfirmTracker& tracker, const Clock& clock);

  // An empty batch over the pool's servers, then the gutter's (one already delivered, if any).
  std::unique_ptr<delivery::Batch> new_batch();
  // Waits for the read gate, then hands `batch` over and puts a fresh one in its place (kShown).
  // Otherwise the batch stays: `keep_going` said stop (kStopped), or the gate is on the primary
  // and cannot reach it (kPrimaryUnreachable: the caller lets go of its stream, replay_gate.h).
  Gate deliver(std::unique_ptr<delivery::Batch>& batch, const KeepGoing& keep_going,
               const Idle& idle);
  // After slot loss: once the readers' database has everything below `bar` (what the new slot
  // will not stream), flush_all every server and wait for every acknowledgement. False when
  // stopped (or the primary gate cannot reach the primary) first.
  bool flush_region(pgoutput::Lsn bar, const KeepGoing& keep_going, const Idle& idle);
  // A reload changed the pool: new connections, every batch in flight and `filling` placed over
  // the new servers (each server acknowledges its part again: deletes are idempotent).
  void change_pool(const config::PoolConfig& pool, delivery::Batch& filling);

  // The read gate's position (ReplayGate::position), and one query to bring it up to date.
  pgoutput::Lsn gate_position() const { return gate_.position(); }
  void refresh_gate_position();
  // One short exchange with the pool server ketama places `key` on (the region's watermark);
  // fails at once while that server holds keys as down, so it never stalls the loop for long.
  Status send_to_owner(std::string_view key, const std::string& request,
                       delivery::MetaReplyScanner& replies);

  delivery::Deliverer& deliverer() { return *deliverer_; }
  const delivery::Deliverer& deliverer() const { return *deliverer_; }
  // Reading pauses while this many keys wait for a down server (memory stays bounded).
  bool too_many_held() const {
    return deliverer_->retained_keys() >= static_cast<size_t>(delivery_config_.max_held_keys);
  }

 private:
  void connect_pool(const config::PoolConfig& pool);
  void reroute(delivery::Batch& batch) const;
  Gate gate(const delivery::Batch& batch, pgoutput::Lsn lsn, const KeepGoing& keep_going,
            const Idle& idle);

  config::DeliveryConfig delivery_config_;
  Metrics& metrics_;
  delivery::ConfirmTracker& tracker_;
  const Clock& clock_;
  std::unique_ptr<pool::Placement> placement_;  // the pool's servers and the gutter's, if any
  std::vector<delivery::MemcachedConnection> connections_;  // the pool's, then the gutter's
  std::unique_ptr<delivery::Deliverer> deliverer_;
  delivery::ReplayGate gate_;
};

}  // namespace mccache::invalidator::source
