// Backend connection lifecycle: connect (with timeout), pipelined write/read, and on any failure
// fail every waiting request with SERVER_ERROR, count it towards "down", and reconnect later.
#include "mcproxy/net/backend_connection.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <cstring>

#include "lease/client_reply.h"
#include "lease/lease_get.h"
#include "lease/lease_set.h"
#include "lease/plain_ops.h"
#include "mcproxy/net/client_connection.h"
#include "mcproxy/net/guards.h"
#include "mcproxy/net/worker.h"

namespace mccache::net {

namespace asio = boost::asio;
using pool::ReplyStatus;

namespace {
constexpr size_t kReadChunk = 64 * 1024;
}

BackendConnection::BackendConnection(Worker& worker, ServerLink& link)
    : worker_(worker),
      link_(link),
      socket_(worker.io()),
      retry_timer_(worker.io()),
      in_(kReadChunk) {}

void BackendConnection::connect() {
  if (stopped_) return;
  state_ = State::kConnecting;
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
  state_ = State::kConnected;
  last_read_ = Clock::now();
  // A TCP connect alone does not prove memcached answers (a hung process still accepts), so
  // the first reply, to this probe, is what marks the server healthy (on_read). It goes ahead
  // of any requests queued while connecting, in both the byte stream and the FIFO.
  // The probe is `stats`: its pid and start time give the lease epoch (lease/backend_epoch.h)
  // before any request of this connection is answered.
  out_.insert(0, "stats\r\n");
  pending_.insert(pending_.begin() + static_cast<ptrdiff_t>(pending_head_),
                  PendingReply{nullptr, 0, protocol::Command::kStats, ReplyAction::kEpochProbe,
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
  if (p.client) p.client->backend_request_sent();
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
  last_read_ = worker_.now();
  in_len_ += n;
  bump(worker_.counters().backend_bytes_in, n);
  std::string_view input(in_.data(), in_len_);
  size_t used = 0;
  pool::Reply reply;
  auto now = worker_.now();
  auto& counters = *link_.counters;
  while (used < input.size()) {
    auto step = parser_.next(input.substr(used), reply);
    if (step.status == pool::ReplyParser::Status::kNeedMore) break;
    if (step.status == pool::ReplyParser::Status::kError || pending_head_ == pending_.size()) {
      fail(step.status == pool::ReplyParser::Status::kError ? "unparsable reply"
                                                                 : "reply nobody asked for");
      return;
    }
    PendingReply p = pending_[pending_head_++];
    counters.observe_latency(now - p.sent);
    deliver(p, reply);
    used += step.consumed;
  }
  if (used > 0) {
    std::memmove(in_.data(), in_.data() + used, in_len_ - used);
    in_len_ -= used;
    worker_.on_backend_success(link_);
  }
  if (retiring_ && outstanding() == 0) {
    stop();
    return;
  }
  // Under steady pipelined load the FIFO is rarely empty at this point; drop the answered front
  // now and then so it does not grow without bound (the erase moves only what is outstanding).
  if (pending_head_ == pending_.size() || pending_head_ >= 1024) {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(pending_head_));
    pending_head_ = 0;
  }
  read();
}

namespace {

bool wants_cas(protocol::Command c) {
  return c == protocol::Command::kGets || c == protocol::Command::kGats;
}

}  // namespace

void BackendConnection::on_epoch_probe(const pool::Reply& reply) {
  epoch_probe_done_ = true;
  const auto& name = link_.server->name;
  auto identity = lease::identity_from_stats(reply.raw);
  if (!identity) {
    // Leases on this connection answer SERVER_ERROR; everything else still works.
    spdlog::error("backend {}: `stats` has no pid/time/uptime; lease commands to it will fail",
                  name);
    return;
  }
  epoch_ = lease::BackendEpoch::of(name, *identity);
  bump(worker_.counters().epoch_refreshes);
}

Result BackendConnection::deliver_get(const PendingReply& p, const pool::Reply& reply,
                                      std::string* out) {
  lease::PlainGetOutcome o = lease::classify_plain_get(reply, worker_.lease_settings_for(link_));
  std::string_view key = reply.meta.key;
  if (o.give_back && !key.empty()) {
    // Even for a client that has gone: the win would otherwise starve lease-get clients.
    lease::append_give_back_command(out_, key, o.give_back_cas, o.give_back_ttl_s);
    expect(PendingReply{nullptr, 0, protocol::Command::kMetaDelete, ReplyAction::kGiveBack,
                        p.sent});
    bump(worker_.counters().give_backs);
  }
  if (out == nullptr) return Result::kOk;
  bool only_key = p.action == ReplyAction::kGetOnlyKey;
  if (o.backend_error) {
    if (only_key) lease::append_server_error(*out, o.error);
    return Result::kServerError;
  }
  auto& counters = worker_.counters();
  bump(o.hit ? counters.get_hits : counters.get_misses);
  if (o.hit)
    lease::append_value_block(*out, key, o.client_flags, o.value,
                              wants_cas(p.command) ? std::optional<uint64_t>(o.cas) : std::nullopt);
  if (only_key) out->append(lease::kEnd);
  return o.hit ? Result::kHit : Result::kMiss;
}

Result BackendConnection::deliver_lease_get(const PendingReply& p, const pool::Reply& reply,
                                            std::string& out) {
  lease::LeaseGetOutcome o;
  if (!epoch_) {
    o.error = "lease epoch of this backend is unknown (its `stats` failed)";
  } else {
    o = lease::classify_lease_get(reply, *epoch_);
  }
  auto& counters = worker_.counters();
  std::string_view key = reply.meta.key;
  bool only_key = p.action == ReplyAction::kLeaseGetOnlyKey;
  if (only_key) {
    lease::append_lease_get_reply(out, key, o);
  } else if (o.kind != lease::LeaseGetKind::BackendError) {
    // A multi-key lease-get leaves a failed key out, as a multi-key get does.
    lease::append_lease_get_block(out, key, o);
  }
  if (o.stale && o.kind != lease::LeaseGetKind::Hit) bump(counters.lease_stale_served);
  switch (o.kind) {
    case lease::LeaseGetKind::Hit:
      counters.count(LeaseGetOutcome::kHit);
      return Result::kHit;
    case lease::LeaseGetKind::LeaseGranted:
      counters.count(LeaseGetOutcome::kGranted);
      return Result::kMiss;
    case lease::LeaseGetKind::HotMiss:
      counters.count(LeaseGetOutcome::kHotMiss);
      return Result::kMiss;
    case lease::LeaseGetKind::BackendError:
      break;
  }
  counters.count(LeaseGetOutcome::kError);
  return Result::kServerError;
}

Result BackendConnection::deliver_lease_set(const PendingReply& p, const pool::Reply& reply,
                                            std::string& out) {
  auto result = lease::classify_lease_set(reply);
  auto& counters = worker_.counters();
  if (p.action == ReplyAction::kLeaseSet) {
    std::string_view why = !reply.message.empty() ? reply.message : std::string_view("backend error");
    lease::append_lease_set_reply(out, result, why);
  }
  switch (result) {
    case lease::LeaseSetResult::Stored:
      counters.count(LeaseSetOutcome::kStored);
      return Result::kOk;
    case lease::LeaseSetResult::NotStored:
      counters.count(reply.status == ReplyStatus::kExists     ? LeaseSetOutcome::kVoided
                     : reply.status == ReplyStatus::kNotFound ? LeaseSetOutcome::kGone
                                                             : LeaseSetOutcome::kNotStored);
      return Result::kNotStored;
    case lease::LeaseSetResult::BackendError:
      break;
  }
  counters.count(LeaseSetOutcome::kError);
  return Result::kServerError;
}

void BackendConnection::deliver(const PendingReply& p, const pool::Reply& reply) {
  if (p.action == ReplyAction::kEpochProbe) {
    on_epoch_probe(reply);
    return;
  }
  ClientConnection* client = p.client;
  if (client == nullptr) return;
  bool is_get = p.action == ReplyAction::kGetOnlyKey || p.action == ReplyAction::kGetOneOfMany;
  if (client->closed()) {
    if (is_get) deliver_get(p, reply, nullptr);
  } else {
    std::string& out = client->replies().buffer_for(p.seq);
    Result result = result_of(reply);
    switch (p.action) {
      case ReplyAction::kPassThrough:
        out.append(reply.raw);
        break;
      case ReplyAction::kDiscard:
      case ReplyAction::kGiveBack:
      case ReplyAction::kEpochProbe:
        break;
      case ReplyAction::kGetOnlyKey:
      case ReplyAction::kGetOneOfMany:
        result = deliver_get(p, reply, &out);
        break;
      case ReplyAction::kLeaseGetOnlyKey:
      case ReplyAction::kLeaseGetOneOfMany:
        result = deliver_lease_get(p, reply, out);
        break;
      case ReplyAction::kLeaseSet:
      case ReplyAction::kLeaseSetNoreply:
        result = deliver_lease_set(p, reply, out);
        break;
      case ReplyAction::kDelete: {
        auto d = lease::classify_delete(reply);
        lease::append_delete_reply(
            out, d, !reply.message.empty() ? reply.message : "unexpected reply to md");
        result = d == lease::DeleteResult::Deleted    ? Result::kOk
                 : d == lease::DeleteResult::NotFound ? Result::kNotFound
                                                      : Result::kServerError;
        break;
      }
      case ReplyAction::kQuietMetaGet:
        if (reply.status != ReplyStatus::kMiss) out.append(reply.raw);
        break;
      case ReplyAction::kQuietMetaOther:
        if (reply.status != ReplyStatus::kHeader) out.append(reply.raw);
        break;
      case ReplyAction::kBroadcastPart:
        if (reply.line != "OK") out.append(reply.raw);
        break;
    }
    worker_.counters().count(p.command, result);
  }
  client->reply_done(p.seq);
  client->backend_request_done();
}

void BackendConnection::fail(const char* why) {
  if (stopped_) return;
  const auto& name = link_.server->name;
  if (state_ == State::kConnected || outstanding() > 0)
    spdlog::warn("backend {}: {}; failing {} waiting request(s)", name, why, outstanding());
  ++generation_;
  boost::system::error_code ignored;
  socket_.close(ignored);
  state_ = State::kDisconnected;
  epoch_.reset();
  epoch_probe_done_ = false;
  writing_ = false;
  writing_buf_.clear();
  out_.clear();
  in_len_ = 0;
  bump(link_.counters->failures);
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
      if (p.action != ReplyAction::kGetOneOfMany && p.action != ReplyAction::kDiscard &&
          p.action != ReplyAction::kLeaseGetOneOfMany &&
          p.action != ReplyAction::kLeaseSetNoreply)
        lease::append_server_error(out, reason);
      worker_.counters().count(p.command, Result::kServerError);
    }
    p.client->reply_done(p.seq);
    p.client->backend_request_done();
  }
  if (retiring_) {
    stop();
    return;
  }
  worker_.on_backend_failure(link_);
  schedule_reconnect();
}

