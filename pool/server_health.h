// Whether a memcached server is answering, and how long to wait before trying it again. Both
// daemons decide this the same way: consecutive failures mark a server down, the first success
// brings it back, and retries of a failing server back off exponentially. Pure (no clock reads).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>

namespace mccache::pool {

// Up/down state of one server, shared by every proxy thread without locks.
class ServerHealth {
 public:
  explicit ServerHealth(int failures_until_down) : failures_until_down_(failures_until_down) {}

  bool down() const { return down_.load(std::memory_order_relaxed); }
  int consecutive_failures() const { return failures_.load(std::memory_order_relaxed); }
  // A reload may change the threshold; the state (down or not, the count so far) carries over.
  void set_failures_until_down(int n) { failures_until_down_.store(n, std::memory_order_relaxed); }

  // Returns true if this failure is the one that marked the server down.
  bool record_failure() {
    int n = failures_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n >= failures_until_down_.load(std::memory_order_relaxed) &&
        !down_.exchange(true, std::memory_order_relaxed))
      return true;
    return false;
  }

  // Returns true if the server was down and is up again. Cheap when nothing changes, because the
  // request path calls it for every reply.
  bool record_success() {
    if (failures_.load(std::memory_order_relaxed) != 0)
      failures_.store(0, std::memory_order_relaxed);
    if (down_.load(std::memory_order_relaxed)) return down_.exchange(false);
    return false;
  }

 private:
  std::atomic<int> failures_until_down_;
  std::atomic<int> failures_{0};
  std::atomic<bool> down_{false};
};

// Exponential backoff from `initial` to `max` between retries of a failing server (or a lost
// PostgreSQL connection); the caller owns the clock.
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

}  // namespace mccache::pool
