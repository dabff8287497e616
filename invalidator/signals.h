// SIGINT/SIGTERM and SIGHUP as counters that every source's loop polls: the handlers only count.
// The first stop finishes the batch (up to shutdown_timeout_ms), a second aborts; each SIGHUP is
// one reload that every loop applies when it sees a count it has not handled yet.
#pragma once

#include <cstdint>

namespace mccache::invalidator {

void install_signal_handlers();

int stop_requests();  // SIGINT/SIGTERM received so far
inline bool stop_requested() { return stop_requests() > 0; }
uint64_t reload_requests();  // SIGHUP received so far

}  // namespace mccache::invalidator
