// The planning table and what each kind of planning sends. Text retrievals, delete, lease-get
// and lease-set travel as the meta commands lease/ chooses, so lease state kept in memcached
// (stale items, lease placeholders) is honoured; the other plain commands but set go behind
// lease/'s presence probe for the same reason. Everything is rebuilt from its parsed form
// (forwarded_line.h), without noreply/q, which the proxy applies itself so every backend request
// answers.
#include "mcproxy/core/request_plan.h"

#include <array>

#include "lease/lease_get.h"
#include "lease/lease_set.h"
#include "lease/plain_ops.h"
#include "mcproxy/core/forwarded_line.h"
#include "mcproxy/core/reply_translate.h"
#include "version.h"

namespace mccache::core {
namespace {

using protocol::Command;
using protocol::Request;

enum class Planning : uint8_t {
  kLocal,  // answered by the proxy with `reply`, in order (every earlier reply is ahead of it)
  kQuit,
  kStats,
  kBroadcast,  // admin: every server of the pool and the gutter, if admin_commands is on
  kRefused,    // admin commands the proxy never forwards
  kRetrieval,  // one mg per key (lease/'s), merged in request order with one END
  kLeaseSet,   // the token checked against the epoch, then one ms C<cas>
  kDelete,     // lease/'s presence probe, then one md (lease/'s delete mapping)
  kForward,    // rebuilt from the parsed request, minus noreply/q, capped for the gutter
  kProbed,     // lease/'s presence probe, then as kForward: NOT_FOUND if only a stale copy is there
  kHeld,       // lease/'s presence probe; the channel holds until its answer (a stale copy is
               // dropped first), then as kForward
};

struct CommandPlan {
  Command command;
  Planning planning;
  // kForward to the gutter: the text line's exptime token (0: none), or a meta line whose T/N
  // flags are capped.
  uint8_t gutter_exptime_token = 0;
  bool gutter_meta_ttl = false;
  std::string_view reply = {};  // kLocal
};

constexpr std::string_view kVersionReply = "VERSION mcproxy-" MCCACHE_VERSION "\r\n";

// One row per command, in protocol::Command order.
constexpr std::array<CommandPlan, protocol::kCommandCount> kPlans{{
    {Command::kGet, Planning::kRetrieval},
    {Command::kGets, Planning::kRetrieval},
    {Command::kGat, Planning::kRetrieval},
    {Command::kGats, Planning::kRetrieval},
    {Command::kSet, Planning::kForward, 3},  // <cmd> <key> <flags> <exptime> <bytes> ...
    {Command::kAdd, Planning::kHeld, 3},
    {Command::kReplace, Planning::kHeld, 3},
    {Command::kAppend, Planning::kHeld},  // keeps the item's own expiry
    {Command::kPrepend, Planning::kHeld},
    {Command::kCas, Planning::kProbed, 3},
    {Command::kDelete, Planning::kDelete},
    {Command::kIncr, Planning::kHeld},
    {Command::kDecr, Planning::kHeld},
    {Command::kTouch, Planning::kProbed, 2},  // touch <key> <exptime>
    {Command::kVersion, Planning::kLocal, 0, false, kVersionReply},
    {Command::kStats, Planning::kStats},
    {Command::kQuit, Planning::kQuit},
    {Command::kFlushAll, Planning::kBroadcast},
    {Command::kVerbosity, Planning::kBroadcast},
    {Command::kAdminOther, Planning::kRefused},
    {Command::kMetaGet, Planning::kForward, 0, true},
    {Command::kMetaSet, Planning::kForward, 0, true},
    {Command::kMetaDelete, Planning::kForward, 0, true},
    {Command::kMetaArithmetic, Planning::kForward, 0, true},
    {Command::kMetaNoop, Planning::kLocal, 0, false, "MN\r\n"},
    {Command::kMetaDebug, Planning::kForward},
    {Command::kLeaseGet, Planning::kRetrieval},
    {Command::kLeaseSet, Planning::kLeaseSet},
}};

constexpr bool in_command_order() {
  for (size_t i = 0; i < kPlans.size(); ++i)
    if (static_cast<size_t>(kPlans[i].command) != i) return false;
  return true;
}
static_assert(in_command_order(), "kPlans must list every command in protocol::Command order");

constexpr std::string_view kAdminDisabled = "CLIENT_ERROR admin commands are disabled\r\n";
constexpr std::string_view kAdminUnsupported =
    "CLIENT_ERROR this admin command is not supported by mcproxy\r\n";

LeaseSetOutcome refusal_reason(lease::TokenVerdict v) {
  switch (v) {
    case lease::TokenVerdict::Special:
      return LeaseSetOutcome::kSpecialToken;
    case lease::TokenVerdict::ForeignEpoch:
      return LeaseSetOutcome::kForeignEpoch;
    default:
      return LeaseSetOutcome::kMalformedToken;
  }
}

class Planner {
 public:
  Planner(Session& client, const Request& r, Backends& backends, Context& ctx)
      : client_(client), r_(r), backends_(backends), ctx_(ctx) {}

