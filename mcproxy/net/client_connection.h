// One client socket, the shell of a core::Session: reads many requests per wake-up, hands each to
// the core (through the worker) and writes the in-order replies back, at most one write in
// flight. How much it may hold (requests, replies, backend requests) is bounded by guards.h.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mcproxy/core/session.h"
#include "mcproxy/net/guards.h"
#include "mcproxy/net/tls.h"
#include "mcproxy/protocol/request_parser.h"

namespace mccache::net {

class Worker;

class ClientConnection : public core::Session,
                         public std::enable_shared_from_this<ClientConnection> {
 public:
  ClientConnection(Worker& worker, boost::asio::ip::tcp::socket socket);

  // The listener speaks TLS: every byte of this connection goes through a session of `ctx`.
  // Before start().
  void use_tls(const TlsContext& ctx);
  void start();
  // Drops the flush list's hold (core::Session::add_ref); forgotten once nothing holds it.
  void release();

  void flush();
  void close();
  void quit() { quitting_ = true; }
  // Shutdown: read nothing more; close once the replies of what was already read are written
  // (at once if there are none).
  void drain();
  // A reload may change the limits; the next request is parsed with the new ones.
  void apply_limits();
  // No request outstanding, nothing being written, and no complete request or written reply for
  // `limit`.
  bool idle_expired(Clock::time_point now, Clock::duration limit) const {
    return activity_.idle_expired(now, limit, replies().open_slots() != 0 || writing_);
  }
  // Closes a client that is not reading its replies (guards.h, must_cut_off); true if it did.
  bool cut_off_if_stalled(Clock::time_point now);

  bool writing() const { return writing_; }
  // The request this client holds for a backend that was not ready (Worker::must_wait) may go
  // now, or has waited long enough: go on parsing and reading.
  void resume_waiting();

  bool watched_writer = false;  // on the worker's list of clients with a write in flight

 private:
  void read();
  void on_readable(const boost::system::error_code& ec);
  void process();
  void wait_writable();
  void on_writable(const boost::system::error_code& ec);
  void maybe_resume();
  ClientFlow flow() const {
    return ClientFlow{replies().unanswered_bytes(), unsent_reply_bytes(), backend_requests()};
  }
  size_t unsent_reply_bytes() const {
    return replies().output().size() + (writing_buf_.size() - writing_off_);
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
  std::vector<char> in_;
  size_t in_len_ = 0;
  std::string writing_buf_;
  size_t writing_off_ = 0;  // bytes of writing_buf_ already written
  ClientFlowLimits flow_limits_;
  ActivityClock activity_;
  Clock::time_point last_write_progress_;  // the client last took reply bytes (or began to owe)
  bool parse_paused_ = false;  // requests read but left unparsed by back-pressure (in in_)
  // The request at the front of in_ waits for its backend (Worker::wait_for_backend) since then.
  std::optional<Clock::time_point> waiting_since_;
  bool waiting_ = false;  // on the worker's waiting list: neither read nor parse until woken
  bool never_wait_ = false;  // draining: nothing waits any more
  bool reading_ = false;
  bool writing_ = false;
  bool quitting_ = false;
  bool forgotten_ = false;
};

}  // namespace mccache::net
