// One pipelined backend connection as the core sees it: the request bytes still to be written
// and, in the order they were sent, what each request's replies are for (memcached answers in
// order). The shell (net/backend_connection) is a BackendChannel that also owns the socket: it
// writes out(), hands every parsed reply to core::deliver() and reports connects and failures.
//
// The invariant that keeps clients apart on a shared connection: a reply is only ever given to
// the request at the head of the FIFO, and only if it is a reply that request can get (awaits()).
// A reply nobody waits for, or one of the wrong kind, means mcproxy and memcached no longer agree
// on which reply is whose: the shell closes the connection at once and every waiting request
// fails with SERVER_ERROR (fail()); so does a connection that closes with requests waiting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lease/backend_epoch.h"
#include "mcproxy/core/context.h"
#include "mcproxy/protocol/request.h"
#include "pool/reply_parser.h"
#include "pool/server_pool.h"

namespace mccache::core {

struct Delivery;

// How the replies to one backend request become (part of) a client's reply
// (reply_translate.cpp has one case per kind).
enum class ReplyKind : uint8_t {
  kPassThrough,        // copy the reply bytes as they are
  kDiscard,            // noreply: counted, not written
  kGetOnlyKey,         // a single-key get: VALUE/END, or the error line
  kGetOneOfMany,       // one key of a multi-key get: VALUE or nothing (END is its own slot)
  kLeaseGetOnlyKey,    // a single-key lease-get: VALUE/LVALUE + END, or SERVER_ERROR
  kLeaseGetOneOfMany,  // one key of a multi-key lease-get: its block or nothing
  kLeaseSet,           // ms C<cas>: STORED / NOT_STORED
  kLeaseSetNoreply,    // the same, answer counted and dropped
  kDelete,             // text delete: presence probe + md [I T<stale>]: DELETED / NOT_FOUND
  kAbsentIsNotFound,   // touch/cas after a presence probe: NOT_FOUND, or memcached's reply
  kStorageProbe,       // presence probe ahead of a held command: drop a stale copy, then release
  kGiveBack,           // md I C<cas> giving back a plain get's win: dropped
  kEpochProbe,         // `stats` on (re)connect: sets the channel's lease epoch
  kQuietMetaGet,       // mg with q stripped: drop EN
  kQuietMetaOther,     // ms/md/ma with q stripped: drop HD
  kBroadcastPart,      // flush_all/verbosity on one server: drop OK, keep errors
};

// What a backend request's replies are: how to read them and how many there are. Every request
// the proxy sends is one that answers (noreply and q are the proxy's to apply), so the count is
// known when it is sent.
struct Expectation {
  ReplyKind kind = ReplyKind::kPassThrough;
  protocol::Command command = protocol::Command::kGet;  // the client's, for the counters
  uint8_t replies = 1;
  // The first reply answers lease::append_presence_probe (sent just ahead of the command).
  bool probed = false;
};

// One backend request waiting for its replies.
struct Pending {
  Session* client = nullptr;  // null: nobody waits (the epoch probe, a give-back)
  uint64_t seq = 0;           // the client's reply slot
  Expectation expect;
  TimePoint sent{};
};

// What a request needs of the connection that carries it.
enum class Need : uint8_t {
  kAny,
  kLeaseGet,  // the epoch is known, or the `stats` probe is ahead of it (known by its reply)
  kEpoch,     // the epoch is known now (a lease-set checks its token against it)
};

// Which server a thread's connections lead to, and in which pool; a reload may move a kept server
// between the pool and the gutter, so channels read it through here.
struct Link {
  std::shared_ptr<pool::Server> server;
  bool gutter = false;
};

class BackendChannel {
 public:
  explicit BackendChannel(const Link& link) : link_(link) {}
  BackendChannel(const BackendChannel&) = delete;
  BackendChannel& operator=(const BackendChannel&) = delete;

  const Link& link() const { return link_; }

