// Starts the real build/bin/mcproxy over real memcached servers, with a temporary config file
// that a test may rewrite and reload (SIGHUP).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/servers.h"

namespace mccache::testing {

class ProxyProcess {
 public:
  // `extra` is spliced into the "mcproxy" section, e.g. R"("admin_commands": true,)";
  // `pool_extra` into the "pool" section, e.g. R"(, "gutter": {...})".
  ProxyProcess(const std::vector<const MemcachedServer*>& servers, const std::string& extra = "",
               const std::string& pool_extra = "", int threads = 2)
      : port_(free_tcp_port()), metrics_port_(free_tcp_port()) {
    config_path_ = "/tmp/mcproxy_test_" + std::to_string(::getpid()) + "_" +
                   std::to_string(port_) + ".json";
    write_config(servers, extra, pool_extra, threads);
    pid_ = spawn({binary(), "--config", config_path_}, log_path());
    if (!wait_for_port(port_, std::chrono::seconds(5)))
      throw std::runtime_error("mcproxy did not start; see " + log_path());
  }
  ~ProxyProcess() {
    stop_process(pid_, SIGTERM);
    std::remove(config_path_.c_str());
    std::remove(log_path().c_str());
  }

  // Rewrites the config file (same ports); send reload() to apply it.
  void write_config(const std::vector<const MemcachedServer*>& servers,
                    const std::string& extra = "", const std::string& pool_extra = "",
                    int threads = 2) {
    std::string list;
    for (auto* s : servers) list += (list.empty() ? "\"" : ", \"") + s->endpoint() + "\"";
    write_raw(R"({"datacenter": "test", "log": {"level": "info"},
      "pool": {"servers": [)" + list + "]" + pool_extra + R"(},
      "mcproxy": {)" + extra + R"( "listen": "127.0.0.1:)" + std::to_string(port_) +
              R"(", "metrics_listen": "127.0.0.1:)" + std::to_string(metrics_port_) +
              R"(", "threads": )" + std::to_string(threads) + "}}");
  }
  void write_raw(const std::string& text) { std::ofstream(config_path_) << text; }
  void reload() { ::kill(pid_, SIGHUP); }

  // The /metrics page.
  std::string metrics() const {
    LineClient http(metrics_port_);
    http.send("GET /metrics HTTP/1.0\r\n\r\n");
    return http.read_until("\x01");  // never sent: reads until the server closes (HTTP/1.0)
  }
  // Polls /metrics until it contains `text` (bounded).
  bool wait_for_metric(const std::string& text,
                       std::chrono::milliseconds limit = std::chrono::seconds(5)) const {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (metrics().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  std::string log() const {
    std::ifstream in(log_path());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Waits up to `limit` for the process to exit; its wait status, or -1 if it is still running.
  int wait_exit(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (pid_ > 0) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return -1;
  }

  // build/bin/mcproxy, or $MCCACHE_TEST_MCPROXY (to show a test fails on another build).
  static std::string binary() {
    const char* other = std::getenv("MCCACHE_TEST_MCPROXY");
    return other != nullptr && *other != '\0' ? other : std::string(MCCACHE_BIN_DIR) + "/mcproxy";
  }

  uint16_t port() const { return port_; }
  uint16_t metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  const std::string& config_path() const { return config_path_; }
  std::string log_path() const { return config_path_ + ".log"; }

 private:
  uint16_t port_;
  uint16_t metrics_port_;
  std::string config_path_;
  pid_t pid_ = -1;
};

}  // namespace mccache::testing
