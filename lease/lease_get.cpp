// lease-get command and reply classification.
#include "lease/lease_get.h"

#include "lease/lease_token.h"
#include "pool/meta_commands.h"

namespace mccache::lease {

using pool::ReplyStatus;

void append_lease_get_command(std::string& out, std::string_view key, const LeaseSettings& s) {
  pool::MetaRequest::get(out, key).flags("vfct").flag('N', s.lease_ttl_s).flag('k').end();
}

LeaseGetOutcome classify_lease_get(const pool::Reply& reply, BackendEpoch epoch) {
  LeaseGetOutcome o;
  switch (reply.status) {
    case ReplyStatus::kValue:
      break;
    case ReplyStatus::kMiss:
      o.kind = LeaseGetKind::HotMiss;
      o.token = kHotMissToken;
      return o;
    case ReplyStatus::kError:
    case ReplyStatus::kClientError:
    case ReplyStatus::kServerError:
      o.error = reply.message.empty() ? std::string_view("backend error") : reply.message;
      return o;
    default:
      o.error = "unexpected backend reply to lease-get";
      return o;
  }
  const pool::MetaFlags& f = reply.meta;
  o.client_flags = f.client_flags.value_or(0);
  o.value = reply.value;
  o.stale = f.stale;
  if (f.win) {
    auto token = f.cas ? LeaseToken::issue(epoch, *f.cas) : std::nullopt;
    if (token) {
      o.kind = LeaseGetKind::LeaseGranted;
      o.token = token->wire();
    } else {
      // A CAS past 48 bits cannot be carried; a hot miss makes the client back off instead of
      // holding a lease nobody could ever validate.
      o.kind = LeaseGetKind::HotMiss;
      o.token = kHotMissToken;
    }
    return o;
  }
  if (f.stale || (f.win_sent && reply.value.empty())) {
    o.kind = LeaseGetKind::HotMiss;
    o.token = kHotMissToken;
    return o;
  }
  // A fresh item. (Z on a non-empty fresh item only comes from another client's mg R<ttl>
  // recache race; the value itself is current.)
  o.kind = LeaseGetKind::Hit;
  o.token = kHitToken;
  o.stale = false;
  return o;
}

}  // namespace mccache::lease
