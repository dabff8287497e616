// What the core reads and writes besides a request and its replies: the settings it serves with,
// the thread's counters, the time (given by the shell at each wake-up: the core reads no clock),
// and the list of what the wake-up leaves to be written.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "lease/settings.h"
#include "mcproxy/core/outcome.h"
#include "mcproxy/core/session.h"

namespace mccache::core {

class BackendChannel;
using TimePoint = std::chrono::steady_clock::time_point;

// Replaced whole on a config reload.
struct Settings {
  lease::LeaseSettings leases;
  // For gutter servers: lease and stale TTLs capped at gutter_ttl_s.
  lease::LeaseSettings gutter_leases;
  uint32_t gutter_ttl_s = 0;  // nothing written to the gutter outlives this
  bool admin_commands = false;

  const lease::LeaseSettings& leases_for(bool gutter) const {
    return gutter ? gutter_leases : leases;
  }
};

// Sessions with new replies and backend channels with new requests, each written once after every
// handler of the wake-up has run, so one write per backend carries all of a thread's clients.
class Flushes {
 public:
  // A queued session is held (Session::add_ref) until the shell has flushed it.
  void session(Session& s) {
    if (s.flush_queued) return;
    s.flush_queued = true;
    s.add_ref();
    sessions_.push_back(&s);
  }
  void channel(BackendChannel& c);

  std::vector<Session*>& sessions() { return sessions_; }
  std::vector<BackendChannel*>& channels() { return channels_; }
  bool empty() const { return sessions_.empty() && channels_.empty(); }

 private:
  std::vector<Session*> sessions_;
  std::vector<BackendChannel*> channels_;
};

struct Context {
  const Settings* settings = nullptr;
  RequestCounters* counters = nullptr;
  Flushes* flushes = nullptr;
  TimePoint now{};       // steady time of this wake-up
  int64_t now_unix = 0;  // wall-clock seconds of this wake-up (absolute expiry times)
};

}  // namespace mccache::core
