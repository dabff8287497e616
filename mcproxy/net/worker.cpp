// A proxy thread's plumbing: accept, the periodic tick (timeouts, idle clients) and the
// once-per-wake-up flush of every connection that has bytes to send.
#include "mcproxy/net/worker.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <stdexcept>

namespace mccache::net {

namespace asio = boost::asio;

namespace {
constexpr auto kTickInterval = std::chrono::milliseconds(50);
// Out of file descriptors (or kernel memory) the pending connection stays queued, so accepting
// again at once fails again at once: a busy loop. Wait for clients to leave instead.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

bool out_of_resources(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}
constexpr std::string_view kTooManyConnections = "SERVER_ERROR too many open connections\r\n";
}  // namespace

Worker::Worker(int id, SharedState& shared, std::shared_ptr<const LiveConfig> live)
    : id_(id),
      shared_(shared),
      live_(std::move(live)),
      acceptor_(io_),
      tick_timer_(io_),
      drain_timer_(io_),
      accept_pause_timer_(io_),
      counters_(std::make_unique<WorkerCounters>()) {
  ctx_.settings = &live_->settings;
  ctx_.counters = counters_.get();
  ctx_.flushes = &flushes_;
  touch_clock();
  for (size_t s = 0; s < live_->pool.size(); ++s)
    links_.push_back(make_link(live_->pool.shared(s), live_->pool_stats[s], false));
  if (live_->gutter) {
    for (size_t s = 0; s < live_->gutter->size(); ++s)
      gutter_links_.push_back(make_link(live_->gutter->shared(s), live_->gutter_stats[s], true));
  }
}

std::unique_ptr<ServerLink> Worker::make_link(const std::shared_ptr<pool::Server>& server,
                                              const std::shared_ptr<ServerStats>& stats,
                                              bool gutter) {
  auto link = std::make_unique<ServerLink>();
  link->server = server;
  link->stats = stats;
  link->counters = &stats->per_worker[static_cast<size_t>(id_)];
  link->gutter = gutter;
  for (int i = 0; i < live_->proxy.backend.connections_per_server; ++i)
    link->conns.push_back(std::make_unique<BackendConnection>(*this, *link));
  return link;
}

Worker::~Worker() = default;

void Worker::listen() {
  const auto& l = live_->proxy.listen;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(l.host, ec);
  if (ec) throw std::runtime_error("mcproxy.listen: \"" + l.host + "\" is not an IP address");
  asio::ip::tcp::endpoint ep(address, l.port);
  if (id_ == 0) {
    // SO_REUSEPORT would let us share the port with a stale mcproxy and silently split its
    // traffic; a plain bind first proves the port is really free.
    asio::ip::tcp::acceptor probe(io_);
    probe.open(ep.protocol());
    probe.set_option(asio::socket_base::reuse_address(true));
    probe.bind(ep, ec);
    if (ec)
      throw std::runtime_error("cannot listen on " + l.str() + ": " + ec.message() +
                               "; is another mcproxy running? pick a free port in mcproxy.listen");
  }
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  // Every thread binds the same address; the kernel spreads new connections over them.
  int one = 1;
  ::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  acceptor_.bind(ep, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + l.str() + ": " + ec.message() +
                             "; pick a free port in mcproxy.listen");
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

void Worker::run() {
  running_ = true;
  for (auto* links : {&links_, &gutter_links_})
    for (auto& link : *links)
      for (auto& b : link->conns) b->connect();
  accept();
  tick();
  io_.run();
}

void Worker::stop() {
  asio::post(io_, [this] { shut_down(); });
}

void Worker::shut_down() {
  if (stopping_) return;
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  tick_timer_.cancel();
  drain_timer_.cancel();
  accept_pause_timer_.cancel();
  // Copy first: closing a client may post its removal, never erase it here, but be safe.
  std::vector<std::shared_ptr<ClientConnection>> clients;
  for (auto& [ptr, client] : clients_) clients.push_back(client);
  for (auto& c : clients) c->close();
  writers_.clear();
  waiting_.clear();
  for (auto* links : {&links_, &gutter_links_, &retired_links_}) {
    for (auto& link : *links) {
      for (auto& b : link->conns) b->stop();
      for (auto& b : link->retiring) b->stop();
    }
  }
  io_.stop();
}

void Worker::drain(std::chrono::milliseconds deadline) {
  asio::post(io_, [this, deadline] {
    if (draining_ || stopping_) return;
    draining_ = true;
    // Closing the listener refuses new connections at once (every thread closes its own).
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_pause_timer_.cancel();
    std::vector<std::shared_ptr<ClientConnection>> clients;
    for (auto& [ptr, client] : clients_) clients.push_back(client);
    for (auto& c : clients) c->drain();
    drain_timer_.expires_after(deadline);
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      spdlog::warn("thread {}: {} client(s) still waiting for replies after "
                   "mcproxy.shutdown_timeout_ms; closing them",
                   id_, clients_.size());
      shut_down();
    });
    maybe_finish_drain();
  });
}

