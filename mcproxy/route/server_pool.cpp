// Builds the ring once per pool (start-up, reload); afterwards only health changes.
#include "mcproxy/route/server_pool.h"

namespace mccache::route {

HashMode hash_mode(const std::string& name) {
  return name == "ketama_weighted" ? HashMode::kKetamaWeighted : HashMode::kKetama;
}

ServerPool::ServerPool(const config::PoolConfig& pool, int failures_until_down)
    : ServerPool(pool.servers, hash_mode(pool.hash), failures_until_down) {}

ServerPool::ServerPool(const std::vector<config::HostPort>& servers, HashMode mode,
                       int failures_until_down, const std::vector<const ServerPool*>& previous)
    : ring_(servers, mode) {
  for (const auto& hp : servers) {
    std::shared_ptr<Server> s;
    for (const auto* p : previous)
      if (p != nullptr && (s = p->find(hp.str()))) break;
    if (s) {
      s->health.set_failures_until_down(failures_until_down);
    } else {
      s = std::make_shared<Server>(hp, failures_until_down);
    }
    servers_.push_back(std::move(s));
  }
}

std::shared_ptr<Server> ServerPool::find(std::string_view name) const {
  for (const auto& s : servers_)
    if (s->name == name) return s;
  return nullptr;
}

}  // namespace mccache::route
