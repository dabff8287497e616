// The meta commands lease/ asks the proxy to send to a key's memcached. Each appends complete
// command bytes (with "\r\n") to the caller's per-backend buffer. Keys must already be valid
// text-protocol keys (1..250 bytes, no space or control bytes); the proxy's parser checks that.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lease/settings.h"

namespace mccache::lease {

// lease-get: "mg <key> v f c t N<lease_ttl>". N vivifies a miss into an empty placeholder that
// lives lease_ttl seconds and hands this request the win (W); later requests see Z. One reply.
void append_lease_get_command(std::string& out, std::string_view key, const LeaseSettings& s);

// plain get/gets through the proxy: "mg <key> v f c t" (no N: a miss must not create a
// placeholder; c and t are needed to give back a win, see plain_ops.h). One reply.
void append_plain_get_command(std::string& out, std::string_view key);

// gat/gats through the proxy: "mg <key> v f c t T<exptime>", classified like a plain get (a text
// `gat` would return a stale copy as a hit). Touching a stale copy extends it; harmless, as a
// stale copy is only ever served to lease-get hot misses. One reply.
void append_touch_get_command(std::string& out, std::string_view key, int64_t exptime);

// lease-set holding a valid token: "ms <key> <bytes> C<cas> F<flags> T<exptime>\r\n<value>\r\n".
// C makes memcached refuse (EX/NF) once any delete, invalidation, set or expiry has replaced
// the item the lease was granted on. One reply.
void append_lease_set_command(std::string& out, std::string_view key, uint64_t cas,
                              uint32_t client_flags, int64_t exptime, std::string_view value);

// delete through the proxy and the invalidator: "md <key> I T<stale_ttl>" (Invalidate) or
// "md <key>" (Remove, and Invalidate with stale_ttl 0). quiet adds q: memcached 1.6.18 then still
// answers NF and errors, only HD is suppressed, so a quiet batch must end with "mn"
// (append_noop_command) to know it is done.
void append_delete_command(std::string& out, std::string_view key, DeleteMode mode,
                           uint32_t stale_ttl_s, bool quiet = false);

// Gives back a win a plain get took on a stale item: "md <key> I T<ttl> C<cas>". A second md I
// clears the win (measured on 1.6.18); C<cas> makes it a no-op (EX) if the item changed since
// our mg, so a value stored meanwhile is never invalidated. Not quiet: exactly one reply.
void append_give_back_command(std::string& out, std::string_view key, uint64_t cas, uint32_t ttl_s);

// "mn": memcached answers "MN" after everything before it on the connection.
void append_noop_command(std::string& out);

}  // namespace mccache::lease