void BackendConnection::schedule_reconnect() {
  if (stopped_) return;
  // A server that is up gets a quick retry (a restart or a dropped connection); a down server is
  // probed at probe_interval_ms so a dead host costs one connect per interval per connection.
  const auto& b = worker_.config().backend;
  int delay_ms = link_.server->health.down() ? b.probe_interval_ms
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
  // Not the age of the oldest request: behind a deep pipeline that is being answered it may be
  // old without anything being wrong with the server.
  std::optional<Clock::time_point> oldest;
  if (pending_head_ < pending_.size()) oldest = pending_[pending_head_].sent;
  if (backend_stalled(now, oldest, last_read_, std::chrono::milliseconds(b.request_timeout_ms)))
    fail("request timed out");
}

void BackendConnection::stop() {
  if (stopped_) return;
  stopped_ = true;
  stopped_at_ = Clock::now();
  ++generation_;
  state_ = State::kDisconnected;
  boost::system::error_code ignored;
  retry_timer_.cancel();
  socket_.close(ignored);
}

void BackendConnection::retire() {
  retiring_ = true;
  if (outstanding() == 0) stop();
}

bool BackendConnection::finished(Clock::time_point now) const {
  // Closing the socket and cancelling the timer queue their handlers at once; a second is ample.
  return stopped_ && now - stopped_at_ > std::chrono::seconds(1);
}

}  // namespace mccache::net
