// One client socket: reads many requests per wake-up, hands each to the worker's router and
// writes the in-order replies back, at most one write in flight. How much it may hold (requests,
// replies, backend requests) is bounded by the rules in guards.h.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mcproxy/net/backend_connection.h"
#include "mcproxy/net/guards.h"
#include "mcproxy/net/reply_queue.h"
#include "mcproxy/net/tls.h"
#include "mcproxy/protocol/request_parser.h"

namespace mccache::net {

class ClientConnection : public std::enable_shared_from_this<ClientConnection> {
 public:
  ClientConnection(Worker& worker, boost::asio::ip::tcp::socket socket);

  // The listener speaks TLS: every byte of this connection goes through a session of `ctx`.
  // Before start().
  void use_tls(const TlsContext& ctx);
  void start();
  ReplyQueue& replies() { return replies_; }
  // A backend finished slot `seq` (already appended to replies().buffer_for(seq)).
  void reply_done(uint64_t seq);
  // Local replies: reserve, append and complete in one go.
  void reply_now(size_t request_bytes, std::string_view bytes);

  // Backend requests and the worker's flush list hold the connection open by count: it is
  // forgotten only once nothing refers to it any more.
  void add_ref() { ++refs_; }
  void release();
  // A request of this client was queued on a backend connection / got its reply (or failed).
  // Besides holding a reference, these bound the client's share of the shared connections.
  void backend_request_sent() {
    ++backend_requests_;
    add_ref();
  }
  void backend_request_done() {
    --backend_requests_;
    release();
  }

  void flush();
  void close();
  bool closed() const { return closed_; }
  void quit() { quitting_ = true; }
  // Shutdown: read nothing more; close once the replies of what was already read are written
  // (at once if there are none).
  void drain();
  // A reload may change the limits; the next request is parsed with the new ones.
  void apply_limits();
  // No request outstanding, nothing being written, and no complete request or written reply for
  // `limit`.
  bool idle_expired(Clock::time_point now, Clock::duration limit) const {
    return activity_.idle_expired(now, limit, replies_.open_slots() != 0 || writing_);
  }
  // Closes a client that is not reading its replies (guards.h, must_cut_off); true if it did.
  bool cut_off_if_stalled(Clock::time_point now);

  bool writing() const { return writing_; }

  bool flush_queued = false;    // on the worker's flush list already
  bool watched_writer = false;  // on the worker's list of clients with a write in flight

 private:
  void read();
  void on_readable(const boost::system::error_code& ec);
  void process();
  void wait_writable();
  void on_writable(const boost::system::error_code& ec);
  void maybe_resume();
  ClientFlow flow() const {
    return ClientFlow{replies_.unanswered_bytes(), unsent_reply_bytes(), backend_requests_};
  }
  size_t unsent_reply_bytes() const {
    return replies_.output().size() + (writing_buf_.size() - writing_off_);
  }
  void maybe_forget();
  // The socket, or the TLS session over it: would_block when it must wait (which way: below).
  size_t read_some(char* buf, size_t n, boost::system::error_code& ec);
  size_t write_some(const char* buf, size_t n, boost::system::error_code& ec);

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsSession> tls_;
  // TLS may need the other direction first (a handshake message, a key update).
  bool read_waits_writable_ = false;
  bool write_waits_readable_ = false;
  protocol::RequestParser parser_;
  protocol::Request request_;
  ReplyQueue replies_;
  std::vector<char> in_;
  size_t in_len_ = 0;
  std::string writing_buf_;
  size_t writing_off_ = 0;  // bytes of writing_buf_ already written
  ClientFlowLimits flow_limits_;
  ActivityClock activity_;
  Clock::time_point last_write_progress_;  // the client last took reply bytes (or began to owe)
  size_t backend_requests_ = 0;
  int refs_ = 0;
  bool parse_paused_ = false;  // requests read but left unparsed by back-pressure (in in_)
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool quitting_ = false;
  bool forgotten_ = false;
};

}  // namespace mccache::net
