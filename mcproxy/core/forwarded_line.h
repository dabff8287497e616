// How a client's command line is forwarded when it passes through (storage, incr/decr, touch,
// meta commands): as the client wrote it, minus the noreply/q the proxy applies itself so every
// backend request has exactly one reply; and, to the gutter pool in place of a down server, with
// its expiry capped: nothing stored there may outlive the gutter's ttl_s, so a value that missed
// an invalidation while its server was down is stale for at most that long. Pure: the caller
// passes the time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mccache::core {

// memcached reads an expiry above 30 days as an absolute unix time, not a number of seconds.
inline constexpr int64_t kMaxRelativeExptime = 60 * 60 * 24 * 30;

// The expiry to send to the gutter for a client's `exptime` (memcached's rules): 0 (never) and
// anything later than ttl_s from now become ttl_s; an absolute time becomes the seconds left,
// capped; a negative or past expiry (already expired) is kept as it is.
int64_t gutter_exptime(int64_t exptime, uint32_t ttl_s, int64_t now_unix);

// `line` plus "\r\n", without any token equal to `dropped` after the command and the key (a key
// spelled "noreply" or "q" is still the key).
void append_line_without(std::string& out, std::string_view line, std::string_view dropped);

// A text command line with its exptime token (at `exptime_index`, counted from the command name)
// replaced by gutter_exptime(); a trailing "noreply" is dropped when `drop_noreply`.
void append_text_for_gutter(std::string& out, std::string_view line, size_t exptime_index,
                            bool drop_noreply, uint32_t ttl_s, int64_t now_unix);

// A meta command line (mg, ms, md, ma) with the values of its T (TTL) and N (vivify TTL) flags
// capped the same way; an ms without T gets T<ttl_s> (memcached's default would be "never").
// The q flag is dropped when `drop_quiet`. `is_ms`: the token after the key is the data length.
void append_meta_for_gutter(std::string& out, std::string_view line, bool is_ms, bool drop_quiet,
                            uint32_t ttl_s, int64_t now_unix);

}  // namespace mccache::core
