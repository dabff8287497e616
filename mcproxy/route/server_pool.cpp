// Builds the ring once at start-up; afterwards only health changes.
#include "mcproxy/route/server_pool.h"

namespace mccache::route {

HashMode hash_mode(const std::string& name) {
  return name == "ketama_weighted" ? HashMode::kKetamaWeighted : HashMode::kKetama;
}

ServerPool::ServerPool(const config::PoolConfig& pool, int failures_until_down)
    : servers_(pool.servers), ring_(pool.servers, hash_mode(pool.hash)) {
  for (const auto& s : servers_) {
    names_.push_back(s.str());
    health_.emplace_back(failures_until_down);
  }
}

}  // namespace mccache::route
