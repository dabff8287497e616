// The region's memcached pool, shared by mcproxy (routing) and the invalidator (deletes).
#pragma once

#include <string>
#include <vector>

#include "config/choices.h"
#include "config/field_table.h"
#include "config/json_reader.h"

namespace mccache::config {

// Where the keys of a pool server that is marked down go instead of failing (mcrouter's "gutter"):
// a small separate memcached pool, ketama over its servers, every item there capped at ttl_s so a
// value that missed an invalidation cannot outlive it by more than that.
struct GutterConfig {
  std::vector<HostPort> servers;  // empty: no gutter, keys of a down server get SERVER_ERROR
  int ttl_s = 10;                 // upper bound on the life of anything stored in the gutter
  bool enabled() const { return !servers.empty(); }
};

struct PoolConfig {
  // Order matters for nothing: ketama placement depends only on each server's host:port.
  std::vector<HostPort> servers;
  // Pick what the apps' libmemcached uses (see HashMode), so both place every key alike.
  HashMode hash = HashMode::kKetama;
  // Hashed with `hash` too. The invalidator deletes every key from the gutter as well.
  GutterConfig gutter;
};

PoolConfig parse_pool_config(JsonObject& pool);
// The rows of docs/config.md's "pool" table.
std::vector<FieldDoc> pool_field_docs();

}  // namespace mccache::config
