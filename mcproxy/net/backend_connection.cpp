// Backend connection lifecycle: connect (with timeout), pipelined write/read, and on any failure
// fail every waiting request with SERVER_ERROR, count it towards "down", and reconnect later.
#include "mcproxy/net/backend_connection.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <cstring>

#include "mcproxy/net/client_connection.h"
#include "mcproxy/net/worker.h"
#include "mcproxy/protocol/reply_writer.h"

namespace mccache::net {

namespace asio = boost::asio;
using protocol::ReplyCode;

namespace {
constexpr size_t kReadChunk = 64 * 1024;
}

BackendConnection::BackendConnection(Worker& worker, size_t server)
    : worker_(worker),
      server_(server),
      socket_(worker.io()),
      retry_timer_(worker.io()),
      in_(kReadChunk) {}

void BackendConnection::connect() {
  if (stopped_) return;
  state_ = State::kConnecting;
  connect_started_ = Clock::now();
  const auto& hp = worker_.pool().server(server_);
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
  state_ = State::kConnected;
  // A TCP connect alone does not prove memcached answers (a hung process still accepts), so
  // the first reply, to this probe, is what marks the server healthy (on_read). It goes ahead
  // of any requests queued while connecting, in both the byte stream and the FIFO.
  out_.insert(0, "version\r\n");
  pending_.insert(pending_.begin() + static_cast<ptrdiff_t>(pending_head_),
                  PendingReply{nullptr, 0, protocol::Command::kVersion, ReplyAction::kDiscard,
                               Clock::now()});
  read();
  flush();
}

void BackendConnection::expect(const PendingReply& p) {
  if (pending_head_ > 0 && pending_head_ == pending_.size()) {
    pending_.clear();
    pending_head_ = 0;
  }
  pending_.push_back(p);
  if (p.client) p.client->add_ref();
  worker_.want_flush(*this);
}

void BackendConnection::flush() {
  if (writing_ || out_.empty() || state_ != State::kConnected) return;
  bump(worker_.counters().backend_bytes_out, out_.size());
  // Direct non-blocking write first; only a partial write needs an async operation.
  boost::system::error_code ec;
  size_t n = socket_.write_some(asio::buffer(out_), ec);
  if (!ec && n == out_.size()) {
    out_.clear();
    return;
  }
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    fail("write failed");
    return;
  }
  if (!ec) out_.erase(0, n);
  writing_ = true;
  writing_buf_.swap(out_);
  uint64_t gen = generation_;
  asio::async_write(socket_, asio::buffer(writing_buf_),
                    [this, gen](const boost::system::error_code& ec, size_t n) {
                      on_write(gen, ec, n);
                    });
}

void BackendConnection::on_write(uint64_t generation, const boost::system::error_code& ec,
                                 size_t) {
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
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [this, gen](const boost::system::error_code& ec) {
                       if (gen != generation_) return;
                       if (ec) {
                         fail("read failed");
                         return;
                       }
                       if (in_len_ == in_.size()) in_.resize(in_.size() * 2);
                       boost::system::error_code rec;
                       size_t n = socket_.read_some(
                           asio::buffer(in_.data() + in_len_, in_.size() - in_len_), rec);
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
    fail(ec == asio::error::eof ? "connection closed by server" : "read failed");
    return;
  }
  worker_.touch_clock();
  in_len_ += n;
  bump(worker_.counters().backend_bytes_in, n);
  std::string_view input(in_.data(), in_len_);
  size_t used = 0;
  protocol::Reply reply;
  auto now = worker_.now();
  auto& counters = worker_.counters();
  while (used < input.size()) {
    auto step = parser_.next(input.substr(used), reply);
    if (step.status == protocol::ReplyParser::Status::kNeedMore) break;
    if (step.status == protocol::ReplyParser::Status::kError || pending_head_ == pending_.size()) {
      fail(step.status == protocol::ReplyParser::Status::kError ? "unparsable reply"
                                                                 : "reply nobody asked for");
      return;
    }
    PendingReply p = pending_[pending_head_++];
    counters.observe_latency(server_, now - p.sent);
    deliver(p, reply);
    used += step.consumed;
  }
  if (used > 0) {
    std::memmove(in_.data(), in_.data() + used, in_len_ - used);
    in_len_ -= used;
    worker_.on_backend_success(server_);
  }
  // Under steady pipelined load the FIFO is rarely empty at this point; drop the answered front
  // now and then so it does not grow without bound (the erase moves only what is outstanding).
  if (pending_head_ == pending_.size() || pending_head_ >= 1024) {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(pending_head_));
    pending_head_ = 0;
  }
  read();
}

