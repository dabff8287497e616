// Backend connection lifecycle: connect (with timeout), pipelined write/read, and on any failure
// let the core fail every waiting request, count it towards "down", and reconnect later.
#include "mcproxy/net/backend_connection.h"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

#include "mcproxy/core/reply_translate.h"
#include "mcproxy/net/guards.h"
#include "mcproxy/net/worker.h"

namespace mccache::net {

namespace asio = boost::asio;

namespace {
constexpr size_t kReadChunk = 64 * 1024;
}

BackendConnection::BackendConnection(Worker& worker, ServerLink& link)
    : core::BackendChannel(link),
      worker_(worker),
      link_(link),
      socket_(worker.io()),
      retry_timer_(worker.io()),
      in_(kReadChunk) {}

void BackendConnection::set_state(State s) {
  state_ = s;
  set_accepting(state_ == State::kConnected && !retiring_);
  worker_.backends_changed();
}

void BackendConnection::connect() {
  if (stopped_) return;
  set_state(State::kConnecting);
  connect_started_ = Clock::now();
  const auto& hp = link_.server->address;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(hp.host, ec);
  if (ec) {
    // Host names are resolved once per attempt; loopback/IPs skip the resolver entirely.
    asio::ip::tcp::resolver resolver(worker_.io());
    auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
    if (ec || results.empty()) {
      fail("cannot resolve host");
      return;
    }
    address = results.begin()->endpoint().address();
  }
  uint64_t gen = generation_;
  socket_.async_connect(asio::ip::tcp::endpoint(address, hp.port),
                        [this, gen](const boost::system::error_code& e) { on_connect(gen, e); });
}

void BackendConnection::on_connect(uint64_t generation, const boost::system::error_code& ec) {
  if (generation != generation_ || stopped_) return;
  if (ec) {
    fail("connect failed");
    return;
  }
  boost::system::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket_.non_blocking(true, ignored);
  set_state(State::kConnected);
  last_read_ = Clock::now();
  // A TCP connect alone does not prove memcached answers (a hung process still accepts): the
  // reply to the core's `stats` probe, queued ahead of everything, is what marks it healthy.
  connected(last_read_);
  read();
  flush();
  worker_.wake_waiting();  // clients waiting for this server may send now
}

void BackendConnection::flush() {
  std::string& out = this->out();
  if (writing_ || out.empty() || state_ != State::kConnected) return;
  bump(worker_.counters().backend_bytes_out, out.size());
  // Direct non-blocking write first; only a partial write needs an async operation.
  boost::system::error_code ec;
  size_t n = socket_.write_some(asio::buffer(out), ec);
  if (!ec && n == out.size()) {
    out.clear();
    return;
  }
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    fail("write failed");
    return;
  }
  if (!ec) out.erase(0, n);
  writing_ = true;
  writing_buf_.swap(out);
  uint64_t gen = generation_;
  asio::async_write(
      socket_, asio::buffer(writing_buf_),
      [this, gen](const boost::system::error_code& ec, size_t n) { on_write(gen, ec, n); });
}

void BackendConnection::on_write(uint64_t generation, const boost::system::error_code& ec, size_t) {
  if (generation != generation_) return;
  writing_ = false;
  writing_buf_.clear();
  if (ec) {
    fail("write failed");
    return;
  }
  flush();
}

void BackendConnection::read() {
  uint64_t gen = generation_;
  // Readiness first, then one non-blocking read: no speculative EAGAIN read per batch.
  socket_.async_wait(
      asio::ip::tcp::socket::wait_read, [this, gen](const boost::system::error_code& ec) {
        if (gen != generation_) return;
        if (ec) {
          fail("read failed");
          return;
        }
        if (in_len_ == in_.size()) in_.resize(in_.size() * 2);
        boost::system::error_code rec;
        size_t n = socket_.read_some(asio::buffer(in_.data() + in_len_, in_.size() - in_len_), rec);
        if (rec == asio::error::would_block || rec == asio::error::try_again) {
          read();
          return;
        }
        on_read(gen, rec, n);
      });
}

