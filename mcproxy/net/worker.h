// One proxy thread: its io_context, its own SO_REUSEPORT acceptor, its clients and its backend
// connections. Nothing here is touched by another thread except the shared ServerPool health.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>
#include <unordered_map>
#include <vector>

#include "config/proxy_config.h"
#include "lease/settings.h"
#include "mcproxy/net/backend_connection.h"
#include "mcproxy/net/client_connection.h"
#include "mcproxy/net/metrics.h"
#include "mcproxy/route/server_pool.h"

namespace mccache::net {

// State every worker shares (read-mostly; the counter is the only write, on accept/close).
struct SharedState {
  const config::ProxyConfig& config;
  route::ServerPool& pool;
  std::atomic<int> open_connections{0};
  Clock::time_point started = Clock::now();
};

class Worker {
 public:
  Worker(int id, SharedState& shared);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  void listen();  // binds this thread's acceptor; throws with the address on failure
  void run();
  void stop();    // thread-safe

  boost::asio::io_context& io() { return io_; }
  const config::ProxyConfig& config() const { return shared_.config; }
  const lease::LeaseSettings& lease_settings() const { return lease_settings_; }
  route::ServerPool& pool() { return shared_.pool; }
  WorkerCounters& counters() { return *counters_; }
  const WorkerCounters* counters_ptr() const { return counters_.get(); }
  Clock::time_point now() const { return now_; }
  void touch_clock() { now_ = Clock::now(); }

  // Routes one parsed request of `client` (request.cpp).
  void dispatch(ClientConnection& client, const protocol::Request& request);

  // Batching: connections with bytes to send are flushed once, after this wake-up's handlers.
  void want_flush(ClientConnection& client);
  void want_flush(BackendConnection& backend);
  void forget(ClientConnection* client);
  void on_backend_failure(size_t server);
  void on_backend_success(size_t server);

 private:
  void accept();
  void tick();
  void flush_all();
  void schedule_flush();
  BackendConnection* backend_for(size_t server);
  // A connection of `server` whose lease epoch is known (lease-set needs one to check a token)
  // or, for a lease-get, will be known before its reply (lease/backend_epoch.h).
  BackendConnection* backend_for_lease(size_t server, bool lease_get);
  void dispatch_lease_set(ClientConnection& client, const protocol::Request& request);
  void reply_backend_down(ClientConnection& client, const protocol::Request& request,
                          size_t server, uint64_t seq, bool say_it);
  void dispatch_retrieval(ClientConnection& client, const protocol::Request& request);
  void dispatch_broadcast(ClientConnection& client, const protocol::Request& request);
  void forward(ClientConnection& client, const protocol::Request& request, size_t server,
               ReplyAction action, uint64_t seq);
  void reply_stats(ClientConnection& client, const protocol::Request& request);

  int id_;
  SharedState& shared_;
  lease::LeaseSettings lease_settings_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer tick_timer_;
  std::unique_ptr<WorkerCounters> counters_;
  std::vector<std::vector<std::unique_ptr<BackendConnection>>> backends_;  // [server][i]
  std::vector<size_t> next_backend_;
  std::unordered_map<ClientConnection*, std::shared_ptr<ClientConnection>> clients_;
  std::vector<ClientConnection*> dirty_clients_;
  std::vector<BackendConnection*> dirty_backends_;
  bool flush_posted_ = false;
  bool stopping_ = false;
  Clock::time_point now_ = Clock::now();
};

}  // namespace mccache::net
