// SIGHUP: re-read the config file with the loader --check-config uses and turn it into the next
// live config, or refuse it and keep serving with the running one.
#pragma once

#include <memory>
#include <string>

#include "mcproxy/net/live_config.h"

namespace mccache::net {

// Returns the live config to apply, or null if the file is refused; the refusal is logged at
// error level with the same line --check-config prints. Settings that only a restart can change
// (listen, threads, metrics_listen, datacenter) keep their running values and are logged as such.
std::shared_ptr<const LiveConfig> reload_live_config(const std::string& path,
                                                     const LiveConfig& running, size_t workers);

}  // namespace mccache::net
