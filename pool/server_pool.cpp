// Builds a pool's servers once (start-up, reload); afterwards only their health changes.
#include "pool/server_pool.h"

namespace mccache::pool {

ServerPool::ServerPool(const std::vector<config::HostPort>& servers, int failures_until_down,
                       const std::vector<const ServerPool*>& previous) {
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

}  // namespace mccache::pool
