// Shared start-up of mcproxy and invalidator: flags, config, logging; errors as one line.
#include "config/command_line.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "config/log_level.h"
#include "version.h"

namespace mccache::config {

int run_daemon(int argc, char** argv, const std::string& program, const std::string& summary,
               Role role, const std::function<int(const DatacenterConfig&)>& run) {
  CLI::App app{summary, program};
  std::string config_path;
  bool check_only = false;
  app.add_option("--config,-c", config_path, "the datacenter's JSON config file (docs/config.md)");
  app.add_flag("--check-config", check_only,
               "validate the config, print what is wrong, exit 0 (valid) or 1; start nothing");
  app.set_version_flag("--version", std::string(program) + " " + MCCACHE_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (config_path.empty()) {
    std::cerr << program << ": --config FILE is required (try --help)\n";
    return 1;
  }

  DatacenterConfig config;
  try {
    config = load_config(config_path, role);
  } catch (const ConfigError& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
  if (check_only) {
    std::cout << config_path << ": OK\n";
    return 0;
  }

  spdlog::set_level(spdlog_level(config.log.level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + program + " " + config.datacenter + "] %v");
  try {
    return run(config);
  } catch (const ConfigError& e) {
    // Problems only visible at start-up (e.g. a table's replica identity) are config errors too.
    spdlog::error("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return 1;
  }
}

}  // namespace mccache::config
