// Placeholder until replication and delivery land.
#include "invalidator/daemon.h"

#include <spdlog/spdlog.h>

namespace mccache::invalidator {

int run_invalidator(const config::DatacenterConfig& config) {
  spdlog::error("invalidator for {} is not implemented yet", config.datacenter);
  return 1;
}

}  // namespace mccache::invalidator
