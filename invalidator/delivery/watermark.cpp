// What the region's watermark key should hold next.
#include "invalidator/delivery/watermark.h"

#include <algorithm>

namespace mccache::invalidator::delivery {

std::string watermark_key(const std::string& source_name) {
  return "mccache:applied_lsn:" + (source_name.empty() ? std::string("default") : source_name);
}

RegionWatermark::Decision RegionWatermark::decide(const WatermarkInput& in, SteadyTime now) const {
  if (now < retry_at_) return {};
  auto w = std::min(in.applied, in.gate);
  // The truth fell below what the key says (slot loss reset the tracker, or the gate reconnected
  // to a replica that has replayed less): take it back, whether streaming or not, until that
  // succeeds or the key has expired on its own.
  bool key_live = published_ != 0 && now - last_write_ < std::chrono::seconds(timing_.ttl_s);
  if (key_live && w < published_) return {Action::kWithdraw, 0};
  if (!in.streaming || w == 0 || w < high_) return {};
  if (now - last_write_ < timing_.min_interval) return {};
  if (w > published_ || !key_live || move_pending_ || rewrite_ ||
      now - last_write_ >= timing_.refresh)
    return {Action::kPublish, w};
  return {};
}

void RegionWatermark::done(const Decision& d, bool ok, SteadyTime now) {
  if (d.action == Action::kNone) return;
  retry_at_ = ok ? SteadyTime{} : now + timing_.retry;
  if (d.action == Action::kWithdraw) {
    // A failed withdraw is tried again: the key may still hold the higher value.
    if (ok) published_ = 0;
    return;
  }
  // A failed write may still have reached the server: count it as written (so a lower truth
  // withdraws it, and nothing lower is written after it), but write again after the retry pause.
  published_ = d.lsn;
  high_ = std::max(high_, d.lsn);
  last_write_ = now;
  rewrite_ = !ok;
  if (ok) move_pending_ = false;
}

}  // namespace mccache::invalidator::delivery
