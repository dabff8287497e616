// Up/down state of one memcached server, shared by every proxy thread without locks: consecutive
// failures mark it down; the first success (a probe's reconnect) brings it back.
#pragma once

#include <atomic>

namespace mccache::route {

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

}  // namespace mccache::route
