// Writes one source's region watermark (delivery/watermark.h): an `ms` of its key, with a TTL,
// on the pool server ketama places the key on (where mcproxy reads it), over the delivery
// connection to that server, after each batch and on idle steps. A failed write is counted and
// tried again later; it never holds invalidation back.
#pragma once

#include <string>

#include "invalidator/clock.h"
#include "invalidator/delivery/confirm_tracker.h"
#include "invalidator/delivery/watermark.h"
#include "invalidator/metrics.h"
#include "invalidator/source/gated_delivery.h"

namespace mccache::invalidator::source {

class WatermarkPublisher {
 public:
  // `source_name`: the config's name for the source (empty for a single unnamed one).
  WatermarkPublisher(const std::string& source_name, Metrics& metrics, const Clock& clock);

  // Publishes, refreshes or withdraws W as the tracker and the read gate now vouch for it;
  // `streaming`: the loop streams from its slot (a standby or a lost slot never publishes);
  // `idle`: nothing read waits for delivery, so the gate may be asked for its position (else
  // the next batch's gate query brings it).
  void update(GatedDelivery& delivery, const delivery::ConfirmTracker& tracker, bool streaming,
              bool idle);
  // W waits for the read gate to show more, or for its next write: come back soon.
  bool pending() const { return pending_; }
  // The pool changed: write W at once where the new pool places its key.
  void pool_changed() { watermark_.moved(); }
  const delivery::RegionWatermark& watermark() const { return watermark_; }

 private:
  std::string key_;
  Metrics& metrics_;
  const Clock& clock_;
  delivery::RegionWatermark watermark_;
  SteadyTime next_gate_poll_{};
  std::chrono::microseconds gate_poll_{1000};
  bool pending_ = false;
  bool failing_ = false;  // the last write failed (logged once per outage)
  std::string request_;
};

}  // namespace mccache::invalidator::source
