// Reply bytes captured from this machine's memcached 1.6.18 (`memcached -u root -p PORT -l
// 127.0.0.1`, then testdata/capture_meta_replies.py PORT). The comment on each says what was sent.
#pragma once

#include <string_view>

namespace mccache::lease::testing::captured {

// mg k1 v f c t N10 on a missing key: the placeholder is created and we win.
inline constexpr std::string_view kVivifiedWin = "VA 0 f0 c1 t-1 W\r\n\r\n";
// The same mg again: someone else holds the placeholder's win.
inline constexpr std::string_view kPlaceholderHeld = "VA 0 f0 c1 t10 Z\r\n\r\n";
// get k1 (text protocol) of that placeholder: an empty "hit" (the pitfall plain get avoids).
inline constexpr std::string_view kTextGetOfPlaceholder = "VALUE k1 0 0\r\n\r\nEND\r\n";
// mg k1 v f c t N10 on a fresh item.
inline constexpr std::string_view kHit = "VA 5 f7 c2 t-1\r\nhello\r\n";
// After md k1 I T30: first mg wins the stale copy, later ones see Z X.
inline constexpr std::string_view kStaleWin = "VA 5 f7 c3 t29 X W\r\nhello\r\n";
inline constexpr std::string_view kStaleHeld = "VA 5 f7 c3 t29 Z X\r\nhello\r\n";
// get k1 (text protocol) after md k1 I T30: the stale copy as a hit (the pitfall).
inline constexpr std::string_view kTextGetOfStale = "VALUE k1 7 5\r\nhello\r\nEND\r\n";
// mg k3 v f c t on a missing key (no N).
inline constexpr std::string_view kMiss = "EN\r\n";
// ms with a wrong C<cas>; ms C<cas> with no item; md of a missing key; md with a wrong C.
inline constexpr std::string_view kCasMismatch = "EX\r\n";
inline constexpr std::string_view kNotFound = "NF\r\n";
inline constexpr std::string_view kStored = "HD\r\n";
// md k1 q of a missing key still answers NF (only HD is suppressed by q).
inline constexpr std::string_view kQuietDeleteMissing = "NF\r\n";
// The presence probe "mg <k> s c t k": a live item; a stale copy (md k4 I T30), first and later
// probes; a miss; a placeholder (after mg k6 v f c t N10).
inline constexpr std::string_view kProbeLive = "HD s5 c1 t-1 kk4\r\n";
inline constexpr std::string_view kProbeStaleWin = "HD s5 c2 t30 kk4 X W\r\n";
inline constexpr std::string_view kProbeStaleHeld = "HD s5 c2 t30 kk4 Z X\r\n";
inline constexpr std::string_view kProbeMiss = "EN kk5\r\n";
inline constexpr std::string_view kProbePlaceholder = "HD s0 c3 t10 kk6 Z\r\n";
// The first lines of `stats`.
inline constexpr std::string_view kStats =
    "STAT pid 7895\r\nSTAT uptime 5\r\nSTAT time 1795434159\r\nSTAT version 1.6.18\r\n"
    "STAT libevent 2.1.12-stable\r\nSTAT pointer_size 64\r\nSTAT rusage_user 0.006297\r\n"
    "END\r\n";

}  // namespace mccache::lease::testing::captured
