// Plain get, delete and the presence probe: commands and reply mapping.
#include "lease/plain_ops.h"

#include "pool/meta_commands.h"

namespace mccache::lease {

using pool::MetaRequest;
using pool::ReplyStatus;

void append_plain_get_command(std::string& out, std::string_view key) {
  MetaRequest::get(out, key).flags("vfctk").end();
}

void append_presence_probe(std::string& out, std::string_view key) {
  MetaRequest::get(out, key).flags("sctk").end();
}

void append_drop_absent_command(std::string& out, std::string_view key, uint64_t cas) {
  MetaRequest::del(out, key).flag('C', cas).end();
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

namespace {

// The size an "s" return flag names, or -1 when there is none.
int64_t size_flag(std::string_view flags) {
  while (!flags.empty()) {
    size_t end = flags.find(' ');
    std::string_view token = flags.substr(0, end);
    if (token.size() > 1 && token[0] == 's') {
      int64_t n = 0;
      for (char c : token.substr(1)) n = n * 10 + (c - '0');
      return n;
    }
    if (end == std::string_view::npos) break;
    flags.remove_prefix(end + 1);
  }
  return -1;
}

// A stale copy or a lease placeholder (an empty item whose win is taken or held) is not an item
// for a plain command; o.give_back is set when this request took its win.
bool is_absent_item(const pool::MetaFlags& f, bool empty, const LeaseSettings& settings,
                    PlainGetOutcome& o) {
  bool placeholder = (f.win || f.win_sent) && empty;
  if (!f.stale && !placeholder) return false;
  if (f.win && f.cas) {
    o.give_back = true;
    o.give_back_cas = *f.cas;
    // t is whole seconds left (-1: none); T0 would make the stale copy immortal.
    int64_t left = f.ttl.value_or(-1);
    o.give_back_ttl_s = left >= 1 ? static_cast<uint32_t>(left) : settings.stale_ttl_s;
    if (o.give_back_ttl_s == 0) o.give_back_ttl_s = 1;
  }
  return true;
}

std::string_view error_of(const pool::Reply& reply, std::string_view otherwise) {
  return reply.status == ReplyStatus::kServerError || reply.status == ReplyStatus::kClientError
             ? reply.message
             : otherwise;
}

}  // namespace

PlainGetOutcome classify_plain_get(const pool::Reply& reply, const LeaseSettings& settings) {
  PlainGetOutcome o;
  if (reply.status == ReplyStatus::kMiss) return o;
  if (reply.status != ReplyStatus::kValue) {
    o.backend_error = true;
    o.error = error_of(reply, "unexpected backend reply to get");
    return o;
  }
  const pool::MetaFlags& f = reply.meta;
  if (is_absent_item(f, reply.value.empty(), settings, o)) return o;
  o.hit = true;
  o.client_flags = f.client_flags.value_or(0);
  o.cas = f.cas.value_or(0);
  o.value = reply.value;
  return o;
}

PlainGetOutcome classify_presence(const pool::Reply& reply, const LeaseSettings& settings) {
  PlainGetOutcome o;
  if (reply.status == ReplyStatus::kMiss) return o;
  if (reply.status != ReplyStatus::kHeader) {
    o.hit = true;
    o.backend_error = true;
    o.error = error_of(reply, "unexpected backend reply to mg");
    return o;
  }
  o.hit = !is_absent_item(reply.meta, size_flag(reply.flags) == 0, settings, o);
  o.cas = reply.meta.cas.value_or(0);
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
