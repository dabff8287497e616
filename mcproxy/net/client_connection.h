// One client socket: reads many requests per wake-up, hands each to the worker's router and
// writes the in-order replies back, at most one write in flight.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mcproxy/net/backend_connection.h"
#include "mcproxy/net/reply_queue.h"
#include "mcproxy/protocol/request_parser.h"

namespace mccache::net {

class ClientConnection : public std::enable_shared_from_this<ClientConnection> {
 public:
  ClientConnection(Worker& worker, boost::asio::ip::tcp::socket socket);

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

  void flush();
  void close();
  bool closed() const { return closed_; }
  void quit() { quitting_ = true; }
  // Shutdown: read nothing more; close once the replies of what was already read are written
  // (at once if there are none).
  void drain();
  // A reload may change the limits; the next request is parsed with the new ones.
  void apply_limits();
  Clock::time_point last_active() const { return last_active_; }
  bool idle() const { return replies_.open_slots() == 0 && !writing_; }

  bool flush_queued = false;  // on the worker's flush list already

 private:
  void read();
  void on_readable(const boost::system::error_code& ec);
  void process();
  void on_write(const boost::system::error_code& ec, size_t n);
  void maybe_resume();
  void maybe_forget();

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  protocol::RequestParser parser_;
  protocol::Request request_;
  ReplyQueue replies_;
  std::vector<char> in_;
  size_t in_len_ = 0;
  std::string writing_buf_;
  Clock::time_point last_active_;
  int refs_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool quitting_ = false;
  bool forgotten_ = false;
};

}  // namespace mccache::net
