// The region's memcached servers: where each key lives (libmemcached's ketama) and whether its
// server is up. Keys of a down server are not rehashed elsewhere (docs/mcproxy.md).
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "config/pool_config.h"
#include "mcproxy/route/ketama.h"
#include "mcproxy/route/server_health.h"

namespace mccache::route {

class ServerPool {
 public:
  ServerPool(const config::PoolConfig& pool, int failures_until_down);

  size_t server_for(std::string_view key) const { return ring_.server_for(key); }
  size_t size() const { return servers_.size(); }
  const config::HostPort& server(size_t i) const { return servers_[i]; }
  const std::string& name(size_t i) const { return names_[i]; }
  ServerHealth& health(size_t i) { return health_[i]; }
  const ServerHealth& health(size_t i) const { return health_[i]; }

 private:
  std::vector<config::HostPort> servers_;
  std::vector<std::string> names_;
  KetamaRing ring_;
  std::deque<ServerHealth> health_;  // deque: ServerHealth holds atomics and cannot move
};

HashMode hash_mode(const std::string& name);

}  // namespace mccache::route
