// Async-signal-safe handlers: one atomic increment each.
#include "invalidator/signals.h"

#include <atomic>
#include <csignal>

namespace mccache::invalidator {
namespace {

std::atomic<int> g_stops{0};
std::atomic<uint64_t> g_reloads{0};
extern "C" void on_stop_signal(int) { g_stops.fetch_add(1); }
extern "C" void on_reload_signal(int) { g_reloads.fetch_add(1); }

}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = on_reload_signal;
  sigaction(SIGHUP, &sa, nullptr);
  // A memcached server that closes on us must fail the send, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
}

int stop_requests() { return g_stops.load(); }
uint64_t reload_requests() { return g_reloads.load(); }

}  // namespace mccache::invalidator
