// Runs mcproxy for a datacenter's config until SIGINT/SIGTERM.
#pragma once

#include "config/config.h"

namespace mccache::mcproxy {

int run_proxy(const config::DatacenterConfig& config);

}  // namespace mccache::mcproxy
