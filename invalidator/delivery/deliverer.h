// Sends a batch to the region's pool and retries until every server acknowledged its part
// (on_server_down "hold") or, under "skip", gives up on a down server after the backoff ladder.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "config/invalidator_config.h"
#include "config/pool_config.h"
#include "invalidator/delivery/backoff.h"
#include "invalidator/delivery/batch.h"
#include "invalidator/delivery/memcached_connection.h"
#include "invalidator/metrics.h"

namespace mccache::invalidator::delivery {

class Deliverer {
 public:
  Deliverer(const config::PoolConfig& pool, const config::DeliveryConfig& cfg, Metrics& metrics);

  enum class Outcome { kAcked, kStopped };
  // `keep_going` is checked between retries; `idle` runs while waiting (keepalives upstream).
  Outcome deliver(Batch& batch, const std::function<bool()>& keep_going,
                  const std::function<void()>& idle);

 private:
  bool send_to(size_t server, Batch& batch);

  config::DeliveryConfig cfg_;
  DeleteMode mode_;
  Metrics& metrics_;
  std::vector<MemcachedConnection> servers_;
  std::vector<bool> reported_down_;
  std::string request_;
};

}  // namespace mccache::invalidator::delivery
