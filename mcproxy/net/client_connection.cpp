// Client side: read → parse every complete request → route; replies leave in request order.
// Back-pressure (guards.h): a client with max_pipeline_bytes of unanswered requests or of unsent
// replies, or with too many requests on the shared backend connections, is not read from (nor
// parsed) until they drain; one that does not read its replies at all is cut off.
#include "mcproxy/net/client_connection.h"

#include <boost/asio/post.hpp>

#include <cstring>

#include "mcproxy/net/worker.h"

namespace mccache::net {

namespace asio = boost::asio;

namespace {
constexpr size_t kInitialReadBuffer = 16 * 1024;

protocol::ParserLimits parser_limits(const config::LimitsConfig& limits) {
  return protocol::ParserLimits{static_cast<size_t>(limits.max_key_bytes),
                                static_cast<size_t>(limits.max_value_bytes), 2048, 1 << 20};
}
}  // namespace

ClientConnection::ClientConnection(Worker& worker, asio::ip::tcp::socket socket)
    : worker_(worker),
      socket_(std::move(socket)),
      parser_(parser_limits(worker.config().limits)),
      in_(kInitialReadBuffer),
      flow_limits_(ClientFlowLimits::from(worker.config().limits)),
      activity_(worker.now()),
      last_write_progress_(worker.now()) {}

void ClientConnection::apply_limits() {
  parser_.set_limits(parser_limits(worker_.config().limits));
  flow_limits_ = ClientFlowLimits::from(worker_.config().limits);
}

void ClientConnection::drain() {
  if (closed()) return;
  if (waiting_since_) {
    // What it holds for a backend was read before the drain: it gets its answer now (served,
    // or the SERVER_ERROR of a server that is not ready), not a silent close.
    never_wait_ = true;
    waiting_ = false;
    process();
  }
  quitting_ = true;
  // flush() closes the connection once nothing is outstanding and everything is written.
  worker_.want_flush(*this);
}

void ClientConnection::use_tls(const TlsContext& ctx) {
  tls_ = std::make_unique<TlsSession>(ctx, socket_.native_handle());
}

namespace {
boost::system::error_code tls_error(TlsWait wait) {
  switch (wait) {
    case TlsWait::kNone:
      return {};
    case TlsWait::kReadable:
    case TlsWait::kWritable:
      return asio::error::would_block;
    case TlsWait::kClosed:
      return asio::error::eof;
    case TlsWait::kFailed:
      break;
  }
  return asio::error::connection_aborted;
}
}  // namespace

size_t ClientConnection::read_some(char* buf, size_t n, boost::system::error_code& ec) {
  if (!tls_) return socket_.read_some(asio::buffer(buf, n), ec);
  TlsWait wait = TlsWait::kNone;
  size_t got = tls_->read(buf, n, wait);
  read_waits_writable_ = wait == TlsWait::kWritable;
  ec = tls_error(wait);
  return got;
}

size_t ClientConnection::write_some(const char* buf, size_t n, boost::system::error_code& ec) {
  if (!tls_) return socket_.write_some(asio::buffer(buf, n), ec);
  TlsWait wait = TlsWait::kNone;
  size_t put = tls_->write(buf, n, wait);
  write_waits_readable_ = wait == TlsWait::kReadable;
  ec = tls_error(wait);
  return put;
}

void ClientConnection::start() {
  boost::system::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket_.non_blocking(true, ignored);
  read();
}

void ClientConnection::read() {
  if (reading_ || closed() || quitting_) return;
  reading_ = true;
  if (tls_ && tls_->has_buffered()) {
    // Decrypted bytes already wait inside OpenSSL; the socket may never become readable again.
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->on_readable({}); });
    return;
  }
  // Wait for readability, then read ourselves: async_read_some would first try a speculative
  // read that, at pipeline depth 1, is an extra EAGAIN syscall per request.
  socket_.async_wait(read_waits_writable_ ? asio::ip::tcp::socket::wait_write
                                          : asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->on_readable(ec);
                     });
}

void ClientConnection::on_readable(const boost::system::error_code& ec) {
  reading_ = false;
  if (closed()) return;
  if (ec) {
    close();
    return;
  }
  if (in_len_ == in_.size()) in_.resize(in_.size() * 2);
  boost::system::error_code rec;
  size_t n = read_some(in_.data() + in_len_, in_.size() - in_len_, rec);
  if (rec == asio::error::would_block || rec == asio::error::try_again) {
    read();
    return;
  }
  if (rec) {
    close();
    return;
  }
  // Bytes alone do not make the client active (guards.h, ActivityClock): process() does, per
  // complete request.
  worker_.touch_clock();
  in_len_ += n;
  bump(worker_.counters().bytes_in, n);
  process();
  if (closed()) return;
  worker_.want_flush(*this);
  maybe_resume();
}

