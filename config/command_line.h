// The flags both daemons share (--config, --check-config, --help, --version) and logging set-up.
#pragma once

#include <functional>
#include <string>

#include "config/config.h"

namespace mccache::config {

// Parses argv, loads and validates the config for `role`, sets up spdlog, then calls `run`.
// Returns the process exit code: 0 ok, 1 bad config or flags (one clear line on stderr).
int run_daemon(int argc, char** argv, const std::string& program, const std::string& summary,
               Role role, const std::function<int(const DatacenterConfig&)>& run);

}  // namespace mccache::config