  void local(std::string_view reply, Result result) {
    client_.reply_now(r_.size, reply);
    ctx_.counters->count(r_.command, result);
  }
  void retrieval();
  void lease_set();
  void keyed(const CommandPlan& plan);
  void broadcast(const CommandPlan& plan);

 private:
  // No connection of `to` can take the request: say so in slot `seq` when `say_it`.
  void unavailable(pool::Target to, uint64_t seq, bool say_it, bool lease_command) {
    auto& replies = client_.replies();
    if (say_it) append_unavailable(replies.buffer_for(seq), backends_.server(to), lease_command);
    replies.complete(seq);
    ctx_.counters->count(r_.command, Result::kBackendDown);
  }
  // The request's bytes for `to`, in the form its plan says.
  void append_forwarded(std::string& out, const CommandPlan& plan, pool::Target to) const;
  void forward(const CommandPlan& plan, pool::Target to, ReplyKind kind, uint64_t seq);
  int64_t gutter_capped(int64_t exptime, pool::Target to) const {
    return to.gutter ? gutter_exptime(exptime, ctx_.settings->gutter_ttl_s, ctx_.now_unix)
                     : exptime;
  }
  void expect(BackendChannel& channel, ReplyKind kind, uint64_t seq, bool probed = false) {
    Expectation e{kind, r_.command, static_cast<uint8_t>(probed ? 2 : 1), probed};
    channel.expect(Pending{&client_, seq, e, ctx_.now}, *ctx_.flushes);
  }

