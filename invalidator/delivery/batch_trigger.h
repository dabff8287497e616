// When the filling batch goes to delivery. Pure; the loop passes the time and what reading saw.
// A batch goes when it is full, when the stream has gone quiet (nothing arrived during a short nap
// after libpq's buffer ran dry: a lone commit goes out at once), or when it is max_age old. While
// a backlog streams in, the walsender sends message by message; delivering each time the buffer
// runs dry would cost a context switch per transaction and make thousands of tiny batches, each a
// memcached round trip competing with the walsender for the CPU.
#pragma once

#include <chrono>
#include <cstddef>

#include "invalidator/clock.h"

namespace mccache::invalidator::delivery {

class BatchTrigger {
 public:
  static constexpr std::chrono::microseconds kQuietNap{200};
  static constexpr std::chrono::microseconds kMaxAge{2000};

  explicit BatchTrigger(size_t max_keys, std::chrono::microseconds max_age = kMaxAge)
      : max_keys_(max_keys), max_age_(max_age) {}

  // Reading stops here: the batch holds max_keys keys.
  bool full(size_t keys) const { return keys >= max_keys_; }
  size_t max_keys() const { return max_keys_; }
  // Something joined the batch at `now`; the first addition starts its age.
  void added(SteadyTime now) {
    if (!started_) started_at_ = now;
    started_ = true;
  }
  // A batch has begun. When libpq's buffer runs dry then, the loop naps kQuietNap and tells
  // due() whether anything arrived meanwhile.
  bool started() const { return started_; }
  // Does the batch go now? `stream_failed`: deliver what was read before reconnecting.
  bool due(size_t keys, bool stream_failed, bool quiet, SteadyTime now) const {
    return started_ && (stream_failed || quiet || full(keys) || now - started_at_ >= max_age_);
  }
  void delivered() { started_ = false; }

 private:
  size_t max_keys_;
  std::chrono::microseconds max_age_;
  bool started_ = false;
  SteadyTime started_at_{};
};

}  // namespace mccache::invalidator::delivery
