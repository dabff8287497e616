// Turns a validated DatacenterConfig into what workers serve with.
#include "mcproxy/net/live_config.h"

#include <algorithm>

namespace mccache::net {
namespace {

lease::LeaseSettings lease_settings_of(const config::LeaseConfig& c) {
  lease::LeaseSettings s;
  s.lease_ttl_s = static_cast<uint32_t>(c.lease_ttl_s);
  s.stale_ttl_s = static_cast<uint32_t>(c.stale_ttl_s);
  // A stale TTL of 0 keeps nothing, so it is a plain delete.
  s.delete_mode = c.delete_mode;
  if (s.stale_ttl_s == 0) s.delete_mode = lease::DeleteMode::Remove;
  return s;
}

// Counters of each server of `pool`: the ones `previous` already had for that server, or new.
std::vector<std::shared_ptr<ServerStats>> stats_for(const pool::ServerPool& pool, size_t workers,
                                                    const LiveConfig* previous) {
  std::vector<std::shared_ptr<ServerStats>> out;
  for (size_t i = 0; i < pool.size(); ++i) {
    std::shared_ptr<ServerStats> found;
    if (previous != nullptr) {
      auto look = [&](const pool::ServerPool& p,
                      const std::vector<std::shared_ptr<ServerStats>>& stats) {
        for (size_t j = 0; j < p.size() && !found; ++j)
          if (p.name(j) == pool.name(i)) found = stats[j];
      };
      look(previous->pool, previous->pool_stats);
      if (previous->gutter) look(*previous->gutter, previous->gutter_stats);
    }
    out.push_back(found ? found : std::make_shared<ServerStats>(workers));
  }
  return out;
}

}  // namespace

std::shared_ptr<const LiveConfig> build_live_config(const config::DatacenterConfig& config,
                                                    size_t workers, const LiveConfig* previous) {
  const auto& proxy = *config.mcproxy;
  const int down_after = proxy.backend.failures_until_down;
  std::vector<const pool::ServerPool*> before;
  if (previous != nullptr) {
    before.push_back(&previous->pool);
    if (previous->gutter) before.push_back(&*previous->gutter);
  }
  auto live = std::make_shared<LiveConfig>(LiveConfig{
      .datacenter = config.datacenter,
      .proxy = proxy,
      .leases = lease_settings_of(proxy.leases),
      .placement = pool::Placement(config.pool),
      .pool = pool::ServerPool(config.pool.servers, down_after, before),
  });
  live->pool_stats = stats_for(live->pool, workers, previous);
  if (config.pool.gutter.enabled()) {
    live->gutter.emplace(config.pool.gutter.servers, down_after, before);
    live->gutter_stats = stats_for(*live->gutter, workers, previous);
    live->gutter_ttl_s = static_cast<uint32_t>(config.pool.gutter.ttl_s);
    auto& g = live->gutter_leases;
    g = live->leases;
    // Nothing on the gutter outlives ttl_s: not a lease placeholder, not a stale copy.
    g.lease_ttl_s = std::min(g.lease_ttl_s, live->gutter_ttl_s);
    g.stale_ttl_s = std::min(g.stale_ttl_s, live->gutter_ttl_s);
  }
  return live;
}

}  // namespace mccache::net
