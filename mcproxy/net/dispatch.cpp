// Routing of one client request: which server(s), in what form, and how the reply comes back.
// Text retrievals, delete, lease-get and lease-set travel as the meta commands lease/ builds, so
// lease state kept in memcached (stale items, lease placeholders) is honoured; everything else
// passes through as the client wrote it, minus noreply/q, which the proxy applies itself so every
// backend request has exactly one reply.
#include <unistd.h>

#include <ctime>

#include "version.h"
#include "lease/client_reply.h"
#include "lease/lease_set.h"
#include "lease/lease_get.h"
#include "lease/plain_ops.h"
#include "mcproxy/net/worker.h"
#include "mcproxy/protocol/reply_writer.h"
#include "mcproxy/core/forwarded_line.h"

namespace mccache::net {

using protocol::Command;
using protocol::Request;

namespace {

std::string backend_down_reply(const std::string& server) {
  return "SERVER_ERROR backend " + server + " is down\r\n";
}

// No connection of an up server can take the request right now. Only lease commands wait for a
// connection's epoch; anything else is refused only while every connection is reconnecting.
std::string backend_unavailable_reply(const pool::Server& server, bool lease_command) {
  if (server.health.down()) return backend_down_reply(server.name);
  return "SERVER_ERROR backend " + server.name +
         (lease_command ? " lease epoch not known yet; retry\r\n" : " is reconnecting; retry\r\n");
}

// Where the exptime is in a text command line sent to the gutter (capped there); 0: no exptime
// to cap (append/prepend keep the item's own, incr/decr have none).
size_t text_exptime_index(Command c) {
  switch (c) {
    case Command::kSet:
    case Command::kAdd:
    case Command::kReplace:
    case Command::kCas:
      return 3;  // <cmd> <key> <flags> <exptime> <bytes> ...
    case Command::kTouch:
      return 2;  // touch <key> <exptime>
    default:
      return 0;
  }
}

bool meta_sets_ttl(Command c) {
  return c == Command::kMetaGet || c == Command::kMetaSet || c == Command::kMetaDelete ||
         c == Command::kMetaArithmetic;
}

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

// memcached echoes the key with `k`, so the reply carries it and a pending slot needs no copy of
// the key (lease/ builds the command; this only adds the flag before its "\r\n").
void echo_key(std::string& out) { out.insert(out.size() - 2, " k"); }

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

}  // namespace

void Worker::dispatch(ClientConnection& client, const Request& r) {
  const auto& cfg = live_->proxy;
  switch (r.command) {
    case Command::kGet:
    case Command::kGets:
    case Command::kGat:
    case Command::kGats:
    case Command::kLeaseGet:
      dispatch_retrieval(client, r);
      return;
    case Command::kLeaseSet:
      dispatch_lease_set(client, r);
      return;
    case Command::kVersion:
      client.reply_now(r.size, "VERSION mcproxy-" MCCACHE_VERSION "\r\n");
      counters_->count(r.command, Result::kOk);
      return;
    case Command::kStats:
      reply_stats(client, r);
      return;
    case Command::kQuit:
      client.quit();
      return;
    case Command::kMetaNoop:
      // Answered here, in order: every earlier reply of this client is already ahead of it.
      client.reply_now(r.size, "MN\r\n");
      counters_->count(r.command, Result::kOk);
      return;
    case Command::kFlushAll:
    case Command::kVerbosity:
    case Command::kAdminOther:
      if (!cfg.admin_commands) {
        client.reply_now(r.size, protocol::kAdminDisabledReply);
        counters_->count(r.command, Result::kClientError);
        return;
      }
      if (r.command == Command::kAdminOther) {
        client.reply_now(r.size, "CLIENT_ERROR this admin command is not supported by mcproxy\r\n");
        counters_->count(r.command, Result::kClientError);
        return;
      }
      dispatch_broadcast(client, r);
      return;
    default:
      break;
  }

  Route to = route(r.key());
  bool quiet_reply = r.noreply;  // text noreply: send nothing back, even on success
  uint64_t seq = client.replies().reserve(r.size);
  ReplyAction action = ReplyAction::kPassThrough;
  if (r.command == Command::kDelete) {
    action = ReplyAction::kDelete;
  } else if (protocol::is_meta(r.command) && r.quiet) {
    action = r.command == Command::kMetaGet ? ReplyAction::kQuietMetaGet
                                            : ReplyAction::kQuietMetaOther;
  }
  if (quiet_reply) action = ReplyAction::kDiscard;
  forward(client, r, to, action, seq);
}

void Worker::forward(ClientConnection& client, const Request& r, const Route& to,
                     ReplyAction action, uint64_t seq) {
  BackendConnection* b = backend_for(*to.link);
  if (b == nullptr) {
    if (action != ReplyAction::kDiscard)
      client.replies().buffer_for(seq).append(backend_unavailable_reply(*to.link->server, false));
    client.replies().complete(seq);
    counters_->count(r.command, Result::kBackendDown);
    return;
  }
  std::string& out = b->out();
  if (r.command == Command::kDelete) {
    // Both modes void outstanding leases: md I bumps the CAS a token names, md drops the item.
    const auto& leases = lease_settings_for(*to.link);
    lease::append_delete_command(out, r.key(), leases.delete_mode, leases.stale_ttl_s);
  } else if (to.gutter && text_exptime_index(r.command) != 0) {
    // Nothing may outlive the gutter's ttl_s there: it may miss invalidations while it stands in.
    core::append_text_for_gutter(out, r.line, text_exptime_index(r.command), r.noreply,
                                  live_->gutter_ttl_s, unix_now());
  } else if (to.gutter && meta_sets_ttl(r.command)) {
    core::append_meta_for_gutter(out, r.line, r.command == Command::kMetaSet, r.quiet,
                                  live_->gutter_ttl_s, unix_now());
  } else if (protocol::is_meta(r.command)) {
    if (r.quiet) {
      core::append_line_without(out, r.line, "q");
    } else {
      out.append(r.line);
      out.append("\r\n");
    }
  } else if (r.noreply) {
    core::append_line_without(out, r.line, "noreply");
  } else {
    out.append(r.line);
    out.append("\r\n");
  }
  if (protocol::has_data_block(r.command)) {
    out.append(r.data);
    out.append("\r\n");
  }
  b->expect(PendingReply{&client, seq, r.command, action, now_});
}

void Worker::dispatch_retrieval(ClientConnection& client, const Request& r) {
  bool single = r.keys.size() == 1;
  bool lease = r.command == Command::kLeaseGet;
  bool touch = r.command == Command::kGat || r.command == Command::kGats;
  ReplyAction action = lease    ? (single ? ReplyAction::kLeaseGetOnlyKey
                                          : ReplyAction::kLeaseGetOneOfMany)
                       : single ? ReplyAction::kGetOnlyKey
                                : ReplyAction::kGetOneOfMany;
  auto& replies = client.replies();
  for (size_t i = 0; i < r.keys.size(); ++i) {
    std::string_view key = r.keys[i];
    uint64_t seq = replies.reserve(i == 0 ? r.size : 0);
    Route to = route(key);
    // A lease-get needs the connection's epoch to mint a token: mg N creates the placeholder
    // whatever we do with the answer, so never send one we could not answer. Right after a
    // (re)connect the `stats` probe is ahead of it, so its reply finds the epoch known.
    BackendConnection* b = lease ? backend_for_lease(*to.link, true) : backend_for(*to.link);
    if (b == nullptr) {
      // One key's server is down: a single-key get says so; a multi-key get answers the keys it
      // can and leaves the others out (a miss to the client), so one dead server does not fail
      // every multi-get that touches it.
      reply_backend_down(client, r, *to.link, seq, single, lease);
      if (lease) counters_->count(LeaseGetOutcome::kError);
      continue;
    }
    std::string& out = b->out();
    if (lease) {
      lease::append_lease_get_command(out, key, lease_settings_for(*to.link));
    } else if (touch) {
      lease::append_touch_get_command(
          out, key,
          to.gutter ? core::gutter_exptime(r.exptime, live_->gutter_ttl_s, unix_now())
                    : r.exptime);
    } else {
      lease::append_plain_get_command(out, key);
    }
    echo_key(out);
    b->expect(PendingReply{&client, seq, r.command, action, now_});
  }
  if (!single) client.reply_now(0, protocol::kEndReply);
}

void Worker::reply_backend_down(ClientConnection& client, const Request& r, const ServerLink& link,
                                uint64_t seq, bool say_it, bool lease_command) {
  auto& replies = client.replies();
  if (say_it)
    replies.buffer_for(seq).append(backend_unavailable_reply(*link.server, lease_command));
  replies.complete(seq);
  counters_->count(r.command, Result::kBackendDown);
}

void Worker::dispatch_lease_set(ClientConnection& client, const Request& r) {
  Route to = route(r.key());
  uint64_t seq = client.replies().reserve(r.size);
  BackendConnection* b = backend_for_lease(*to.link, false);
  if (b == nullptr) {
    reply_backend_down(client, r, *to.link, seq, !r.noreply, true);
    counters_->count(LeaseSetOutcome::kError);
    return;
  }
  // Tokens 0/1, tokens from before a memcached restart and tokens we never issued name no CAS
  // on this backend: refused here, without a trip.
  auto plan = lease::plan_lease_set(r.lease_token, *b->epoch());
  if (!plan.send_to_backend) {
    if (!r.noreply) client.replies().buffer_for(seq).append(lease::kNotStored);
    client.replies().complete(seq);
    counters_->count(r.command, Result::kNotStored);
    counters_->count(refusal_reason(plan.verdict));
    return;
  }
  // noreply still sends the non-quiet ms: its one reply keeps the FIFO exact and is counted.
  int64_t exptime =
      to.gutter ? core::gutter_exptime(r.exptime, live_->gutter_ttl_s, unix_now()) : r.exptime;
  lease::append_lease_set_command(b->out(), r.key(), plan.cas, r.flags, exptime, r.data);
  b->expect(PendingReply{&client, seq, r.command,
                         r.noreply ? ReplyAction::kLeaseSetNoreply : ReplyAction::kLeaseSet, now_});
}

void Worker::dispatch_broadcast(ClientConnection& client, const Request& r) {
  // The gutter too: flush_all must not leave copies there to be served while a server is down.
  bool first = true;
  for (auto* links : {&links_, &gutter_links_}) {
    for (auto& link : *links) {
      uint64_t seq = client.replies().reserve(first ? r.size : 0);
      first = false;
      forward(client, r, Route{link.get(), false}, ReplyAction::kBroadcastPart, seq);
    }
  }
  client.reply_now(0, r.noreply ? "" : "OK\r\n");
}

void Worker::reply_stats(ClientConnection& client, const Request& r) {
  std::string out;
  auto num = [](uint64_t v) { return std::to_string(v); };
  protocol::append_stat(out, "pid", num(static_cast<uint64_t>(::getpid())));
  auto up = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - shared_.started);
  protocol::append_stat(out, "uptime", num(static_cast<uint64_t>(up.count())));
  protocol::append_stat(out, "version", "mcproxy-" MCCACHE_VERSION);
  protocol::append_stat(out, "threads", num(static_cast<uint64_t>(live_->proxy.threads)));
  protocol::append_stat(out, "curr_connections",
                        num(static_cast<uint64_t>(shared_.open_connections.load())));
  for (const auto& link : links_)
    protocol::append_stat(out, "server:" + link->server->name,
                          link->server->health.down() ? "down" : "up");
  for (const auto& link : gutter_links_)
    protocol::append_stat(out, "gutter:" + link->server->name,
                          link->server->health.down() ? "down" : "up");
  out.append(protocol::kEndReply);
  client.reply_now(r.size, out);
  counters_->count(r.command, Result::kOk);
}

}  // namespace mccache::net