void ClientConnection::process() {
  std::string_view input(in_.data(), in_len_);
  size_t used = 0;
  while (used < input.size() && !quitting_ && !closed()) {
    if (!may_parse(flow_limits_, flow())) {
      parse_paused_ = true;  // maybe_resume() goes on once replies drain
      break;
    }
    auto step = parser_.next(input.substr(used), request_);
    if (step.status == protocol::RequestParser::Status::kNeedMore) {
      used += step.consumed;
      break;
    }
    activity_.request_parsed(worker_.now());
    if (step.status == protocol::RequestParser::Status::kError) {
      reply_now(step.consumed, step.error);
      bump(worker_.counters().requests[kInvalidCommand][static_cast<size_t>(Result::kClientError)]);
      used += step.consumed;
      if (step.close) {
        quitting_ = true;  // say why, then close once the reply is out
        break;
      }
      continue;
    }
    if (!never_wait_ && worker_.must_wait(request_, waiting_since_.value_or(worker_.now()))) {
      // Left in in_, parsed again when woken; only what the parser swallowed before it is used.
      if (!waiting_since_) waiting_since_ = worker_.now();
      used += step.consumed - request_.size;
      waiting_ = true;
      worker_.wait_for_backend(*this);
      break;
    }
    waiting_since_.reset();
    worker_.plan(*this, request_);
    used += step.consumed;
  }
  if (used > 0) {
    std::memmove(in_.data(), in_.data() + used, in_len_ - used);
    in_len_ -= used;
  }
}

void ClientConnection::resume_waiting() {
  waiting_ = false;
  if (closed()) return;
  maybe_resume();
}

void ClientConnection::maybe_resume() {
  if (quitting_ || closed() || waiting_) return;
  if (parse_paused_ || waiting_since_) {
    // Requests already read come first; no readability event will announce them again.
    if (!may_parse(flow_limits_, flow())) return;
    parse_paused_ = false;
    process();
    if (closed()) return;
    worker_.want_flush(*this);
    if (parse_paused_ || waiting_ || quitting_) return;
  }
  if (may_read(flow_limits_, flow())) read();
}

void ClientConnection::flush() {
  if (closed()) return;
  auto& out = replies().output();
  if (!writing_ && !out.empty()) {
    bump(worker_.counters().bytes_out, out.size());
    // Try a direct non-blocking write first: usually the socket takes it all and no async
    // operation (and no completion handler) is needed at all.
    boost::system::error_code ec;
    size_t n = write_some(out.data(), out.size(), ec);
    if (!ec && n == out.size()) {
      out.clear();
      activity_.reply_written(worker_.now());
    } else if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      close();
      return;
    } else {
      if (!ec) out.erase(0, n);
      // The stall clock starts when the client first owes us a write.
      last_write_progress_ = worker_.now();
      writing_ = true;
      writing_off_ = 0;
      writing_buf_.swap(out);
      worker_.watch_writer(*this);
      wait_writable();
    }
  }
  if (!writing_ && quitting_ && replies().open_slots() == 0) {
    close();
    return;
  }
  if (cut_off_if_stalled(worker_.now())) return;
  maybe_resume();  // replies drained: a client paused by back-pressure may go on
}

void ClientConnection::wait_writable() {
  // Writes are waited for and made here, not with async_write, so each chunk the client takes
  // counts as progress (must_cut_off tells a slow reader from one that does not read).
  socket_.async_wait(write_waits_readable_ ? asio::ip::tcp::socket::wait_read
                                           : asio::ip::tcp::socket::wait_write,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->on_writable(ec);
                     });
}

void ClientConnection::on_writable(const boost::system::error_code& ec) {
  if (closed()) return;
  if (ec) {
    close();
    return;
  }
  // Write until the socket is full, up to a fair share per wake-up: a TLS write takes one
  // record (16 KiB) at a time, and waiting for writability after each would crawl.
  constexpr size_t kWriteShare = 1 << 20;
  size_t written = 0;
  while (writing_off_ < writing_buf_.size() && written < kWriteShare) {
    boost::system::error_code wec;
    size_t n =
        write_some(writing_buf_.data() + writing_off_, writing_buf_.size() - writing_off_, wec);
    if (wec == asio::error::would_block || wec == asio::error::try_again) break;
    if (wec) {
      close();
      return;
    }
    writing_off_ += n;
    written += n;
  }
  if (written > 0) {
    worker_.touch_clock();
    last_write_progress_ = worker_.now();
  }
  if (writing_off_ < writing_buf_.size()) {
    wait_writable();
    return;
  }
  writing_ = false;
  writing_off_ = 0;
  writing_buf_.clear();
  activity_.reply_written(worker_.now());
  flush();
}

bool ClientConnection::cut_off_if_stalled(Clock::time_point now) {
  if (closed() || !writing_) return false;
  if (!must_cut_off(flow_limits_, unsent_reply_bytes(), last_write_progress_, now)) return false;
  bump(worker_.counters().clients_cut_off);
  close();
  return true;
}

void ClientConnection::close() {
  if (closed()) return;
  mark_closed();
  if (tls_) tls_->shutdown();
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  maybe_forget();
}

void ClientConnection::release() {
  core::Session::release();
  maybe_forget();
}

void ClientConnection::maybe_forget() {
  if (forgettable() && !forgotten_) {
    forgotten_ = true;
    worker_.forget(this);
  }
}

}  // namespace mccache::net
