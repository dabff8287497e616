// lease-set planning and reply mapping.
#include "lease/lease_set.h"

#include "lease/client_reply.h"

namespace mccache::lease {

LeaseSetPlan plan_lease_set(uint64_t wire_token, BackendEpoch current) {
  LeaseToken token = LeaseToken::from_wire(wire_token);
  LeaseSetPlan plan;
  plan.verdict = token.check(current);
  plan.send_to_backend = plan.verdict == TokenVerdict::Valid;
  plan.cas = plan.send_to_backend ? token.cas() : 0;
  return plan;
}

LeaseSetResult classify_lease_set(const MetaReply& reply) {
  switch (reply.status) {
    case MetaStatus::HD:
      return LeaseSetResult::Stored;
    case MetaStatus::EX:
    case MetaStatus::NF:
    case MetaStatus::NS:
      return LeaseSetResult::NotStored;
    default:
      return LeaseSetResult::BackendError;
  }
}

void append_lease_set_reply(std::string& out, LeaseSetResult result,
                            std::string_view error_message) {
  switch (result) {
    case LeaseSetResult::Stored:
      out.append(kStored);
      return;
    case LeaseSetResult::NotStored:
      out.append(kNotStored);
      return;
    case LeaseSetResult::BackendError:
      append_server_error(out, error_message);
      return;
  }
}

}  // namespace mccache::lease
