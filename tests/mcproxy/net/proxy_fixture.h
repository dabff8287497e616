// Starts the real build/bin/mcproxy over real memcached servers, with a temporary config file.
#pragma once

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/servers.h"

namespace mccache::testing {

class ProxyProcess {
 public:
  // `extra` is spliced into the "mcproxy" section, e.g. R"("admin_commands": true,)".
  ProxyProcess(const std::vector<const MemcachedServer*>& servers, const std::string& extra = "")
      : port_(free_tcp_port()), metrics_port_(free_tcp_port()) {
    config_path_ = "/tmp/mcproxy_test_" + std::to_string(::getpid()) + "_" +
                   std::to_string(port_) + ".json";
    std::string list;
    for (auto* s : servers) list += (list.empty() ? "\"" : ", \"") + s->endpoint() + "\"";
    std::ofstream(config_path_) << R"({"datacenter": "test", "log": {"level": "warn"},
      "pool": {"servers": [)" << list << R"(]},
      "mcproxy": {)" << extra << R"( "listen": "127.0.0.1:)" << port_
                                << R"(", "metrics_listen": "127.0.0.1:)" << metrics_port_
                                << R"(", "threads": 2}})";
    pid_ = spawn({std::string(MCCACHE_BIN_DIR) + "/mcproxy", "--config", config_path_},
                 config_path_ + ".log");
    if (!wait_for_port(port_, std::chrono::seconds(5)))
      throw std::runtime_error("mcproxy did not start; see " + config_path_ + ".log");
  }
  ~ProxyProcess() {
    stop_process(pid_, SIGTERM);
    std::remove(config_path_.c_str());
    std::remove((config_path_ + ".log").c_str());
  }
  uint16_t port() const { return port_; }
  uint16_t metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }

 private:
  uint16_t port_;
  uint16_t metrics_port_;
  std::string config_path_;
  pid_t pid_ = -1;
};

}  // namespace mccache::testing
