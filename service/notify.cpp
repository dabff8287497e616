// sd_notify(3) calls; libsystemd already returns at once when $NOTIFY_SOCKET is unset.
#include "service/notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>

namespace mccache::service {
namespace {

uint64_t monotonic_usec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

}  // namespace

// A failed notification is not worth stopping a daemon for: systemd then times the start out
// (TimeoutStartSec) and says so in its own log.
void notify_ready() { (void)::sd_notify(0, "READY=1"); }

void notify_reloading() {
  (void)::sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
                     static_cast<unsigned long long>(monotonic_usec()));
}

void notify_stopping() { (void)::sd_notify(0, "STOPPING=1"); }

}  // namespace mccache::service
