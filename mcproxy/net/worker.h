// One proxy thread: its io_context, its own SO_REUSEPORT acceptor, its clients and its backend
// connections. Nothing here is touched by another thread except through posts to io() (stop,
// drain, apply a reloaded config) and the shared server health.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/proxy_config.h"
#include "lease/settings.h"
#include "mcproxy/net/backend_connection.h"
#include "mcproxy/net/client_connection.h"
#include "mcproxy/net/tls.h"
#include "mcproxy/net/guards.h"
#include "mcproxy/net/live_config.h"
#include "mcproxy/net/metrics.h"

namespace mccache::net {

// State every worker shares (the counter is the only write, on accept/close).
struct SharedState {
  std::atomic<int> open_connections{0};
  std::shared_ptr<const TlsContext> tls;  // set: the client listener speaks TLS
  Clock::time_point started = Clock::now();
};

class Worker {
 public:
  Worker(int id, SharedState& shared, std::shared_ptr<const LiveConfig> live);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  void listen();  // binds this thread's acceptor; throws with the address on failure
  void run();
  // Thread-safe, all three: they post to this worker's io_context.
  void stop();  // close everything now
  // Stop accepting, close idle clients, let the others get the replies of what they sent, then
  // stop; whatever is still open after `deadline` is closed.
  void drain(std::chrono::milliseconds deadline);
  // Serve with `next` from now on: requests already sent keep their connections; servers that
  // left are drained and closed.
  void apply(std::shared_ptr<const LiveConfig> next);

  boost::asio::io_context& io() { return io_; }
  const config::ProxyConfig& config() const { return live_->proxy; }
  const lease::LeaseSettings& lease_settings() const { return live_->leases; }
  const lease::LeaseSettings& lease_settings_for(const ServerLink& link) const {
    return link.gutter ? live_->gutter_leases : live_->leases;
  }
  WorkerCounters& counters() { return *counters_; }
  const WorkerCounters* counters_ptr() const { return counters_.get(); }
  Clock::time_point now() const { return now_; }
  void touch_clock() { now_ = Clock::now(); }

  // Routes one parsed request of `client` (dispatch.cpp).
  void dispatch(ClientConnection& client, const protocol::Request& request);

  // Batching: connections with bytes to send are flushed once, after this wake-up's handlers.
  void want_flush(ClientConnection& client);
  void want_flush(BackendConnection& backend);
  void forget(ClientConnection* client);
  // A client has a write in flight: tick() checks it is still reading (guards.h, must_cut_off).
  void watch_writer(ClientConnection& client);
  void on_backend_failure(ServerLink& link);
  void on_backend_success(ServerLink& link);

 private:
  // Where a key is sent: its pool server, or while that one is marked down and a gutter is
  // configured, the gutter server ketama picks for it.
  struct Route {
    ServerLink* link;
    bool gutter;
  };

  void accept();
  void on_accept_error(const boost::system::error_code& ec);
  void tick();
  void flush_all();
  void schedule_flush();
  void shut_down();
  void maybe_finish_drain();
  void connect_links();
  void free_finished_backends();
  std::unique_ptr<ServerLink> make_link(const std::shared_ptr<pool::Server>& server,
                                        const std::shared_ptr<ServerStats>& stats, bool gutter);
  Route route(std::string_view key);
  BackendConnection* backend_for(ServerLink& link);
  // A connection of `link` whose lease epoch is known (lease-set needs one to check a token)
  // or, for a lease-get, will be known before its reply (lease/backend_epoch.h).
  BackendConnection* backend_for_lease(ServerLink& link, bool lease_get);
  void dispatch_lease_set(ClientConnection& client, const protocol::Request& request);
  void reply_backend_down(ClientConnection& client, const protocol::Request& request,
                          const ServerLink& link, uint64_t seq, bool say_it, bool lease_command);
  void dispatch_retrieval(ClientConnection& client, const protocol::Request& request);
  void dispatch_broadcast(ClientConnection& client, const protocol::Request& request);
  void forward(ClientConnection& client, const protocol::Request& request, const Route& to,
               ReplyAction action, uint64_t seq);
  void reply_stats(ClientConnection& client, const protocol::Request& request);

  int id_;
  SharedState& shared_;
  std::shared_ptr<const LiveConfig> live_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer drain_timer_;
  boost::asio::steady_timer accept_pause_timer_;  // out of file descriptors: retry later
  LogThrottle accept_log_{std::chrono::seconds(1)};
  std::unique_ptr<WorkerCounters> counters_;
  std::vector<std::unique_ptr<ServerLink>> links_;         // [pool server]
  std::vector<std::unique_ptr<ServerLink>> gutter_links_;  // [gutter server]
  std::vector<std::unique_ptr<ServerLink>> retired_links_;  // servers a reload dropped
  std::unordered_map<ClientConnection*, std::shared_ptr<ClientConnection>> clients_;
  std::vector<ClientConnection*> dirty_clients_;
  std::vector<std::shared_ptr<ClientConnection>> writers_;  // see watch_writer()
  std::vector<BackendConnection*> dirty_backends_;
  bool flush_posted_ = false;
  bool running_ = false;
  bool draining_ = false;
  bool stopping_ = false;
  Clock::time_point now_ = Clock::now();
};

}  // namespace mccache::net