void BackendConnection::on_read(uint64_t generation, const boost::system::error_code& ec,
                                size_t n) {
  if (generation != generation_) return;
  if (ec) {
    // An idle connection the server closes (a restart, its own idle limit) failed nothing: it
    // is not counted towards "down", or one restart would count once per connection and mark
    // a healthy server down. Whether the reconnect succeeds is what counts.
    bool eof = ec == asio::error::eof;
    fail(eof ? "connection closed by server" : "read failed", eof && outstanding() == 0);
    return;
  }
  worker_.touch_clock();
  last_read_ = worker_.now();
  in_len_ += n;
  bump(worker_.counters().backend_bytes_in, n);
  std::string_view input(in_.data(), in_len_);
  size_t used = 0;
  bool had_epoch = epoch().has_value();
  pool::Reply reply;
  auto& ctx = worker_.core_context();
  while (used < input.size()) {
    auto step = parser_.next(input.substr(used), reply);
    if (step.status == pool::ReplyParser::Status::kNeedMore) break;
    if (step.status == pool::ReplyParser::Status::kError) {
      fail("unparsable reply");
      return;
    }
    core::Delivery d = core::deliver(*this, reply, ctx);
    if (d.status == core::Delivery::Status::kUnasked) {
      fail("reply out of step (nobody asked for it, or not of the kind asked for)");
      return;
    }
    if (d.status == core::Delivery::Status::kNoIdentity)
      spdlog::error("backend {}: `stats` has no pid/time/uptime; lease commands to it will fail",
                    link_.server->name);
    if (d.sent) link_.counters->observe_latency(ctx.now - *d.sent);
    used += step.consumed;
  }
  if (used > 0) {
    std::memmove(in_.data(), in_.data() + used, in_len_ - used);
    in_len_ -= used;
    worker_.on_backend_success(link_);
  }
  // The probe's reply is in: lease-sets waiting for the epoch may be checked now.
  if (!had_epoch && epoch().has_value()) worker_.wake_waiting();
  worker_.flush_soon();
  if (retiring_ && outstanding() == 0) {
    stop();
    return;
  }
  settle();
  read();
}

void BackendConnection::fail(const char* why, bool idle_close) {
  if (stopped_) return;
  const auto& name = link_.server->name;
  if (state_ == State::kConnected || outstanding() > 0)
    spdlog::warn("backend {}: {}; failing {} waiting request(s)", name, why, outstanding());
  ++generation_;
  boost::system::error_code ignored;
  socket_.close(ignored);
  set_state(State::kDisconnected);
  writing_ = false;
  writing_buf_.clear();
  in_len_ = 0;
  bump(link_.counters->failures);
  core::BackendChannel::fail("backend " + name + " " + why, worker_.core_context());
  worker_.flush_soon();
  if (retiring_) {
    stop();
    return;
  }
  if (!idle_close) worker_.on_backend_failure(link_);
  schedule_reconnect();
}

void BackendConnection::schedule_reconnect() {
  if (stopped_) return;
  // A server that is up gets a quick retry (a restart or a dropped connection); a down server is
  // probed at probe_interval_ms so a dead host costs one connect per interval per connection.
  const auto& b = worker_.config().backend;
  int delay_ms =
      link_.server->health.down() ? b.probe_interval_ms : std::min(100, b.probe_interval_ms);
  retry_timer_.expires_after(std::chrono::milliseconds(delay_ms));
  uint64_t gen = generation_;
  retry_timer_.async_wait([this, gen](const boost::system::error_code& ec) {
    if (ec || gen != generation_ || stopped_) return;
    connect();
  });
}

void BackendConnection::check_timeouts(Clock::time_point now) {
  const auto& b = worker_.config().backend;
  if (state_ == State::kConnecting &&
      now - connect_started_ > std::chrono::milliseconds(b.connect_timeout_ms)) {
    fail("connect timed out");
    return;
  }
  // Not the age of the oldest request: behind a deep pipeline that is being answered it may be
  // old without anything being wrong with the server.
  if (backend_stalled(now, oldest_sent(), last_read_,
                      std::chrono::milliseconds(b.request_timeout_ms)))
    fail("request timed out");
}

void BackendConnection::stop() {
  if (stopped_) return;
  stopped_ = true;
  stopped_at_ = Clock::now();
  ++generation_;
  set_state(State::kDisconnected);
  boost::system::error_code ignored;
  retry_timer_.cancel();
  socket_.close(ignored);
}

void BackendConnection::retire() {
  retiring_ = true;
  set_state(state_);  // takes no more requests
  if (outstanding() == 0) stop();
}

bool BackendConnection::finished(Clock::time_point now) const {
  // Closing the socket and cancelling the timer queue their handlers at once; a second is ample.
  return stopped_ && now - stopped_at_ > std::chrono::seconds(1);
}

}  // namespace mccache::net