void Worker::maybe_finish_drain() {
  if (draining_ && !stopping_ && clients_.empty()) shut_down();
}

void Worker::apply(std::shared_ptr<const LiveConfig> next) {
  asio::post(io_, [this, next = std::move(next)]() mutable {
    if (stopping_) return;
    // The links of this thread by server: a server the new config keeps keeps its connections
    // (and whatever is in flight on them), wherever it sits in the new pools.
    std::unordered_map<std::string, std::unique_ptr<ServerLink>> before;
    for (auto* links : {&links_, &gutter_links_})
      for (auto& link : *links) before[link->server->name] = std::move(link);
    links_.clear();
    gutter_links_.clear();
    live_ = std::move(next);
    ctx_.settings = &live_->settings;
    const auto per_server = static_cast<size_t>(live_->proxy.backend.connections_per_server);
    auto adopt = [&](const pool::ServerPool& pool,
                     const std::vector<std::shared_ptr<ServerStats>>& stats, bool gutter,
                     std::vector<std::unique_ptr<ServerLink>>& into) {
      for (size_t s = 0; s < pool.size(); ++s) {
        auto it = before.find(pool.name(s));
        if (it == before.end()) {
          into.push_back(make_link(pool.shared(s), stats[s], gutter));
          for (auto& b : into.back()->conns) b->connect();
          continue;
        }
        auto link = std::move(it->second);
        before.erase(it);
        link->server = pool.shared(s);
        link->stats = stats[s];
        link->counters = &stats[s]->per_worker[static_cast<size_t>(id_)];
        link->gutter = gutter;
        while (link->conns.size() > per_server) {
          link->conns.back()->retire();
          link->retiring.push_back(std::move(link->conns.back()));
          link->conns.pop_back();
        }
        while (link->conns.size() < per_server) {
          link->conns.push_back(std::make_unique<BackendConnection>(*this, *link));
          link->conns.back()->connect();
        }
        into.push_back(std::move(link));
      }
    };
    adopt(live_->pool, live_->pool_stats, false, links_);
    if (live_->gutter) adopt(*live_->gutter, live_->gutter_stats, true, gutter_links_);
    for (auto& [name, link] : before) {
      for (auto& b : link->conns) b->retire();
      retired_links_.push_back(std::move(link));
    }
    for (auto& [ptr, client] : clients_) client->apply_limits();
    wake_waiting();  // waiting requests are placed again, over the new pools
  });
}

void Worker::free_finished_backends() {
  auto sweep = [&](std::vector<std::unique_ptr<BackendConnection>>& conns) {
    std::erase_if(conns, [&](const auto& b) { return b->finished(now_); });
  };
  for (auto* links : {&links_, &gutter_links_})
    for (auto& link : *links) sweep(link->retiring);
  for (auto& link : retired_links_) {
    sweep(link->conns);
    sweep(link->retiring);
  }
  std::erase_if(retired_links_,
                [](const auto& link) { return link->conns.empty() && link->retiring.empty(); });
}

void Worker::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, asio::ip::tcp::socket s) {
    if (stopping_ || draining_) return;
    if (!ec) {
      touch_clock();
      int limit = live_->proxy.limits.max_connections;
      if (shared_.open_connections.fetch_add(1) >= limit) {
        shared_.open_connections.fetch_sub(1);
        bump(counters_->connections_refused);
        boost::system::error_code ignored;
        s.non_blocking(true, ignored);
        s.write_some(asio::buffer(kTooManyConnections), ignored);
        s.close(ignored);
      } else {
        bump(counters_->connections_accepted);
        bump(counters_->connections_open);
        auto client = std::make_shared<ClientConnection>(*this, std::move(s));
        if (shared_.tls) client->use_tls(*shared_.tls);
        clients_.emplace(client.get(), client);
        client->start();
      }
    } else if (ec == asio::error::operation_aborted) {
      return;
    } else {
      on_accept_error(ec);
      return;
    }
    accept();
  });
}