  // Requests: append a request's bytes to request_out(), then expect() its replies.
  bool takes(Need need) const {
    if (!accepting_) return false;
    switch (need) {
      case Need::kAny:
        return true;
      case Need::kLeaseGet:
        return epoch_.has_value() || !probe_done_;
      case Need::kEpoch:
        return epoch_.has_value();
    }
    return false;
  }
  // What the shell writes.
  std::string& out() { return out_; }
  // Where a new request's bytes go: out(), or behind a hold.
  std::string& request_out() { return held_.empty() ? out_ : held_.back().out; }
  void expect(const Pending& p, Flushes& flushes) {
    if (p.client != nullptr) p.client->backend_request_sent();
    flushes.channel(*this);
    if (!held_.empty()) {
      held_.back().pending.push_back(p);
      return;
    }
    if (head_ > 0 && head_ == pending_.size()) {
      pending_.clear();
      head_ = 0;
    }
    pending_.push_back(p);
  }
  // Requests from now on wait, in order, until release_hold(): the command after a storage
  // probe must not be sent before the probe's answer says whether a stale copy goes first.
  void hold() { held_.emplace_back(); }
  // The oldest hold ends: what waited behind it goes out (up to the next hold).
  void release_hold();
  // A request that goes ahead of everything held (it answers nobody).
  void expect_unheld(const Pending& p) { pending_.push_back(p); }

  size_t outstanding() const { return pending_.size() - head_; }
  // The replies still to come for what has been sent (a probed request waits for two).
  size_t replies_outstanding() const {
    size_t n = 0;
    for (size_t i = head_; i < pending_.size(); ++i) n += pending_[i].expect.replies;
    return n - replies_seen_;
  }
  // True when `reply` can be the next reply of the request at the head of the FIFO: a request is
  // waiting, and the reply is an error or of the family its backend request answers with (meta
  // codes for a meta command, one text line for a text command, STAT lines for the probe).
  bool awaits(const pool::Reply& reply) const;
  // Under steady pipelined load the FIFO is rarely empty; the shell calls this after each read
  // so the answered front is dropped now and then (the erase moves only what is outstanding).
  void settle() {
    if (head_ == pending_.size() || head_ >= 1024) {
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  std::optional<TimePoint> oldest_sent() const {
    if (head_ == pending_.size()) return std::nullopt;
    return pending_[head_].sent;
  }
  // The lease epoch of the memcached process behind this connection, read from `stats` right
  // after connecting; none until that reply is in, or after a failure. A connection cannot
  // outlive a memcached restart, so this is never a stale epoch.
  const std::optional<lease::BackendEpoch>& epoch() const { return epoch_; }
  // The head request's presence probe found no live item (Expectation::probed).
  bool head_absent() const { return head_absent_; }

  // Shell events. Requests are taken while the shell says so (net/: connected and not retiring).
  void set_accepting(bool accepting) { accepting_ = accepting; }
  // The TCP connect succeeded: the `stats` probe goes ahead of every request queued meanwhile,
  // in the bytes and in the FIFO. Its reply, not the connect, shows that memcached answers.
  void connected(TimePoint now);
  // The connection is gone: every waiting request is answered SERVER_ERROR `reason` (or nothing,
  // where its client expects silence), the epoch is forgotten and unsent bytes are dropped.
  void fail(std::string_view reason, Context& ctx);

  bool flush_queued = false;  // on the flush list already

 private:
  friend Delivery deliver(BackendChannel& channel, const pool::Reply& reply, Context& ctx);

  const Link& link_;
  std::string out_;
  std::vector<Pending> pending_;  // FIFO; [head_, end) wait for replies
  size_t head_ = 0;
  uint8_t replies_seen_ = 0;  // of the head request
  bool head_absent_ = false;  // the head request's presence probe found no live item
  // Requests waiting behind holds, one part per hold, oldest first. Never non-empty without a
  // storage probe outstanding in pending_, whose answer releases the first part.
  struct Held {
    std::string out;
    std::vector<Pending> pending;
  };
  std::deque<Held> held_;
  std::optional<lease::BackendEpoch> epoch_;
  bool probe_done_ = false;  // this connection's `stats` reply has been read
  bool accepting_ = false;
};

inline void Flushes::channel(BackendChannel& c) {
  if (c.flush_queued) return;
  c.flush_queued = true;
  channels_.push_back(&c);
}

}  // namespace mccache::core
