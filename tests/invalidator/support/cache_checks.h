// What invalidator tests read and write in memcached directly: a cached value, and whether the
// invalidator has reached it.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tests/support/servers.h"

namespace mccache::testing {

// Caches a value under `key` on `server` (the one ketama places it on).
inline void cache_value(const MemcachedServer& server, const std::string& key) {
  LineClient c(server.port());
  ASSERT_EQ(c.call("set " + key + " 0 0 5\r\nvalue\r\n"), "STORED\r\n");
}

// Invalidated: gone (EN) or marked stale (X flag) by `md <key> I`.
inline bool is_invalidated(const MemcachedServer& server, const std::string& key) {
  LineClient c(server.port());
  auto r = c.call("mg " + key + " v\r\n");
  if (r.rfind("EN", 0) == 0) return true;
  if (r.rfind("VA", 0) == 0) {
    r += c.read_until("\r\n");
    return r.find(" X") != std::string::npos;
  }
  return false;
}

}  // namespace mccache::testing
