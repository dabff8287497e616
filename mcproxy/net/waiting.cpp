// The windows a client must not see: right after start-up, after a reconnect (a memcached
// restart) and after a reload adds a server, a connection is not ready yet (connecting, or its
// `stats` probe has not told the lease epoch). A request for such a server waits in its client,
// unparsed, and goes to the core once a connection can take it; a server marked down is
// answered at once (or by the gutter), and no request waits longer than connect_timeout_ms.
#include "mcproxy/net/worker.h"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace mccache::net {

using protocol::Command;
using protocol::Request;

namespace {

// What the request needs of the connection that carries it (core::Planner asks the same).
core::Need need_of(Command c) {
  if (c == Command::kLeaseGet) return core::Need::kLeaseGet;
  if (c == Command::kLeaseSet) return core::Need::kEpoch;
  return core::Need::kAny;
}

}  // namespace

bool Worker::ready(pool::Target to, core::Need need) const {
  const ServerLink& link = link_of(to);
  if (link.server->health.down()) return true;  // nothing to wait for: answered at once
  for (const auto& c : link.conns)
    if (c->takes(need)) return true;
  return false;
}

bool Worker::every_link_ready() {
  if (readiness_known_) {
    // Health changes on other threads do not call backends_changed(): look at the few servers
    // that counted as ready only because they were down.
    for (const ServerLink* link : ready_while_down_)
      if (!link->server->health.down()) readiness_known_ = false;
    if (readiness_known_) return all_ready_;
  }
  ready_while_down_.clear();
  all_ready_ = true;
  for (const auto* links : {&links_, &gutter_links_}) {
    for (const auto& link : *links) {
      if (link->server->health.down()) {
        ready_while_down_.push_back(link.get());
        continue;
      }
      // Needing the epoch is needing the most: a connection that takes that takes anything.
      if (!std::any_of(link->conns.begin(), link->conns.end(),
                       [](const auto& c) { return c->takes(core::Need::kEpoch); }))
        all_ready_ = false;
    }
  }
  readiness_known_ = true;
  return all_ready_;
}

bool Worker::must_wait(const Request& r, Clock::time_point since) {
  // The hot path: every connection of this thread is ready, nothing needs to be looked up.
  if (every_link_ready()) return false;
  auto limit = std::chrono::milliseconds(live_->proxy.backend.connect_timeout_ms);
  if (now_ - since >= limit) return false;
  core::Need need = need_of(r.command);
  for (std::string_view key : r.keys)
    if (!ready(place(key), need)) return true;
  bool broadcast = r.command == Command::kFlushAll || r.command == Command::kVerbosity;
  if (broadcast && live_->settings.admin_commands) {
    for (bool gutter : {false, true})
      for (size_t s = 0; s < servers(gutter); ++s)
        if (!ready(pool::Target{s, gutter}, core::Need::kAny)) return true;
  }
  return false;
}

void Worker::wait_for_backend(ClientConnection& client) {
  waiting_.push_back(client.shared_from_this());
}

void Worker::backends_changed() { readiness_known_ = false; }

void Worker::wake_waiting() {
  backends_changed();
  if (waiting_.empty() || wake_posted_) return;
  wake_posted_ = true;
  // Posted: the connection that became ready finishes its handler before clients plan onto it.
  boost::asio::post(io_, [this] {
    wake_posted_ = false;
    if (stopping_) return;
    touch_clock();
    auto clients = std::move(waiting_);
    waiting_.clear();
    for (auto& c : clients) c->resume_waiting();
  });
}

}  // namespace mccache::net
