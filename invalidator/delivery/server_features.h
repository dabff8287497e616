// What the invalidator needs of a memcached server, checked once per connection: `md <key> I T`
// (invalidate, keeping a stale copy for lease-get) and `mn`. A server without them answers every
// delete with CLIENT_ERROR or ERROR, which would drop every invalidation sent to it; such a server
// is treated as down, with the reason in the log. Pure.
#pragma once

#include <string>
#include <string_view>

#include "invalidator/error.h"

namespace mccache::invalidator::delivery {

// Sent on a new connection: the server's version, then an invalidation of a key nobody caches.
extern const char* const kFeatureProbe;
// How many reply lines kFeatureProbe gets.
constexpr int kFeatureProbeReplies = 2;

// Judges the probe's two reply lines (without their line ends).
Status check_features(std::string_view version_line, std::string_view md_reply);

}  // namespace mccache::invalidator::delivery
