// Runs the invalidator for a datacenter's config until SIGINT/SIGTERM.
#pragma once

#include "config/config.h"

namespace mccache::invalidator {

int run_invalidator(const config::DatacenterConfig& config);

}  // namespace mccache::invalidator
