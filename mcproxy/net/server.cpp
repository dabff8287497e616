// Placeholder until the Asio server lands.
#include "mcproxy/net/server.h"

#include <spdlog/spdlog.h>

namespace mccache::mcproxy {

int run_proxy(const config::DatacenterConfig& config) {
  spdlog::error("mcproxy for {} is not implemented yet", config.datacenter);
  return 1;
}

}  // namespace mccache::mcproxy