  Session& client_;
  const Request& r_;
  Backends& backends_;
  Context& ctx_;
};

void Planner::retrieval() {
  bool single = r_.keys.size() == 1;
  bool lease = r_.command == Command::kLeaseGet;
  bool touch = r_.command == Command::kGat || r_.command == Command::kGats;
  ReplyKind kind = lease    ? (single ? ReplyKind::kLeaseGetOnlyKey : ReplyKind::kLeaseGetOneOfMany)
                   : single ? ReplyKind::kGetOnlyKey
                            : ReplyKind::kGetOneOfMany;
  auto& replies = client_.replies();
  for (size_t i = 0; i < r_.keys.size(); ++i) {
    std::string_view key = r_.keys[i];
    uint64_t seq = replies.reserve(i == 0 ? r_.size : 0);
    pool::Target to = backends_.route(key);
    // A lease-get needs the connection's epoch to mint a token: mg N creates the placeholder
    // whatever we do with the answer, so never send one we could not answer. Right after a
    // (re)connect the `stats` probe is ahead of it, so its reply finds the epoch known.
    BackendChannel* channel = backends_.channel(to, lease ? Need::kLeaseGet : Need::kAny);
    if (channel == nullptr) {
      // One key's server is down: a single-key get says so; a multi-key get answers the keys it
      // can and leaves the others out (a miss to the client), so one dead server does not fail
      // every multi-get that touches it.
      unavailable(to, seq, single, lease);
      if (lease) ctx_.counters->count(LeaseGetOutcome::kError);
      continue;
    }
    std::string& out = channel->request_out();
    if (lease) {
      lease::append_lease_get_command(out, key, ctx_.settings->leases_for(to.gutter));
    } else if (touch) {
      lease::append_touch_get_command(out, key, gutter_capped(r_.exptime, to));
    } else {
      lease::append_plain_get_command(out, key);
    }
    expect(*channel, kind, seq);
  }
  if (!single) client_.reply_now(0, kEnd);
}

void Planner::lease_set() {
  pool::Target to = backends_.route(r_.key());
  uint64_t seq = client_.replies().reserve(r_.size);
  BackendChannel* channel = backends_.channel(to, Need::kEpoch);
  if (channel == nullptr) {
    unavailable(to, seq, !r_.noreply, true);
    ctx_.counters->count(LeaseSetOutcome::kError);
    return;
  }
  // Tokens 0/1, tokens from before a memcached restart and tokens we never issued name no CAS
  // on this backend: refused here, without a trip.
  auto plan = lease::plan_lease_set(r_.lease_token, *channel->epoch());
  if (!plan.send_to_backend) {
    if (!r_.noreply) client_.replies().buffer_for(seq).append(kNotStored);
    client_.replies().complete(seq);
    ctx_.counters->count(r_.command, Result::kNotStored);
    ctx_.counters->count(refusal_reason(plan.verdict));
    return;
  }
  // noreply still sends the non-quiet ms: its one reply keeps the FIFO exact and is counted.
  lease::append_lease_set_command(channel->request_out(), r_.key(), plan.cas, r_.flags,
                                  gutter_capped(r_.exptime, to), r_.data);
  expect(*channel, r_.noreply ? ReplyKind::kLeaseSetNoreply : ReplyKind::kLeaseSet, seq);
}

void Planner::keyed(const CommandPlan& plan) {
  pool::Target to = backends_.route(r_.key());
  uint64_t seq = client_.replies().reserve(r_.size);
  ReplyKind kind = ReplyKind::kPassThrough;
  if (plan.planning == Planning::kDelete) {
    kind = ReplyKind::kDelete;
  } else if (plan.planning == Planning::kProbed) {
    kind = ReplyKind::kAbsentIsNotFound;
  } else if (protocol::is_meta(r_.command) && r_.quiet) {
    kind = r_.command == Command::kMetaGet ? ReplyKind::kQuietMetaGet : ReplyKind::kQuietMetaOther;
  }
  if (r_.noreply) kind = ReplyKind::kDiscard;  // text noreply: nothing back, even on success
  forward(plan, to, kind, seq);
}

void Planner::broadcast(const CommandPlan& plan) {
  // The gutter too: flush_all must not leave copies there to be served while a server is down.
  bool first = true;
  for (bool gutter : {false, true}) {
    for (size_t s = 0; s < backends_.servers(gutter); ++s) {
      uint64_t seq = client_.replies().reserve(first ? r_.size : 0);
      first = false;
      // flush_all noreply is still sent as the flush_all that answers: the proxy counts the
      // replies itself and only keeps the client's reply back.
      forward(plan, pool::Target{s, gutter},
              r_.noreply ? ReplyKind::kDiscard : ReplyKind::kBroadcastPart, seq);
    }
  }
  client_.reply_now(0, r_.noreply ? "" : "OK\r\n");
}

void Planner::forward(const CommandPlan& plan, pool::Target to, ReplyKind kind, uint64_t seq) {
  BackendChannel* channel = backends_.channel(to, Need::kAny);
  if (channel == nullptr) {
    unavailable(to, seq, kind != ReplyKind::kDiscard, false);
    return;
  }
  // memcached's plain commands act on a stale copy as on an item: the probe tells them apart.
  bool probed = plan.planning == Planning::kDelete || plan.planning == Planning::kProbed;
  if (probed || plan.planning == Planning::kHeld)
    lease::append_presence_probe(channel->request_out(), r_.key());
  if (plan.planning == Planning::kHeld) {
    channel->expect(Pending{nullptr, 0, {ReplyKind::kStorageProbe, r_.command}, ctx_.now},
                    *ctx_.flushes);
    channel->hold();
  }
  append_forwarded(channel->request_out(), plan, to);
  expect(*channel, kind, seq, probed);
}

void Planner::append_forwarded(std::string& out, const CommandPlan& plan, pool::Target to) const {
  const auto& settings = *ctx_.settings;
  if (plan.planning == Planning::kDelete) {
    // Both modes void outstanding leases: md I bumps the CAS a token names, md drops the item.
    const auto& leases = settings.leases_for(to.gutter);
    lease::append_delete_command(out, r_.key(), leases.delete_mode, leases.stale_ttl_s);
    return;
  }
  // Nothing may outlive the gutter's ttl_s there: it may miss invalidations while it stands in.
  if (to.gutter && (plan.gutter_exptime_token != 0 || plan.gutter_meta_ttl)) {
    append_forwarded_request(out, r_, GutterCap{settings.gutter_ttl_s, ctx_.now_unix});
  } else {
    append_forwarded_request(out, r_);
  }
}

}  // namespace

Action plan(Session& client, const Request& r, Backends& backends, Context& ctx) {
  const CommandPlan& plan = kPlans[static_cast<size_t>(r.command)];
  Planner planner(client, r, backends, ctx);
  bool admin = ctx.settings->admin_commands;
  switch (plan.planning) {
    case Planning::kQuit:
      return Action::kQuit;
    case Planning::kStats:
      return Action::kStats;
    case Planning::kLocal:
      planner.local(plan.reply, Result::kOk);
      break;
    case Planning::kRefused:
      planner.local(admin ? kAdminUnsupported : kAdminDisabled, Result::kClientError);
      break;
    case Planning::kBroadcast:
      if (admin) planner.broadcast(plan);
      if (!admin) planner.local(kAdminDisabled, Result::kClientError);
      break;
    case Planning::kRetrieval:
      planner.retrieval();
      break;
    case Planning::kLeaseSet:
      planner.lease_set();
      break;
    case Planning::kDelete:
    case Planning::kForward:
    case Planning::kProbed:
    case Planning::kHeld:
      planner.keyed(plan);
      break;
  }
  return Action::kDone;
}

}  // namespace mccache::core
