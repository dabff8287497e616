// Meta command byte builders.
#include "lease/meta_commands.h"

#include "lease/detail/ascii.h"

namespace mccache::lease {

using detail::append_int;
using detail::append_uint;

void append_lease_get_command(std::string& out, std::string_view key, const LeaseSettings& s) {
  out.append("mg ").append(key).append(" v f c t N");
  append_uint(out, s.lease_ttl_s);
  out.append("\r\n");
}

void append_plain_get_command(std::string& out, std::string_view key) {
  out.append("mg ").append(key).append(" v f c t\r\n");
}

void append_touch_get_command(std::string& out, std::string_view key, int64_t exptime) {
  out.append("mg ").append(key).append(" v f c t T");
  append_int(out, exptime);
  out.append("\r\n");
}

void append_lease_set_command(std::string& out, std::string_view key, uint64_t cas,
                              uint32_t client_flags, int64_t exptime, std::string_view value) {
  out.append("ms ").append(key).append(" ");
  append_uint(out, value.size());
  out.append(" C");
  append_uint(out, cas);
  out.append(" F");
  append_uint(out, client_flags);
  out.append(" T");
  append_int(out, exptime);  // 0: never expires; negative: already expired (as in `set`)
  out.append("\r\n").append(value).append("\r\n");
}

void append_delete_command(std::string& out, std::string_view key, DeleteMode mode,
                           uint32_t stale_ttl_s, bool quiet) {
  out.append("md ").append(key);
  // stale_ttl 0 means "serve no stale copy", i.e. a removal: "md I T0" would instead make the
  // stale copy immortal.
  if (mode == DeleteMode::Invalidate && stale_ttl_s > 0) {
    out.append(" I T");
    append_uint(out, stale_ttl_s);
  }
  if (quiet) out.append(" q");
  out.append("\r\n");
}

void append_give_back_command(std::string& out, std::string_view key, uint64_t cas,
                              uint32_t ttl_s) {
  out.append("md ").append(key).append(" I T");
  append_uint(out, ttl_s == 0 ? 1 : ttl_s);
  out.append(" C");
  append_uint(out, cas);
  out.append("\r\n");
}

void append_noop_command(std::string& out) { out.append("mn\r\n"); }

}  // namespace mccache::lease