void Worker::on_accept_error(const boost::system::error_code& ec) {
  touch_clock();
  bump(counters_->accept_errors);
  bool pause = out_of_resources(ec);
  if (auto held_back = accept_log_.admit(now_)) {
    spdlog::warn("thread {}: accept failed: {}{}{}", id_, ec.message(),
                 pause ? "; not accepting for 100 ms (raise the open files limit, ulimit -n, or "
                         "lower limits.max_connections)"
                       : "",
                 *held_back > 0 ? fmt::format(" ({} more since the last message)", *held_back)
                                : std::string());
  }
  if (!pause) {
    accept();  // a connection that died in the queue (ECONNABORTED...): the next one is fine
    return;
  }
  accept_pause_timer_.expires_after(kAcceptPause);
  accept_pause_timer_.async_wait([this](const boost::system::error_code& e) {
    if (e || stopping_ || draining_) return;
    accept();
  });
}

void Worker::forget(ClientConnection* client) {
  // Defer the erase: we may be inside one of the client's own handlers.
  asio::post(io_, [this, client] {
    if (clients_.erase(client) > 0) {
      shared_.open_connections.fetch_sub(1);
      auto& open = counters_->connections_open;
      open.store(open.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    }
    maybe_finish_drain();
  });
}

void Worker::tick() {
  tick_timer_.expires_after(kTickInterval);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    touch_clock();
    for (auto* links : {&links_, &gutter_links_, &retired_links_}) {
      for (auto& link : *links) {
        for (auto& b : link->conns) b->check_timeouts(now_);
        for (auto& b : link->retiring) b->check_timeouts(now_);
      }
    }
    free_finished_backends();
    wake_waiting();
    // A client that stopped reading its replies gets no flush that would notice it; only the
    // ones with a write in flight can be stalled, so idle clients cost nothing here.
    std::erase_if(writers_, [this](const std::shared_ptr<ClientConnection>& c) {
      if (!c->closed() && c->writing() && !c->cut_off_if_stalled(now_)) return false;
      c->watched_writer = false;
      return true;
    });
    int idle_s = live_->proxy.limits.idle_timeout_s;
    if (idle_s > 0) {
      auto limit = std::chrono::seconds(idle_s);
      std::vector<ClientConnection*> idle;
      for (auto& [ptr, client] : clients_)
        if (!client->closed() && client->idle_expired(now_, limit)) idle.push_back(ptr);
      for (auto* c : idle) c->close();
    }
    tick();
  });
}

void Worker::watch_writer(ClientConnection& client) {
  if (client.watched_writer) return;
  client.watched_writer = true;
  writers_.push_back(client.shared_from_this());
}

void Worker::want_flush(ClientConnection& client) {
  flushes_.session(client);
  schedule_flush();
}

void Worker::flush_soon() {
  if (!flushes_.empty()) schedule_flush();
}

void Worker::schedule_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  // Runs after the handlers already ready in this wake-up, so every client read in it shares
  // one write per backend.
  asio::post(io_, [this] { flush_all(); });
}

void Worker::flush_all() {
  flush_posted_ = false;
  // Backends first: requests go out before we spend time writing replies. Every channel and
  // session on the lists is one of this worker's connections.
  auto& channels = flushes_.channels();
  for (size_t i = 0; i < channels.size(); ++i) {
    channels[i]->flush_queued = false;
    static_cast<BackendConnection*>(channels[i])->flush();
  }
  channels.clear();
  auto& sessions = flushes_.sessions();
  for (size_t i = 0; i < sessions.size(); ++i) {
    auto* c = static_cast<ClientConnection*>(sessions[i]);
    c->flush_queued = false;
    c->flush();
    c->release();
  }
  sessions.clear();
  // Writing replies may have let paused clients send more requests.
  flush_soon();
}

}  // namespace mccache::net
