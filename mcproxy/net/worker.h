// One proxy thread: its io_context, its own SO_REUSEPORT acceptor, its clients and its backend
// connections, and the core context they share (settings, counters, time, the flush list). The
// core sees the thread's backends through core::Backends. Nothing here is touched by another
// thread except through posts to io() (stop, drain, apply a reloaded config) and the shared
// server health.
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
#include "mcproxy/core/context.h"
#include "mcproxy/core/request_plan.h"
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

class Worker final : public core::Backends {
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
  WorkerCounters& counters() { return *counters_; }
  const WorkerCounters* counters_ptr() const { return counters_.get(); }
  core::Context& core_context() { return ctx_; }
  Clock::time_point now() const { return now_; }
  // The time of this wake-up, for the shell and the core alike.
  void touch_clock();

  // Hands one parsed request of `client` to the core (backends.cpp).
  void plan(ClientConnection& client, const protocol::Request& request);

  // core::Backends (backends.cpp).
  pool::Target route(std::string_view key) override;
  core::BackendChannel* channel(pool::Target to, core::Need need) override;
  const pool::Server& server(pool::Target to) const override;
  size_t servers(bool gutter) const override;

  // Batching: connections with bytes to send are flushed once, after this wake-up's handlers.
  void want_flush(ClientConnection& client);
  // Flushes whatever the core left on the flush list, after this wake-up's handlers.
  void flush_soon();
  void forget(ClientConnection* client);
  // A client has a write in flight: tick() checks it is still reading (guards.h, must_cut_off).
  void watch_writer(ClientConnection& client);
  void on_backend_failure(ServerLink& link);
  void on_backend_success(ServerLink& link);

  // Start-up and reconnect windows (waiting.cpp). A request for a server that is not down but
  // has no connection able to take it yet (connecting, waiting to reconnect, epoch not read)
  // must wait, at most connect_timeout_ms after `since`; then the core answers as for any
  // unavailable server.
  bool must_wait(const protocol::Request& request, Clock::time_point since);
  // The client holds such a request (unparsed, reading nothing more) until woken.
  void wait_for_backend(ClientConnection& client);
  // A connection became ready or a server was marked down: every waiting client looks again,
  // after this wake-up's handlers. The tick calls it too (deadlines, other threads' health).
  void wake_waiting();
  // A connection of this thread changed state: readiness is looked at again.
  void backends_changed();

 private:
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
  pool::Target place(std::string_view key) const;  // route() without counting
  bool ready(pool::Target to, core::Need need) const;
  bool every_link_ready();  // cached until backends_changed()
  ServerLink& link_of(pool::Target to) const {
    return to.gutter ? *gutter_links_[to.server] : *links_[to.server];
  }
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
  std::vector<std::shared_ptr<ClientConnection>> writers_;  // see watch_writer()
  std::vector<std::shared_ptr<ClientConnection>> waiting_;  // see wait_for_backend()
  bool wake_posted_ = false;
  bool readiness_known_ = false;
  bool all_ready_ = false;
  std::vector<const ServerLink*> ready_while_down_;  // see every_link_ready()
  core::Flushes flushes_;
  core::Context ctx_;
  bool flush_posted_ = false;
  bool running_ = false;
  bool draining_ = false;
  bool stopping_ = false;
  Clock::time_point now_ = Clock::now();
};

}  // namespace mccache::net
