// One long-lived, pipelined connection from a proxy thread to a memcached server: the socket
// side of a core::BackendChannel. Requests from every client of the thread are appended to the
// channel's buffer and written once per wake-up; replies are parsed in place and handed to the
// core, which answers the waiting clients in FIFO order.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mcproxy/core/backend_channel.h"
#include "mcproxy/net/metrics.h"
#include "pool/reply_parser.h"
#include "pool/server_pool.h"

namespace mccache::net {

class BackendConnection;
class Worker;
using Clock = std::chrono::steady_clock;

// One thread's connections to one memcached server (of the pool or of the gutter). Its address
// never changes: a reload that drops the server retires the whole link, one that keeps it keeps
// the link and its connections.
struct ServerLink : core::Link {
  std::shared_ptr<ServerStats> stats;
  ServerCounters* counters = nullptr;  // this thread's block of `stats`
  std::vector<std::unique_ptr<BackendConnection>> conns;
  std::vector<std::unique_ptr<BackendConnection>> retiring;  // draining after a reload
  size_t next = 0;                                           // round robin over conns
};

class BackendConnection : public core::BackendChannel {
 public:
  enum class State { kDisconnected, kConnecting, kConnected };

  BackendConnection(Worker& worker, ServerLink& link);

  ServerLink& server_link() const { return link_; }
  State state() const { return state_; }

  void connect();
  void flush();  // write out() if nothing is being written
  // Connect timeout, and no progress on outstanding requests (guards.h, backend_stalled).
  void check_timeouts(Clock::time_point now);
  void stop();
  // Takes no new requests; the ones already sent still get their replies (or time out), then
  // the connection closes. Used when a reload drops the server.
  void retire();
  // Stopped long enough ago that no handler of its socket or timer can still run: it may be freed.
  bool finished(Clock::time_point now) const;

 private:
  // Only a connected socket takes requests: while connecting or waiting to reconnect, clients
  // wait (Worker::must_wait), so a refused connect never fails a request that was not sent.
  void set_state(State s);
  void on_connect(uint64_t generation, const boost::system::error_code& ec);
  void read();
  void on_read(uint64_t generation, const boost::system::error_code& ec, size_t n);
  void on_write(uint64_t generation, const boost::system::error_code& ec, size_t n);
  // Fails every waiting request, drops the socket and retries later; counts towards "down"
  // unless `idle_close` (see on_read).
  void fail(const char* why, bool idle_close = false);
  void schedule_reconnect();

  Worker& worker_;
  ServerLink& link_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer retry_timer_;
  State state_ = State::kDisconnected;
  uint64_t generation_ = 0;  // bumps on every reset, so late handlers of a dead socket do nothing
  Clock::time_point connect_started_;
  Clock::time_point last_read_;  // reply bytes last arrived: progress, for check_timeouts()
  bool writing_ = false;
  bool stopped_ = false;
  bool retiring_ = false;
  Clock::time_point stopped_at_;
  std::string writing_buf_;
  std::vector<char> in_;
  size_t in_len_ = 0;
  pool::ReplyParser parser_;
};

}  // namespace mccache::net
