// lease-set <key> <token> <flags> <exptime> <bytes> [noreply]: whether to go to memcached at
// all, the ms to send, and what its answer means for the client.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lease/backend_epoch.h"
#include "lease/lease_token.h"
#include "pool/reply_parser.h"

namespace mccache::lease {

struct LeaseSetPlan {
  bool send_to_backend = false;  // false: answer NOT_STORED now, no backend trip
  uint64_t cas = 0;              // for append_lease_set_command when send_to_backend
  TokenVerdict verdict = TokenVerdict::Malformed;
};

// Tokens 0/1, tokens of another epoch (memcached restarted since, or another server) and tokens
// we could not have issued are refused locally: their CAS means nothing on this backend.
LeaseSetPlan plan_lease_set(uint64_t wire_token, BackendEpoch current);

// A valid token's ms: "ms <key> <bytes> C<cas> F<flags> T<exptime>\r\n<value>\r\n". C makes
// memcached refuse (EX/NF) once any delete, invalidation, set or expiry has replaced the item the
// lease was granted on. One reply.
void append_lease_set_command(std::string& out, std::string_view key, uint64_t cas,
                              uint32_t client_flags, int64_t exptime, std::string_view value);

enum class LeaseSetResult {
  Stored,     // HD: the lease was still valid; the value is now a fresh item
  NotStored,  // EX (item replaced: invalidated, deleted and refilled, re-leased), NF (deleted
              // or lease expired), NS; also every local refusal
  BackendError,
};

LeaseSetResult classify_lease_set(const pool::Reply& reply);

}  // namespace mccache::lease
