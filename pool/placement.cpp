// Builds the rings once per pool (start-up, reload).
#include "pool/placement.h"

namespace mccache::pool {

Placement::Placement(const config::PoolConfig& pool)
    : Placement(pool.servers,
                pool.gutter.enabled() ? pool.gutter.servers : std::vector<config::HostPort>{},
                pool.hash) {}

Placement::Placement(const std::vector<config::HostPort>& servers,
                     const std::vector<config::HostPort>& gutter_servers, HashMode mode)
    : pool_(servers, mode) {
  if (!gutter_servers.empty()) gutter_.emplace(gutter_servers, mode);
}

}  // namespace mccache::pool
