// Plain get/gets, delete, touch and cas through the proxy, made lease-safe: a stale copy or a
// lease placeholder is never a hit and looks absent to every plain command, a plain command never
// keeps the win a lease-get client needs, and a delete voids outstanding leases.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lease/settings.h"
#include "pool/reply_parser.h"

namespace mccache::lease {

// plain get/gets through the proxy: "mg <key> v f c t k" (no N: a miss must not create a
// placeholder; c and t are needed to give back a win, see below; k names the key in the reply).
// One reply.
void append_plain_get_command(std::string& out, std::string_view key);

// gat/gats through the proxy: "mg <key> v f c t T<exptime> k", classified like a plain get (a text
// `gat` would return a stale copy as a hit). Touching a stale copy extends it; harmless, as a
// stale copy is only ever served to lease-get hot misses. One reply.
void append_touch_get_command(std::string& out, std::string_view key, int64_t exptime);

// Gives back a win a plain get took on a stale item: "md <key> I T<ttl> C<cas>". A second md I
// clears the win (measured on 1.6.18); C<cas> makes it a no-op (EX) if the item changed since
// our mg, so a value stored meanwhile is never invalidated. Not quiet: exactly one reply.
void append_give_back_command(std::string& out, std::string_view key, uint64_t cas, uint32_t ttl_s);

// delete through the proxy and the invalidator: "md <key> I T<stale_ttl>" (Invalidate) or
// "md <key>" (Remove, and Invalidate with stale_ttl 0). quiet adds q: memcached 1.6.18 then still
// answers NF and errors, only HD is suppressed, so a quiet batch must end with "mn"
// (pool::append_noop) to know it is done.
void append_delete_command(std::string& out, std::string_view key, DeleteMode mode,
                           uint32_t stale_ttl_s, bool quiet = false);

// Whether a key is there for a plain command: "mg <key> s c t k", sent just before the command on
// the same connection. memcached's own delete/touch/cas act on a stale copy or a placeholder as
// on a live item (delete answers DELETED twice, touch TOUCHED, cas EXISTS); the command's answer
// is NOT_FOUND instead when the probe found neither a live item nor nothing. One reply.
void append_presence_probe(std::string& out, std::string_view key);

// Drops the stale copy or placeholder a presence probe found, before a storage command
// (add/replace/append/prepend/incr/decr), so memcached answers that command as for a missing key
// (none of its storage commands skips a stale item): "md <key> C<cas>", a no-op (EX) if the item
// changed since the probe. Dropping also voids a lease on it, as the write it precedes would.
// Not quiet: exactly one reply.
void append_drop_absent_command(std::string& out, std::string_view key, uint64_t cas);

struct PlainGetOutcome {
  bool hit = false;
  uint32_t client_flags = 0;
  uint64_t cas = 0;  // for a gets reply ("VALUE k f n <cas>")
  std::string_view value;
  // The mg took the win of a stale copy or placeholder (W): send
  // append_give_back_command(key, give_back_cas, give_back_ttl_s) and discard its one reply,
  // else lease-get clients would hot-miss until the stale copy expires.
  bool give_back = false;
  uint64_t give_back_cas = 0;
  uint32_t give_back_ttl_s = 0;  // the item's remaining TTL, so giving back does not extend it
  bool backend_error = false;
  std::string_view error;
};

// `reply` answers append_plain_get_command. Miss: EN, X (stale copy: a text `get` would have
// returned it as a hit), Z or W on an empty item (a lease placeholder: a text `get` returns it
// as an empty hit).
PlainGetOutcome classify_plain_get(const pool::Reply& reply, const LeaseSettings& settings);

// `reply` answers append_presence_probe. `hit` means a live item is there (a backend error counts
// as live: the command's own answer is passed on); give_back as for a plain get (a probe of a
// stale copy takes its win; the delete's own md I gives it back, touch and cas must).
PlainGetOutcome classify_presence(const pool::Reply& reply, const LeaseSettings& settings);

enum class DeleteResult { Deleted, NotFound, BackendError };

// `reply` answers append_delete_command (not quiet): HD -> Deleted, NF -> NotFound.
DeleteResult classify_delete(const pool::Reply& reply);

}  // namespace mccache::lease
