// One long-lived, pipelined connection from a proxy thread to a memcached server. Requests from
// every client of the thread are appended to one buffer and written once per wake-up; replies are
// parsed in place and handed to the waiting client slots in FIFO order.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lease/backend_epoch.h"
#include "mcproxy/net/metrics.h"
#include "mcproxy/protocol/request.h"
#include "pool/reply_parser.h"
#include "pool/server_pool.h"

namespace mccache::net {

class BackendConnection;
class ClientConnection;
class Worker;
using Clock = std::chrono::steady_clock;

// One thread's connections to one memcached server (of the pool or of the gutter). Its address
// never changes: a reload that drops the server retires the whole link, one that keeps it keeps
// the link and its connections.
struct ServerLink {
  std::shared_ptr<pool::Server> server;
  std::shared_ptr<ServerStats> stats;
  ServerCounters* counters = nullptr;  // this thread's block of `stats`
  bool gutter = false;
  std::vector<std::unique_ptr<BackendConnection>> conns;
  std::vector<std::unique_ptr<BackendConnection>> retiring;  // draining after a reload
  size_t next = 0;                                           // round robin over conns
};

// How the reply to one backend request becomes (part of) a client's reply.
// The lease-aware ones (gets, lease-get/-set, delete) go through lease/'s classifiers.
enum class ReplyAction : uint8_t {
  kPassThrough,        // copy the reply bytes as they are
  kDiscard,            // noreply, broadcast parts with nothing to say
  kGetOnlyKey,         // a single-key get: VALUE/END, or the error line
  kGetOneOfMany,       // one key of a multi-key get: VALUE or nothing (END is its own slot)
  kLeaseGetOnlyKey,    // a single-key lease-get: VALUE/LVALUE + END, or SERVER_ERROR
  kLeaseGetOneOfMany,  // one key of a multi-key lease-get: its block or nothing
  kLeaseSet,           // ms C<cas>: STORED / NOT_STORED
  kLeaseSetNoreply,    // the same, answer counted and dropped
  kDelete,             // text delete sent as md [I T<stale>]: DELETED / NOT_FOUND
  kGiveBack,           // md I C<cas> giving back a plain get's win: dropped
  kEpochProbe,         // `stats` on (re)connect: sets the connection's lease epoch
  kQuietMetaGet,       // mg with q stripped: drop EN
  kQuietMetaOther,     // ms/md/ma with q stripped: drop HD
  kBroadcastPart,      // flush_all/verbosity on one server: drop OK, keep errors
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

  BackendConnection(Worker& worker, ServerLink& link);
  BackendConnection(const BackendConnection&) = delete;
  BackendConnection& operator=(const BackendConnection&) = delete;

  ServerLink& link() const { return link_; }
  State state() const { return state_; }
  // Requests may be queued while connected or connecting; a connection in back-off or one being
  // retired refuses them.
  bool accepts_requests() const { return state_ != State::kDisconnected && !retiring_; }

  // Append a request's bytes to out(), then expect() its reply.
  std::string& out() { return out_; }
  void expect(const PendingReply& p);
  size_t outstanding() const { return pending_.size() - pending_head_; }
  // The lease epoch of the memcached process this connection talks to, read from `stats` right
  // after connecting (ahead of every request); none until that reply is in, or after a failure.
  // A connection cannot outlive a memcached restart, so this is never a stale epoch.
  const std::optional<lease::BackendEpoch>& epoch() const { return epoch_; }
  // A lease-get may be queued here: the epoch is known, or the `stats` probe is still ahead of
  // it in the FIFO (so the epoch is known by the time its reply is read).
  bool can_answer_lease_get() const {
    return accepts_requests() && (epoch_.has_value() || !epoch_probe_done_);
  }

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

  bool flush_queued = false;  // on the worker's flush list already

 private:
  void on_connect(uint64_t generation, const boost::system::error_code& ec);
  void read();
  void on_read(uint64_t generation, const boost::system::error_code& ec, size_t n);
  void on_write(uint64_t generation, const boost::system::error_code& ec, size_t n);
  void deliver(const PendingReply& p, const pool::Reply& reply);
  void on_epoch_probe(const pool::Reply& reply);
  // Plain get: the client's text answer, and the give-back of a win the mg took.
  Result deliver_get(const PendingReply& p, const pool::Reply& reply, std::string* out);
  Result deliver_lease_get(const PendingReply& p, const pool::Reply& reply, std::string& out);
  Result deliver_lease_set(const PendingReply& p, const pool::Reply& reply, std::string& out);
  // Fails every waiting request, drops the socket and retries later (counts towards "down").
  void fail(const char* why);
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
  std::string out_;
  std::string writing_buf_;
  std::vector<char> in_;
  size_t in_len_ = 0;
  std::vector<PendingReply> pending_;  // FIFO; [pending_head_, end) wait for replies
  size_t pending_head_ = 0;
  pool::ReplyParser parser_;
  std::optional<lease::BackendEpoch> epoch_;
  bool epoch_probe_done_ = false;  // this connection's `stats` reply has been read
};

}  // namespace mccache::net
