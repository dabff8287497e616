// The settings and pools the proxy serves with right now. Built off the request path (start-up,
// SIGHUP), immutable afterwards (server health aside), and handed to each worker by a post to its
// io_context: a worker reads only its own pointer to it, so the request path takes no lock.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "mcproxy/core/context.h"
#include "mcproxy/net/metrics.h"
#include "pool/placement.h"
#include "pool/server_pool.h"

namespace mccache::net {

struct LiveConfig {
  std::string datacenter;
  config::ProxyConfig proxy;
  // What the core plans and translates with: lease settings (the gutter's capped), gutter TTL,
  // admin commands.
  core::Settings settings;
  // Where each key goes (pool server, or its gutter stand-in), over the servers below.
  pool::Placement placement;
  pool::ServerPool pool;
  std::vector<std::shared_ptr<ServerStats>> pool_stats{};  // [pool server]
  // The gutter: where a down pool server's keys go; absent when not configured.
  std::optional<pool::ServerPool> gutter{};
  std::vector<std::shared_ptr<ServerStats>> gutter_stats{};  // [gutter server]
};

// Builds the live config of `config` for `workers` threads. Servers that `previous` already
// lists keep their health and counters.
std::shared_ptr<const LiveConfig> build_live_config(const config::DatacenterConfig& config,
                                                    size_t workers, const LiveConfig* previous);

// The latest live config, for the threads that are not workers (metrics scrapes, reloads).
class LiveConfigSlot {
 public:
  std::shared_ptr<const LiveConfig> get() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  void set(std::shared_ptr<const LiveConfig> next) {
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const LiveConfig> current_;
};

}  // namespace mccache::net
