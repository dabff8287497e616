// lease-set planning, command and reply mapping.
#include "lease/lease_set.h"

#include "pool/meta_commands.h"

namespace mccache::lease {

LeaseSetPlan plan_lease_set(uint64_t wire_token, BackendEpoch current) {
  LeaseToken token = LeaseToken::from_wire(wire_token);
  LeaseSetPlan plan;
  plan.verdict = token.check(current);
  plan.send_to_backend = plan.verdict == TokenVerdict::Valid;
  plan.cas = plan.send_to_backend ? token.cas() : 0;
  return plan;
}

void append_lease_set_command(std::string& out, std::string_view key, uint64_t cas,
                              uint32_t client_flags, int64_t exptime, std::string_view value) {
  // T0: never expires; a negative T: already expired (as in `set`).
  pool::MetaRequest::set(out, key, value.size())
      .flag('C', cas)
      .flag('F', client_flags)
      .flag('T', exptime)
      .end_with_data(value);
}

LeaseSetResult classify_lease_set(const pool::Reply& reply) {
  using pool::ReplyStatus;
  switch (reply.status) {
    case ReplyStatus::kHeader:
      return LeaseSetResult::Stored;
    case ReplyStatus::kExists:
    case ReplyStatus::kNotFound:
    case ReplyStatus::kNotStored:
      return LeaseSetResult::NotStored;
    default:
      return LeaseSetResult::BackendError;
  }
}

}  // namespace mccache::lease
