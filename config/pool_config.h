// The region's memcached pool, shared by mcproxy (routing) and the invalidator (deletes).
#pragma once

#include <string>
#include <vector>

#include "config/json_reader.h"

namespace mccache::config {

struct PoolConfig {
  // Order matters for nothing: ketama placement depends only on each server's host:port.
  std::vector<HostPort> servers;
  // "ketama": libmemcached's MEMCACHED_BEHAVIOR_KETAMA, what pylibmc's {"ketama": True} uses.
  // "ketama_weighted": libketama-compatible MD5 points (pylibmc {"ketama_weighted": True}).
  std::string hash = "ketama";
};

PoolConfig parse_pool_config(JsonObject& pool);

}  // namespace mccache::config
