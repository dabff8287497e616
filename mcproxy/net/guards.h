// The rules that keep one client or one backend from hurting the others: client back-pressure and
// cut-off, idleness, backend stall detection and log throttling. Pure (time is an argument), so
// tests drive them without sockets; the Asio shell (client_connection.cpp, backend_connection.cpp,
// worker.cpp) only feeds them what it observes.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "config/proxy_config.h"

namespace mccache::net {

using Clock = std::chrono::steady_clock;

// Per-client bounds, all derived from limits.max_pipeline_bytes.
struct ClientFlowLimits {
  // Unanswered request bytes past which the client is not read from.
  size_t max_unanswered_bytes = 4 << 20;
  // Reply bytes waiting to be written past which the client is not read from (nor parsed).
  size_t max_unsent_reply_bytes = 4 << 20;
  // Reply bytes waiting to be written past which the client is closed at once.
  size_t hard_unsent_reply_bytes = 64 << 20;
  // Requests one client may have outstanding on backend connections, which every client of the
  // thread shares: past it the client waits on its own back-pressure instead of queueing ahead
  // of everyone else.
  size_t max_backend_requests = 4096;
  // Over max_unsent_reply_bytes with nothing written for this long: the client is not reading.
  Clock::duration write_stall_grace = std::chrono::seconds(2);

  static ClientFlowLimits from(const config::LimitsConfig& limits) {
    ClientFlowLimits l;
    auto pipeline = static_cast<size_t>(limits.max_pipeline_bytes);
    l.max_unanswered_bytes = pipeline;
    l.max_unsent_reply_bytes = pipeline;
    l.hard_unsent_reply_bytes = std::max<size_t>(4 * pipeline, size_t{64} << 20);
    return l;
  }
};

// What one client holds right now.
struct ClientFlow {
  size_t unanswered_bytes = 0;    // request bytes whose replies are not in the output yet
  size_t unsent_reply_bytes = 0;  // replies in the output and in the write in flight
  size_t backend_requests = 0;    // requests of it outstanding on backend connections
};

// Parse (and so send to a backend) another request of a client already read.
inline bool may_parse(const ClientFlowLimits& l, const ClientFlow& f) {
  return f.backend_requests < l.max_backend_requests &&
         f.unsent_reply_bytes < l.max_unsent_reply_bytes;
}

// Read more from the client's socket.
inline bool may_read(const ClientFlowLimits& l, const ClientFlow& f) {
  return may_parse(l, f) && f.unanswered_bytes < l.max_unanswered_bytes;
}

// A client is cut off when its unsent replies pass the hard cap, or when they are over the
// bound and it has not taken a byte of them for write_stall_grace. `last_write_progress` is when
// the client last accepted reply bytes (or when its backlog started, if later).
inline bool must_cut_off(const ClientFlowLimits& l, size_t unsent_reply_bytes,
                         Clock::time_point last_write_progress, Clock::time_point now) {
  if (unsent_reply_bytes > l.hard_unsent_reply_bytes) return true;
  return unsent_reply_bytes > l.max_unsent_reply_bytes &&
         now - last_write_progress > l.write_stall_grace;
}

// Idleness counts from the last complete request or the last reply written, never from bytes
// merely read: a client trickling a partial command a byte at a time is idle (memcached's
// last_cmd_time works the same way).
class ActivityClock {
 public:
  explicit ActivityClock(Clock::time_point now) : last_(now) {}
  void request_parsed(Clock::time_point now) { last_ = now; }
  void reply_written(Clock::time_point now) { last_ = now; }
  Clock::time_point last_active() const { return last_; }
  // `waiting`: the client has requests outstanding or replies being written; such a client is
  // waiting on us, not idle.
  bool idle_expired(Clock::time_point now, Clock::duration limit, bool waiting) const {
    return !waiting && now - last_ > limit;
  }

 private:
  Clock::time_point last_;
};

// A backend connection has timed out when requests are outstanding and it has made no progress
// (read no reply bytes) for `timeout`, counted from the later of its last read and the send of
// the oldest outstanding request. A deep queue that is being answered is not a failure, however
// old its oldest request.
inline bool backend_stalled(Clock::time_point now, std::optional<Clock::time_point> oldest_sent,
                            Clock::time_point last_read, Clock::duration timeout) {
  if (!oldest_sent) return false;
  return now - std::max(*oldest_sent, last_read) > timeout;
}

// At most one log line per interval for a repeating condition; the rest are counted and
// reported with the next line.
class LogThrottle {
 public:
  explicit LogThrottle(Clock::duration interval) : interval_(interval) {}
  // A line may be written now: returns how many were held back since the last one. nullopt:
  // hold this one back (it is counted).
  std::optional<uint64_t> admit(Clock::time_point now) {
    if (logged_once_ && now - last_ < interval_) {
      ++held_back_;
      return std::nullopt;
    }
    logged_once_ = true;
    last_ = now;
    uint64_t held = held_back_;
    held_back_ = 0;
    return held;
  }

 private:
  Clock::duration interval_;
  Clock::time_point last_;
  uint64_t held_back_ = 0;
  bool logged_once_ = false;
};

}  // namespace mccache::net
