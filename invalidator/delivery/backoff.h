// Exponential backoff for retries to memcached and reconnects to PostgreSQL. Pure.
#pragma once

#include <algorithm>
#include <chrono>

namespace mccache::invalidator::delivery {

// Exponential backoff from initial to max; pure, so tests control it.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max), next_(initial) {}
  std::chrono::milliseconds next() {
    auto d = next_;
    next_ = std::min(next_ * 2, max_);
    return d;
  }
  // True once the ladder is climbed: the next wait is the maximum one.
  bool exhausted() const { return next_ >= max_; }
  // How long climbing the ladder takes: the waits before the first maximum one.
  std::chrono::milliseconds climb() const {
    std::chrono::milliseconds total{0};
    for (auto d = initial_; d < max_; d *= 2) total += d;
    return total;
  }
  void reset() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_, max_, next_;
};

}  // namespace mccache::invalidator::delivery
