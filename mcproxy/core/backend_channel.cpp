// A backend channel's connect and failure: the probe that reads the lease epoch goes first; a
// failure answers everything waiting. And which replies the head request can be given.
#include "mcproxy/core/backend_channel.h"

#include "mcproxy/core/reply_translate.h"

namespace mccache::core {
namespace {

using pool::ReplyStatus;

// What memcached answers the backend request behind an expectation with (besides errors).
enum class ReplyFamily : uint8_t { kMeta, kText, kStats, kMetaDebug };

// The commands mcproxy forwards in their text form; every other request goes as a meta command.
bool sent_as_text(protocol::Command c) {
  using protocol::Command;
  return protocol::is_storage(c) || c == Command::kIncr || c == Command::kDecr ||
         c == Command::kTouch || c == Command::kFlushAll || c == Command::kVerbosity;
}

ReplyFamily family_of(const Expectation& e) {
  switch (e.kind) {
    case ReplyKind::kEpochProbe:
      return ReplyFamily::kStats;
    case ReplyKind::kPassThrough:
    case ReplyKind::kDiscard:
    case ReplyKind::kBroadcastPart:
    case ReplyKind::kAbsentIsNotFound:
      // The client's own command (forwarded_line.h), or for a noreply delete lease/'s md.
      if (e.command == protocol::Command::kMetaDebug) return ReplyFamily::kMetaDebug;
      return sent_as_text(e.command) ? ReplyFamily::kText : ReplyFamily::kMeta;
    case ReplyKind::kGetOnlyKey:
    case ReplyKind::kGetOneOfMany:
    case ReplyKind::kLeaseGetOnlyKey:
    case ReplyKind::kLeaseGetOneOfMany:
    case ReplyKind::kLeaseSet:
    case ReplyKind::kLeaseSetNoreply:
    case ReplyKind::kDelete:
    case ReplyKind::kGiveBack:
    case ReplyKind::kStorageProbe:
    case ReplyKind::kQuietMetaGet:
    case ReplyKind::kQuietMetaOther:
      return ReplyFamily::kMeta;  // sent as lease/'s mg, ms or md
  }
  return ReplyFamily::kMeta;
}

bool in_family(ReplyFamily f, ReplyStatus s) {
  switch (f) {
    case ReplyFamily::kMeta:
      return s == ReplyStatus::kValue || s == ReplyStatus::kHeader || s == ReplyStatus::kMiss ||
             s == ReplyStatus::kNotFound || s == ReplyStatus::kNotStored ||
             s == ReplyStatus::kExists;
    case ReplyFamily::kText:
      return s == ReplyStatus::kText;
    case ReplyFamily::kStats:  // a `stats` with no STAT line is a lone END
      return s == ReplyStatus::kStats || s == ReplyStatus::kTextValues;
    case ReplyFamily::kMetaDebug:  // "ME <key> ..." or EN
      return s == ReplyStatus::kText || s == ReplyStatus::kMiss;
  }
  return false;
}

}  // namespace

bool BackendChannel::awaits(const pool::Reply& reply) const {
  if (outstanding() == 0) return false;
  const Expectation& e = pending_[head_].expect;
  // A presence probe (lease/'s mg) answers ahead of the command it guards.
  ReplyFamily family = e.probed && replies_seen_ == 0 ? ReplyFamily::kMeta : family_of(e);
  return reply.is_error() || in_family(family, reply.status);
}

void BackendChannel::connected(TimePoint now) {
  out_.insert(0, "stats\r\n");
  Pending probe{nullptr, 0, {ReplyKind::kEpochProbe, protocol::Command::kStats}, now};
  pending_.insert(pending_.begin() + static_cast<std::ptrdiff_t>(head_), probe);
}

void BackendChannel::release_hold() {
  if (held_.empty()) return;
  Held& first = held_.front();
  out_.append(first.out);
  if (head_ > 0 && head_ == pending_.size()) {
    pending_.clear();
    head_ = 0;
  }
  pending_.insert(pending_.end(), first.pending.begin(), first.pending.end());
  held_.pop_front();
}

void BackendChannel::fail(std::string_view reason, Context& ctx) {
  epoch_.reset();
  probe_done_ = false;
  out_.clear();
  // Moved out first: answering may close clients, which never re-enters this channel, but the
  // loop is then simple to reason about.
  std::vector<Pending> waiting(pending_.begin() + static_cast<std::ptrdiff_t>(head_),
                               pending_.end());
  for (const Held& h : held_) waiting.insert(waiting.end(), h.pending.begin(), h.pending.end());
  held_.clear();
  pending_.clear();
  head_ = 0;
  replies_seen_ = 0;
  head_absent_ = false;
  for (const auto& p : waiting) fail_waiting(p, reason, ctx);
}

}  // namespace mccache::core
