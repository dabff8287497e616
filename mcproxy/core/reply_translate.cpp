// The translation table: one case per ReplyKind. get/gets/gat, lease-get, lease-set and delete go
// through lease/'s classifiers; everything else is passed on as memcached wrote it, minus what
// the client's noreply/q asked the proxy to drop.
#include "mcproxy/core/reply_translate.h"

#include <array>

#include "lease/lease_get.h"
#include "lease/lease_set.h"
#include "lease/plain_ops.h"
#include "pool/ascii.h"

namespace mccache::core {
namespace {

using pool::ReplyStatus;
using protocol::Command;

using pool::append_number;

bool wants_cas(Command c) { return c == Command::kGets || c == Command::kGats; }

// "VALUE <key> <flags> <bytes>[ <cas>]\r\n<value>\r\n": one hit of get/gets/lease-get.
void append_value_block(std::string& out, std::string_view key, uint32_t client_flags,
                        std::string_view value, std::optional<uint64_t> cas = std::nullopt) {
  out.append("VALUE ").append(key).append(" ");
  append_number(out, client_flags);
  out.append(" ");
  append_number(out, value.size());
  if (cas) {
    out.append(" ");
    append_number(out, *cas);
  }
  out.append("\r\n").append(value).append("\r\n");
}

// "LVALUE <key> <token> <flags> <bytes>\r\n<value>\r\n": a lease-get miss. The token comes before
// the flags (mcrouter's `lvalue` rule and its serializer agree on it).
void append_lease_get_block(std::string& out, std::string_view key,
                            const lease::LeaseGetOutcome& o) {
  switch (o.kind) {
    case lease::LeaseGetKind::Hit:
      append_value_block(out, key, o.client_flags, o.value);
      return;
    case lease::LeaseGetKind::LeaseGranted:
    case lease::LeaseGetKind::HotMiss:
      out.append("LVALUE ").append(key).append(" ");
      append_number(out, o.token);
      out.append(" ");
      append_number(out, o.client_flags);
      out.append(" ");
      append_number(out, o.value.size());
      out.append("\r\n").append(o.value).append("\r\n");
      return;
    case lease::LeaseGetKind::BackendError:
      append_server_error(out, o.error);
      return;
  }
}

// What a reply passed through counts as, indexed by ReplyStatus (VA HD EN NF NS EX MN, VALUE,
// STAT, other text, ERROR, CLIENT_ERROR, SERVER_ERROR); a text line is read by result_of.
constexpr std::array<Result, 13> kResultOf{
    Result::kOk,         Result::kOk,     Result::kMiss,        Result::kNotFound,
    Result::kNotStored,  Result::kExists, Result::kOk,          Result::kOk,
    Result::kOk,         Result::kOk,     Result::kClientError, Result::kClientError,
    Result::kServerError};
static_assert(kResultOf.size() == static_cast<size_t>(ReplyStatus::kServerError) + 1);

// Gives back a win an mg of ours took on a stale copy or placeholder, even for a client that has
// gone: the win would otherwise starve lease-get clients.
void give_back(const lease::PlainGetOutcome& o, const Pending& p, const pool::Reply& reply,
               BackendChannel& channel, Context& ctx) {
  std::string_view key = reply.meta.key;
  if (!o.give_back || key.empty()) return;
  lease::append_give_back_command(channel.request_out(), key, o.give_back_cas, o.give_back_ttl_s);
  channel.expect(Pending{nullptr, 0, {ReplyKind::kGiveBack, Command::kMetaDelete}, p.sent},
                 *ctx.flushes);
  bump(ctx.counters->give_backs);
}

// A plain get: the client's text answer (none when `out` is null: the client has gone).
Result translate_get(const Pending& p, const pool::Reply& reply, BackendChannel& channel,
                     Context& ctx, std::string* out) {
  auto o = lease::classify_plain_get(reply, ctx.settings->leases_for(channel.link().gutter));
  std::string_view key = reply.meta.key;
  give_back(o, p, reply, channel, ctx);
  if (out == nullptr) return Result::kOk;
  bool only_key = p.expect.kind == ReplyKind::kGetOnlyKey;
  if (o.backend_error) {
    if (only_key) append_server_error(*out, o.error);
    return Result::kServerError;
  }
  bump(o.hit ? ctx.counters->get_hits : ctx.counters->get_misses);
  if (o.hit)
    append_value_block(*out, key, o.client_flags, o.value,
                       wants_cas(p.expect.command) ? std::optional<uint64_t>(o.cas) : std::nullopt);
  if (only_key) out->append(kEnd);
  return o.hit ? Result::kHit : Result::kMiss;
}

Result translate_lease_get(const Pending& p, const pool::Reply& reply,
                           const BackendChannel& channel, Context& ctx, std::string& out) {
  lease::LeaseGetOutcome o;
  if (!channel.epoch()) {
    o.error = "lease epoch of this backend is unknown (its `stats` failed)";
  } else {
    o = lease::classify_lease_get(reply, *channel.epoch());
  }
  std::string_view key = reply.meta.key;
  bool failed = o.kind == lease::LeaseGetKind::BackendError;
  if (p.expect.kind == ReplyKind::kLeaseGetOnlyKey) {
    append_lease_get_block(out, key, o);
    if (!failed) out.append(kEnd);
  } else if (!failed) {
    // A multi-key lease-get leaves a failed key out, as a multi-key get does.
    append_lease_get_block(out, key, o);
  }
  auto& counters = *ctx.counters;
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

Result translate_lease_set(const Pending& p, const pool::Reply& reply, Context& ctx,
                           std::string& out) {
  auto result = lease::classify_lease_set(reply);
  // STALE_STORED is never sent: mcrouter's memcache answers it when it parks a voided lease's
  // value as the new stale copy; we never write a voided lease's value anywhere (it may be older
  // than the stale copy it would replace), so NOT_STORED is the truthful answer and mcrouter
  // clients treat both as "not cached".
  if (p.expect.kind == ReplyKind::kLeaseSet) {
    switch (result) {
      case lease::LeaseSetResult::Stored:
        out.append("STORED\r\n");
        break;
      case lease::LeaseSetResult::NotStored:
        out.append(kNotStored);
        break;
      case lease::LeaseSetResult::BackendError:
        append_server_error(out, !reply.message.empty() ? reply.message : "backend error");
        break;
    }
  }
  auto& counters = *ctx.counters;
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

// The md after a presence probe: a stale copy or placeholder was no item to delete, though the
// md still voided its leases.
Result translate_delete(const pool::Reply& reply, bool absent, std::string& out) {
  auto result = lease::classify_delete(reply);
  if (absent && result == lease::DeleteResult::Deleted) result = lease::DeleteResult::NotFound;
  switch (result) {
    case lease::DeleteResult::Deleted:
      out.append("DELETED\r\n");
      return Result::kOk;
    case lease::DeleteResult::NotFound:
      out.append("NOT_FOUND\r\n");
      return Result::kNotFound;
    case lease::DeleteResult::BackendError:
      break;
  }
  append_server_error(out, !reply.message.empty() ? reply.message : "unexpected reply to md");
  return Result::kServerError;
}

// One reply for a client that is still there: appended to its slot; the Result to count.
Result translate(const Pending& p, const pool::Reply& reply, BackendChannel& channel, Context& ctx,
                 std::string& out) {
  switch (p.expect.kind) {
    case ReplyKind::kPassThrough:
      out.append(reply.raw);
      break;
    case ReplyKind::kDiscard:
    case ReplyKind::kGiveBack:
    case ReplyKind::kStorageProbe:
    case ReplyKind::kEpochProbe:
      break;
    case ReplyKind::kGetOnlyKey:
    case ReplyKind::kGetOneOfMany:
      return translate_get(p, reply, channel, ctx, &out);
    case ReplyKind::kLeaseGetOnlyKey:
    case ReplyKind::kLeaseGetOneOfMany:
      return translate_lease_get(p, reply, channel, ctx, out);
    case ReplyKind::kLeaseSet:
    case ReplyKind::kLeaseSetNoreply:
      return translate_lease_set(p, reply, ctx, out);
    case ReplyKind::kDelete:
      return translate_delete(reply, channel.head_absent(), out);
    case ReplyKind::kAbsentIsNotFound:
      if (channel.head_absent() && !reply.is_error()) {
        out.append("NOT_FOUND\r\n");
        return Result::kNotFound;
      }
      out.append(reply.raw);
      break;
    case ReplyKind::kQuietMetaGet:
      if (reply.status != ReplyStatus::kMiss) out.append(reply.raw);
      break;
    case ReplyKind::kQuietMetaOther:
      if (reply.status != ReplyStatus::kHeader) out.append(reply.raw);
      break;
    case ReplyKind::kBroadcastPart:
      if (reply.line != "OK") out.append(reply.raw);
      break;
  }
  return result_of(reply);
}

// The presence probe ahead of a held storage command: a stale copy or placeholder is dropped
// (ahead of everything held), then what the hold kept back goes out.
void release_after_probe(BackendChannel& channel, const pool::Reply& reply, const Pending& p,
                         Context& ctx) {
  auto o = lease::classify_presence(reply, ctx.settings->leases_for(channel.link().gutter));
  bool absent_item = !o.hit && reply.status == ReplyStatus::kHeader;
  if (absent_item && !reply.meta.key.empty() && reply.meta.cas) {
    lease::append_drop_absent_command(channel.out(), reply.meta.key, *reply.meta.cas);
    channel.expect_unheld(Pending{nullptr, 0, {ReplyKind::kGiveBack, Command::kMetaDelete}, p.sent});
  }
  channel.release_hold();
  ctx.flushes->channel(channel);
}

// Reads the lease epoch from the `stats` probe's reply.
Delivery::Status learn_epoch(const pool::Reply& reply, const Link& link,
                             std::optional<lease::BackendEpoch>& epoch, Context& ctx) {
  auto identity = lease::identity_from_stats(reply.raw);
  // Without it, lease commands on this connection answer SERVER_ERROR; everything else works.
  if (!identity) return Delivery::Status::kNoIdentity;
  epoch = lease::BackendEpoch::of(link.server->name, *identity);
  bump(ctx.counters->epoch_refreshes);
  return Delivery::Status::kDelivered;
}

}  // namespace

Delivery deliver(BackendChannel& channel, const pool::Reply& reply, Context& ctx) {
  Delivery d;
  if (!channel.awaits(reply)) {
    d.status = Delivery::Status::kUnasked;
    return d;
  }
  // Copied: a give-back may grow the FIFO under the reference.
  const Pending p = channel.pending_[channel.head_];
  bool probe_reply = p.expect.probed && channel.replies_seen_ == 0;
  if (++channel.replies_seen_ == p.expect.replies) {
    channel.replies_seen_ = 0;
    ++channel.head_;
    d.sent = p.sent;
  }
  if (probe_reply) {
    // Read for the command's reply, which follows; nothing to count or write yet.
    auto o = lease::classify_presence(reply, ctx.settings->leases_for(channel.link().gutter));
    channel.head_absent_ = !o.hit;
    // A delete's own md gives the win back (md I clears it) or drops the item.
    if (p.expect.command != Command::kDelete) give_back(o, p, reply, channel, ctx);
    return d;
  }
  if (p.expect.kind == ReplyKind::kStorageProbe) {
    release_after_probe(channel, reply, p, ctx);
    return d;
  }
  if (p.expect.kind == ReplyKind::kEpochProbe) {
    channel.probe_done_ = true;
    d.status = learn_epoch(reply, channel.link(), channel.epoch_, ctx);
    return d;
  }
  Session* client = p.client;
  if (client == nullptr) return d;
  if (client->closed()) {
    bool is_get =
        p.expect.kind == ReplyKind::kGetOnlyKey || p.expect.kind == ReplyKind::kGetOneOfMany;
    if (is_get) translate_get(p, reply, channel, ctx, nullptr);
  } else {
    std::string& out = client->replies().buffer_for(p.seq);
    ctx.counters->count(p.expect.command, translate(p, reply, channel, ctx, out));
    if (d.sent) client->replies().complete(p.seq);
  }
  if (d.sent) {
    ctx.flushes->session(*client);
    client->backend_request_done();
  }
  return d;
}

void fail_waiting(const Pending& p, std::string_view reason, Context& ctx) {
  Session* client = p.client;
  if (client == nullptr) return;
  if (!client->closed()) {
    std::string& out = client->replies().buffer_for(p.seq);
    switch (p.expect.kind) {
      case ReplyKind::kGetOneOfMany:
      case ReplyKind::kLeaseGetOneOfMany:
      case ReplyKind::kDiscard:
      case ReplyKind::kLeaseSetNoreply:
        break;
      default:
        append_server_error(out, reason);
        break;
    }
    ctx.counters->count(p.expect.command, Result::kServerError);
    client->replies().complete(p.seq);
  }
  ctx.flushes->session(*client);
  client->backend_request_done();
}

void append_server_error(std::string& out, std::string_view message) {
  out.append("SERVER_ERROR ").append(message).append("\r\n");
}

void append_unavailable(std::string& out, const pool::Server& server, bool lease_command) {
  out.append("SERVER_ERROR backend ").append(server.name);
  if (server.health.down()) {
    out.append(" is down\r\n");
  } else {
    // Only lease commands wait for a connection's epoch; anything else is refused only while
    // every connection is reconnecting.
    out.append(lease_command ? " lease epoch not known yet; retry\r\n"
                             : " is reconnecting; retry\r\n");
  }
}

Result result_of(const pool::Reply& r) {
  if (r.status == ReplyStatus::kText) {
    if (r.line == "NOT_STORED") return Result::kNotStored;
    if (r.line == "EXISTS") return Result::kExists;
    if (r.line == "NOT_FOUND") return Result::kNotFound;
    return Result::kOk;
  }
  return kResultOf[static_cast<size_t>(r.status)];
}

}  // namespace mccache::core
