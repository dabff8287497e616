// Tells the service manager (systemd, Type=notify) that a daemon is ready, reloading or stopping.
// Started without $NOTIFY_SOCKET (by hand, by a test, by another supervisor) every call does nothing.
#pragma once

namespace mccache::service {

// READY=1: the daemon serves now (its listeners are bound, its start-up checks passed).
void notify_ready();
// RELOADING=1 (with MONOTONIC_USEC, which systemd 253+ wants for Type=notify-reload).
void notify_reloading();
// STOPPING=1: draining has begun.
void notify_stopping();

// RELOADING=1 while it lives, READY=1 when it ends: one line at the top of a reload covers every
// way out of it (applied or refused, the old config keeps serving either way).
class Reloading {
 public:
  Reloading() { notify_reloading(); }
  ~Reloading() { notify_ready(); }
  Reloading(const Reloading&) = delete;
  Reloading& operator=(const Reloading&) = delete;
};

}  // namespace mccache::service
