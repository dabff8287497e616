// lease-get: the mg sent for it, what memcached's answer means for the client, and the client
// reply bytes (mcrouter's MockMc semantics: token 0 hit, > 1 granted, 1 hot miss).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lease/backend_epoch.h"
#include "lease/settings.h"
#include "pool/reply_parser.h"

namespace mccache::lease {

// "mg <key> v f c t N<lease_ttl>". N vivifies a miss into an empty placeholder that lives
// lease_ttl seconds and hands this request the win (W); later requests see Z. One reply.
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

// One key's block: "VALUE ..." / "LVALUE ..." (no END), or "SERVER_ERROR ...\r\n". For a
// multi-key lease-get write each key's block, then kEnd.
void append_lease_get_block(std::string& out, std::string_view key, const LeaseGetOutcome& o);
// A whole single-key reply: the block followed by "END\r\n" (just SERVER_ERROR on error).
void append_lease_get_reply(std::string& out, std::string_view key, const LeaseGetOutcome& o);

}  // namespace mccache::lease
