// A proxy thread's plumbing: accept, the periodic tick (timeouts, idle clients) and the
// once-per-wake-up flush of every connection that has bytes to send.
#include "mcproxy/net/worker.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <stdexcept>

namespace mccache::net {

namespace asio = boost::asio;

namespace {
constexpr auto kTickInterval = std::chrono::milliseconds(50);
constexpr std::string_view kTooManyConnections = "SERVER_ERROR too many open connections\r\n";
}  // namespace

Worker::Worker(int id, SharedState& shared)
    : id_(id),
      shared_(shared),
      acceptor_(io_),
      tick_timer_(io_),
      counters_(std::make_unique<WorkerCounters>(shared.pool.size())) {
  const auto& cfg = shared.config;
  lease_settings_.lease_ttl_s = static_cast<uint32_t>(cfg.leases.lease_ttl_s);
  lease_settings_.stale_ttl_s = static_cast<uint32_t>(cfg.leases.stale_ttl_s);
  // config/ has validated the name; a stale TTL of 0 keeps nothing, so it is a plain delete.
  lease_settings_.delete_mode = lease::delete_mode_from_name(cfg.leases.delete_mode)
                                    .value_or(lease::DeleteMode::Invalidate);
  if (lease_settings_.stale_ttl_s == 0) lease_settings_.delete_mode = lease::DeleteMode::Remove;
  backends_.resize(shared.pool.size());
  next_backend_.resize(shared.pool.size(), 0);
  for (size_t s = 0; s < shared.pool.size(); ++s) {
    for (int i = 0; i < cfg.backend.connections_per_server; ++i)
      backends_[s].push_back(std::make_unique<BackendConnection>(*this, s));
  }
}

Worker::~Worker() = default;

void Worker::listen() {
  const auto& l = shared_.config.listen;
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
  for (auto& server : backends_)
    for (auto& b : server) b->connect();
  accept();
  tick();
  io_.run();
}

void Worker::stop() {
  asio::post(io_, [this] {
    stopping_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    tick_timer_.cancel();
    for (auto& [ptr, client] : clients_) client->close();
    for (auto& server : backends_)
      for (auto& b : server) b->stop();
    io_.stop();
  });
}

void Worker::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, asio::ip::tcp::socket s) {
    if (stopping_) return;
    if (!ec) {
      touch_clock();
      int limit = shared_.config.limits.max_connections;
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
        clients_.emplace(client.get(), client);
        client->start();
      }
    } else if (ec == asio::error::operation_aborted) {
      return;
    } else {
      spdlog::warn("accept failed: {}", ec.message());
    }
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
  });
}

void Worker::tick() {
  tick_timer_.expires_after(kTickInterval);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    touch_clock();
    for (auto& server : backends_)
      for (auto& b : server) b->check_timeouts(now_);
    int idle_s = shared_.config.limits.idle_timeout_s;
    if (idle_s > 0) {
      auto limit = std::chrono::seconds(idle_s);
      std::vector<ClientConnection*> idle;
      for (auto& [ptr, client] : clients_)
        if (!client->closed() && client->idle() && now_ - client->last_active() > limit)
          idle.push_back(ptr);
      for (auto* c : idle) c->close();
    }
    tick();
  });
}

void Worker::want_flush(ClientConnection& client) {
  if (client.flush_queued) return;
  client.flush_queued = true;
  client.add_ref();
  dirty_clients_.push_back(&client);
  schedule_flush();
}

void Worker::want_flush(BackendConnection& backend) {
  if (backend.flush_queued) return;
  backend.flush_queued = true;
  dirty_backends_.push_back(&backend);
  schedule_flush();
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
  // Backends first: requests go out before we spend time writing replies.
  for (size_t i = 0; i < dirty_backends_.size(); ++i) {
    dirty_backends_[i]->flush_queued = false;
    dirty_backends_[i]->flush();
  }
  dirty_backends_.clear();
  for (size_t i = 0; i < dirty_clients_.size(); ++i) {
    auto* c = dirty_clients_[i];
    c->flush_queued = false;
    c->flush();
    c->release();
  }
  dirty_clients_.clear();
}

BackendConnection* Worker::backend_for(size_t server) {
  if (shared_.pool.health(server).down()) return nullptr;
  auto& conns = backends_[server];
  size_t n = conns.size();
  for (size_t tries = 0; tries < n; ++tries) {
    size_t i = next_backend_[server]++ % n;
    if (conns[i]->accepts_requests()) return conns[i].get();
  }
  return nullptr;
}

BackendConnection* Worker::backend_for_lease(size_t server, bool lease_get) {
  if (shared_.pool.health(server).down()) return nullptr;
  auto& conns = backends_[server];
  size_t n = conns.size();
  for (size_t tries = 0; tries < n; ++tries) {
    size_t i = next_backend_[server]++ % n;
    BackendConnection& b = *conns[i];
    if (lease_get ? b.can_answer_lease_get() : b.accepts_requests() && b.epoch()) return &b;
  }
  return nullptr;
}

void Worker::on_backend_failure(size_t server) {
  if (shared_.pool.health(server).record_failure())
    spdlog::error("server {} marked down after {} consecutive failures; its keys get "
                  "SERVER_ERROR until a probe reconnects",
                  shared_.pool.name(server), shared_.config.backend.failures_until_down);
}

void Worker::on_backend_success(size_t server) {
  if (shared_.pool.health(server).record_success())
    spdlog::info("server {} is back up", shared_.pool.name(server));
}

}  // namespace mccache::net
