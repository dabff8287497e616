// Plain get and delete mapping.
#include "lease/plain_ops.h"

#include "lease/client_reply.h"

namespace mccache::lease {

PlainGetOutcome classify_plain_get(const MetaReply& reply, const LeaseSettings& settings) {
  PlainGetOutcome o;
  if (reply.status == MetaStatus::EN) return o;
  if (reply.status != MetaStatus::VA) {
    o.backend_error = true;
    o.error = reply.status == MetaStatus::ServerError || reply.status == MetaStatus::ClientError
                  ? reply.message
                  : std::string_view("unexpected backend reply to get");
    return o;
  }
  const MetaFlags& f = reply.flags;
  bool placeholder = (f.win || f.win_sent) && reply.value.empty();
  if (f.stale || placeholder) {
    if (f.win && f.cas) {
      o.give_back = true;
      o.give_back_cas = *f.cas;
      // t is whole seconds left (-1: none); T0 would make the stale copy immortal.
      int64_t left = f.ttl.value_or(-1);
      o.give_back_ttl_s = left >= 1 ? static_cast<uint32_t>(left) : settings.stale_ttl_s;
      if (o.give_back_ttl_s == 0) o.give_back_ttl_s = 1;
    }
    return o;
  }
  o.hit = true;
  o.client_flags = f.client_flags.value_or(0);
  o.cas = f.cas.value_or(0);
  o.value = reply.value;
  return o;
}

DeleteResult classify_delete(const MetaReply& reply) {
  switch (reply.status) {
    case MetaStatus::HD:
      return DeleteResult::Deleted;
    case MetaStatus::NF:
      return DeleteResult::NotFound;
    default:
      return DeleteResult::BackendError;
  }
}

void append_delete_reply(std::string& out, DeleteResult result, std::string_view error_message) {
  switch (result) {
    case DeleteResult::Deleted:
      out.append(kDeleted);
      return;
    case DeleteResult::NotFound:
      out.append(kNotFound);
      return;
    case DeleteResult::BackendError:
      append_server_error(out, error_message);
      return;
  }
}

}  // namespace mccache::lease
