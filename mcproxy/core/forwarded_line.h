// What mcproxy sends a backend for a request it passes through (storage, incr/decr, touch, meta
// commands, flush_all, verbosity): a request rebuilt from the parsed form, never the client's
// bytes, so memcached reads exactly the command mcproxy parsed (docs/security.md "What a client
// can make mcproxy send"). It never carries noreply or q: the proxy applies those itself, so
// every backend request has exactly one reply. To the gutter pool, in place of a down server, its
// expiry is capped: nothing stored there may outlive the gutter's ttl_s, so a value that missed an
// invalidation while its server was down is stale for at most that long. Pure: the caller passes
// the time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "mcproxy/protocol/request.h"

namespace mccache::core {

// memcached reads an expiry above 30 days as an absolute unix time, not a number of seconds.
inline constexpr int64_t kMaxRelativeExptime = 60 * 60 * 24 * 30;

// The expiry to send to the gutter for a client's `exptime` (memcached's rules): 0 (never) and
// anything later than ttl_s from now become ttl_s; an absolute time becomes the seconds left,
// capped; a negative or past expiry (already expired) is kept as it is.
int64_t gutter_exptime(int64_t exptime, uint32_t ttl_s, int64_t now_unix);

// How a request's expiry is capped on its way to the gutter.
struct GutterCap {
  uint32_t ttl_s = 0;
  int64_t now_unix = 0;
};

// The backend request for `r`, data block included: tokens joined by single spaces, "\r\n" after
// the line. Text commands are written from their parsed numbers; meta commands from their key
// and their accepted flags (Request::meta_flags). With `cap`, the text exptime, or the meta T and
// N values, are capped (gutter_exptime), and an ms without T gets T<ttl_s> (memcached's default
// would be "never"). A flush_all without a delay is sent as plain `flush_all`.
void append_forwarded_request(std::string& out, const protocol::Request& r,
                              std::optional<GutterCap> cap = std::nullopt);

}  // namespace mccache::core
