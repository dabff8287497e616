// Plain get and delete: commands and reply mapping.
#include "lease/plain_ops.h"

#include "pool/meta_commands.h"

namespace mccache::lease {

using pool::MetaRequest;
using pool::ReplyStatus;

void append_plain_get_command(std::string& out, std::string_view key) {
  MetaRequest::get(out, key).flags("vfctk").end();
}

void append_touch_get_command(std::string& out, std::string_view key, int64_t exptime) {
  MetaRequest::get(out, key).flags("vfct").flag('T', exptime).flag('k').end();
}

void append_delete_command(std::string& out, std::string_view key, DeleteMode mode,
                           uint32_t stale_ttl_s, bool quiet) {
  MetaRequest md = MetaRequest::del(out, key);
  // stale_ttl 0 means "serve no stale copy", i.e. a removal: "md I T0" would instead make the
  // stale copy immortal.
  if (mode == DeleteMode::Invalidate && stale_ttl_s > 0) md.flag('I').flag('T', stale_ttl_s);
  if (quiet) md.flag('q');
  md.end();
}

void append_give_back_command(std::string& out, std::string_view key, uint64_t cas,
                              uint32_t ttl_s) {
  MetaRequest::del(out, key).flag('I').flag('T', ttl_s == 0 ? 1 : ttl_s).flag('C', cas).end();
}

PlainGetOutcome classify_plain_get(const pool::Reply& reply, const LeaseSettings& settings) {
  PlainGetOutcome o;
  if (reply.status == ReplyStatus::kMiss) return o;
  if (reply.status != ReplyStatus::kValue) {
    o.backend_error = true;
    o.error = reply.status == ReplyStatus::kServerError || reply.status == ReplyStatus::kClientError
                  ? reply.message
                  : std::string_view("unexpected backend reply to get");
    return o;
  }
  const pool::MetaFlags& f = reply.meta;
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

DeleteResult classify_delete(const pool::Reply& reply) {
  switch (reply.status) {
    case ReplyStatus::kHeader:
      return DeleteResult::Deleted;
    case ReplyStatus::kNotFound:
      return DeleteResult::NotFound;
    default:
      return DeleteResult::BackendError;
  }
}

}  // namespace mccache::lease
