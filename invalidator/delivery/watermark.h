// The region's watermark W (docs/consistency.md, "Read your own writes"): every transaction
// committed at or before W has had all its keys acknowledged by every server of the region, and
// the region's read gate shows it. A reader holding the LSN of its own write waits for W to pass
// it. Pure: given what the ConfirmTracker and the read gate vouch for, decides what to write to
// the key `mccache:applied_lsn:<source>` and when; the source loop does the writing.
// W is never ahead of the truth: it is the lower of the two positions; it never decreases while
// the process runs (a lower truth, after slot loss or a gate that reconnected to another replica,
// withdraws the key instead: absent means "unknown"); only a streaming process publishes.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>

#include "invalidator/clock.h"
#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::delivery {

// The key a reader fetches W from: one per source (Postgres primary), named as the config names
// the source, `default` for a config with one unnamed source (python/mccache/watermark.py).
std::string watermark_key(const std::string& source_name);

struct WatermarkInput {
  pgoutput::Lsn applied = 0;  // ConfirmTracker::applied()
  pgoutput::Lsn gate = 0;     // ReplayGate::position(): 0 unknown
  bool streaming = false;     // this process streams from the slot (not a standby, slot not lost)
};

class RegionWatermark {
 public:
  struct Timing {
    // Unchanged W is written again this often, so a restarted memcached has it back soon.
    std::chrono::milliseconds refresh{250};
    // After a failed write (the server is down), the next try waits this long.
    std::chrono::milliseconds retry{100};
    // A new value waits this long after the last write: under a stream of small batches, one
    // write per millisecond instead of one memcached round trip per batch.
    std::chrono::microseconds min_interval{1000};
    // The key's TTL: a few refreshes, so a dead invalidator's W vanishes (unknown) instead of
    // standing still for ever. memcached counts whole seconds.
    uint32_t ttl_s = 3;
  };
  RegionWatermark() = default;
  explicit RegionWatermark(Timing timing) : timing_(timing) {}

  enum class Action { kNone, kPublish, kWithdraw };
  struct Decision {
    Action action = Action::kNone;
    pgoutput::Lsn lsn = 0;  // kPublish: the value
  };
  // What to write now.
  Decision decide(const WatermarkInput& in, SteadyTime now) const;
  // The write `d` succeeded (true) or failed at `now`; a failed one is tried again after
  // timing().retry.
  void done(const Decision& d, bool ok, SteadyTime now);
  // The pool changed: write W at once where the new pool places its key.
  void moved() { move_pending_ = true; }
  // A higher value than the key's waits for min_interval: the loop comes back soon (not while
  // a failed write waits for its retry: the server is down).
  bool behind(const WatermarkInput& in, SteadyTime now) const {
    return in.streaming && now >= retry_at_ &&
           std::min(in.applied, in.gate) > std::max(published_, high_);
  }
  // W could move if the read gate answered again: the loop polls it (and naps shorter).
  bool wants_gate(const WatermarkInput& in) const {
    return in.streaming && in.applied > in.gate && in.applied > high_;
  }

  // The value the key holds as last written by this process; 0 none or withdrawn.
  pgoutput::Lsn published() const { return published_; }
  // The highest value ever written: nothing lower is written again.
  pgoutput::Lsn high() const { return high_; }
  const Timing& timing() const { return timing_; }

 private:
  Timing timing_;
  pgoutput::Lsn published_ = 0;
  pgoutput::Lsn high_ = 0;
  SteadyTime last_write_{};  // the last write that may have reached the server
  SteadyTime retry_at_{};    // after a failed write
  bool rewrite_ = false;     // the last write failed
  bool move_pending_ = false;
};

}  // namespace mccache::invalidator::delivery
