// lease-get: the mg sent for it and what memcached's answer means for the client (mcrouter's
// MockMc semantics: token 0 hit, > 1 granted, 1 hot miss). The client's bytes are the proxy
// core's (mcproxy/core/reply_translate.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lease/backend_epoch.h"
#include "lease/settings.h"
#include "pool/reply_parser.h"

namespace mccache::lease {

// "mg <key> v f c t N<lease_ttl> k". N vivifies a miss into an empty placeholder that lives
// lease_ttl seconds and hands this request the win (W); later requests see Z. k: the reply names
// its key, so the proxy keeps no copy of it while the request is out. One reply.
void append_lease_get_command(std::string& out, std::string_view key, const LeaseSettings& s);

enum class LeaseGetKind {
  Hit,           // VALUE: a fresh item
  LeaseGranted,  // LVALUE <token>: this client should read the DB and lease-set
  HotMiss,       // LVALUE 1: someone else fills it; value is the stale copy if there is one
  BackendError,  // SERVER_ERROR
};

struct LeaseGetOutcome {
  LeaseGetKind kind = LeaseGetKind::BackendError;
  uint64_t token = 0;         // 0 on a hit, 1 on a hot miss, the lease otherwise
  uint32_t client_flags = 0;  // of the value below (0 for an empty placeholder)
  std::string_view value;     // hit: the value; miss: the stale copy or empty (views the reply)
  bool stale = false;         // value is an invalidated copy (X)
  std::string_view error;     // BackendError: why
};

// `reply` answers "mg <key> v f c t N<lease_ttl>" on the backend whose current epoch is `epoch`.
//   W (we created the placeholder, or were first on a stale copy) -> LeaseGranted, token = our
//     LeaseToken of the item's CAS, value = stale copy (X) or empty;
//   X without W -> HotMiss with the stale value;   Z on an empty non-stale item (a placeholder
//   someone else holds) -> HotMiss, empty;   otherwise VA -> Hit;
//   EN (vivify failed: memcached out of memory) -> HotMiss, so the client backs off and retries.
LeaseGetOutcome classify_lease_get(const pool::Reply& reply, BackendEpoch epoch);

}  // namespace mccache::lease
