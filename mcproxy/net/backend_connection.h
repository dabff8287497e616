// One long-lived, pipelined connection from a proxy thread to a memcached server. Requests from
// every client of the thread are appended to one buffer and written once per wake-up; replies are
// parsed in place and handed to the waiting client slots in FIFO order.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "mcproxy/protocol/reply_parser.h"
#include "mcproxy/protocol/request.h"

namespace mccache::net {

class ClientConnection;
class Worker;
using Clock = std::chrono::steady_clock;

// How the reply to one backend request becomes (part of) a client's reply.
enum class ReplyAction : uint8_t {
  kPassThrough,       // copy the reply bytes as they are
  kDiscard,           // noreply, give-back, broadcast parts with nothing to say
  kGetOnlyKey,        // a single-key get: VALUE/END, or the error line
  kGetOneOfMany,      // one key of a multi-key get: VALUE or nothing (END is its own slot)
  kInvalidate,        // text delete sent as md I: HD → DELETED, NF → NOT_FOUND
  kQuietMetaGet,      // mg with q stripped: drop EN
  kQuietMetaOther,    // ms/md/ma with q stripped: drop HD
  kBroadcastPart,     // flush_all/verbosity on one server: drop OK, keep errors
};

struct PendingReply {
  ClientConnection* client = nullptr;  // null: nobody waits (give-back md)
  uint64_t seq = 0;
  protocol::Command command = protocol::Command::kGet;
  ReplyAction action = ReplyAction::kPassThrough;
  Clock::time_point sent;
};

class BackendConnection {
 public:
  enum class State { kDisconnected, kConnecting, kConnected };

  BackendConnection(Worker& worker, size_t server);
  BackendConnection(const BackendConnection&) = delete;
  BackendConnection& operator=(const BackendConnection&) = delete;

  size_t server() const { return server_; }
  State state() const { return state_; }
  // Requests may be queued while connected or connecting; a connection in back-off refuses them.
  bool accepts_requests() const { return state_ != State::kDisconnected; }

  // Append a request's bytes to out(), then expect() its reply.
  std::string& out() { return out_; }
  void expect(const PendingReply& p);
  size_t outstanding() const { return pending_.size() - pending_head_; }

  void connect();
  void flush();  // write out() if nothing is being written
  void check_timeouts(Clock::time_point now);
  void stop();

  bool flush_queued = false;  // on the worker's flush list already

 private:
  void on_connect(uint64_t generation, const boost::system::error_code& ec);
  void read();
  void on_read(uint64_t generation, const boost::system::error_code& ec, size_t n);
  void on_write(uint64_t generation, const boost::system::error_code& ec, size_t n);
  void deliver(const PendingReply& p, const protocol::Reply& reply);
  // Fails every waiting request, drops the socket and retries later (counts towards "down").
  void fail(const char* why);
  void schedule_reconnect();

  Worker& worker_;
  size_t server_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer retry_timer_;
  State state_ = State::kDisconnected;
  uint64_t generation_ = 0;  // bumps on every reset, so late handlers of a dead socket do nothing
  Clock::time_point connect_started_;
  bool writing_ = false;
  bool stopped_ = false;
  std::string out_;
  std::string writing_buf_;
  std::vector<char> in_;
  size_t in_len_ = 0;
  std::vector<PendingReply> pending_;  // FIFO; [pending_head_, end) wait for replies
  size_t pending_head_ = 0;
  protocol::ReplyParser parser_;
};

}  // namespace mccache::net
