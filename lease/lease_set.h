// lease-set <key> <token> <flags> <exptime> <bytes> [noreply]: whether to go to memcached at
// all, and what its answer to append_lease_set_command means for the client.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lease/backend_epoch.h"
#include "lease/lease_token.h"
#include "lease/meta_reply.h"

namespace mccache::lease {

struct LeaseSetPlan {
  bool send_to_backend = false;  // false: answer NOT_STORED now, no backend trip
  uint64_t cas = 0;              // for append_lease_set_command when send_to_backend
  TokenVerdict verdict = TokenVerdict::Malformed;
};

// Tokens 0/1, tokens of another epoch (memcached restarted since, or another server) and tokens
// we could not have issued are refused locally: their CAS means nothing on this backend.
LeaseSetPlan plan_lease_set(uint64_t wire_token, BackendEpoch current);

enum class LeaseSetResult {
  Stored,     // HD: the lease was still valid; the value is now a fresh item
  NotStored,  // EX (item replaced: invalidated, deleted and refilled, re-leased), NF (deleted
              // or lease expired), NS; also every local refusal
  BackendError,
};

LeaseSetResult classify_lease_set(const MetaReply& reply);

// "STORED\r\n" / "NOT_STORED\r\n" / "SERVER_ERROR <message>\r\n". STALE_STORED is never sent:
// mcrouter's memcache answers it when it parks a voided lease's value as the new stale copy; we
// never write a voided lease's value anywhere (it may be older than the stale copy it would
// replace), so NOT_STORED is the truthful answer and mcrouter clients treat both as "not cached".
void append_lease_set_reply(std::string& out, LeaseSetResult result,
                            std::string_view error_message = "backend error");

}  // namespace mccache::lease