void BackendConnection::deliver(const PendingReply& p, const protocol::Reply& reply) {
  ClientConnection* client = p.client;
  if (client == nullptr) return;
  auto& counters = worker_.counters();
  if (!client->closed()) {
    std::string& out = client->replies().buffer_for(p.seq);
    Result result = result_of(reply);
    switch (p.action) {
      case ReplyAction::kPassThrough:
        out.append(reply.raw);
        break;
      case ReplyAction::kDiscard:
        break;
      case ReplyAction::kGetOnlyKey:
      case ReplyAction::kGetOneOfMany: {
        bool cas = p.command == protocol::Command::kGets || p.command == protocol::Command::kGats;
        size_t before = out.size();
        auto t = protocol::translate_meta_get(reply, reply.flag('k'), cas, out);
        if (t.give_back_win) {
          protocol::append_give_back_win(out_, reply.flag('k'), worker_.config().leases.stale_ttl_s);
          expect(PendingReply{nullptr, 0, protocol::Command::kMetaDelete, ReplyAction::kDiscard,
                              p.sent});
        }
        if (t.result == protocol::GetResult::kError) {
          if (p.action == ReplyAction::kGetOneOfMany) out.resize(before);
          result = Result::kServerError;
        } else {
          bool hit = t.result == protocol::GetResult::kHit;
          bump(hit ? counters.get_hits : counters.get_misses);
          result = hit ? Result::kHit : Result::kMiss;
          if (p.action == ReplyAction::kGetOnlyKey) out.append(protocol::kEndReply);
        }
        break;
      }
      case ReplyAction::kInvalidate:
        protocol::translate_invalidate(reply, out);
        break;
      case ReplyAction::kQuietMetaGet:
        if (reply.code != ReplyCode::kMiss) out.append(reply.raw);
        break;
      case ReplyAction::kQuietMetaOther:
        if (reply.code != ReplyCode::kHeader) out.append(reply.raw);
        break;
      case ReplyAction::kBroadcastPart:
        if (reply.line != "OK") out.append(reply.raw);
        break;
    }
    counters.count(p.command, result);
  }
  client->reply_done(p.seq);
  client->release();
}

void BackendConnection::fail(const char* why) {
  const auto& name = worker_.pool().name(server_);
  if (state_ == State::kConnected || outstanding() > 0)
    spdlog::warn("backend {}: {}; failing {} waiting request(s)", name, why, outstanding());
  ++generation_;
  boost::system::error_code ignored;
  socket_.close(ignored);
  state_ = State::kDisconnected;
  writing_ = false;
  writing_buf_.clear();
  out_.clear();
  in_len_ = 0;
  bump(worker_.counters().servers[server_].failures);
  std::string reason = "backend " + name + " " + why;
  // Move the waiting list out first: delivering may make clients close, which never re-enters
  // this connection, but keeps the loop simple to reason about.
  std::vector<PendingReply> waiting(pending_.begin() + static_cast<ptrdiff_t>(pending_head_),
                                    pending_.end());
  pending_.clear();
  pending_head_ = 0;
  for (const auto& p : waiting) {
    if (p.client == nullptr) continue;
    if (!p.client->closed()) {
      std::string& out = p.client->replies().buffer_for(p.seq);
      if (p.action != ReplyAction::kGetOneOfMany && p.action != ReplyAction::kDiscard)
        protocol::append_server_error(out, reason);
      worker_.counters().count(p.command, Result::kServerError);
    }
    p.client->reply_done(p.seq);
    p.client->release();
  }
  worker_.on_backend_failure(server_);
  schedule_reconnect();
}

void BackendConnection::schedule_reconnect() {
  if (stopped_) return;
  // A server that is up gets a quick retry (a restart or a dropped connection); a down server is
  // probed at probe_interval_ms so a dead host costs one connect per interval per connection.
  const auto& b = worker_.config().backend;
  int delay_ms = worker_.pool().health(server_).down() ? b.probe_interval_ms
                                                        : std::min(100, b.probe_interval_ms);
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
  if (pending_head_ < pending_.size() &&
      now - pending_[pending_head_].sent > std::chrono::milliseconds(b.request_timeout_ms)) {
    fail("request timed out");
  }
}

void BackendConnection::stop() {
  stopped_ = true;
  ++generation_;
  boost::system::error_code ignored;
  retry_timer_.cancel();
  socket_.close(ignored);
}

}  // namespace mccache::net
