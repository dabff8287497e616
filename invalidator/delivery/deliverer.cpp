// Pipelined delivery with per-server acknowledgement, bounded backoff, hold or skip.
#include "invalidator/delivery/deliverer.h"

#include <spdlog/spdlog.h>

#include <thread>

namespace mccache::invalidator::delivery {

Deliverer::Deliverer(const config::PoolConfig& pool, const config::DeliveryConfig& cfg,
                     Metrics& metrics)
    : cfg_(cfg),
      mode_(lease::delete_mode_from_name(cfg.mode).value_or(DeleteMode::Invalidate)),
      metrics_(metrics) {
  // The gutter's servers follow the pool's, as in Batch.
  for (const auto* list : {&pool.servers, &pool.gutter.servers})
    for (const auto& s : *list)
      servers_.emplace_back(s, std::chrono::milliseconds(cfg.request_timeout_ms));
  reported_down_.assign(servers_.size(), false);
}

bool Deliverer::send_to(size_t i, Batch& batch) {
  auto& keys = batch.pipelines()[i].keys;
  encode_pipeline(keys, batch.flush_region(), mode_, static_cast<uint32_t>(cfg_.stale_ttl_s),
                  request_);
  MetaReplyScanner replies;
  std::string error;
  bool ok = servers_[i].exchange(request_, replies, error);
  if (ok && replies.server_errors() > 0) {
    ok = false;
    error = "SERVER_ERROR in reply";
  }
  if (!ok) {
    metrics_.server_up[i]->Set(0);
    if (!reported_down_[i])
      spdlog::warn("memcached {}: {}; holding its {} keys and retrying", servers_[i].server().str(),
                   error, keys.size());
    reported_down_[i] = true;
    return false;
  }
  if (reported_down_[i]) spdlog::info("memcached {}: back up", servers_[i].server().str());
  reported_down_[i] = false;
  metrics_.server_up[i]->Set(1);
  uint64_t nf = replies.not_found(), bad = replies.client_errors();
  metrics_.not_found.Increment(static_cast<double>(nf));
  metrics_.rejected.Increment(static_cast<double>(bad));
  if (keys.size() > nf + bad) metrics_.deleted.Increment(static_cast<double>(keys.size() - nf - bad));
  if (batch.flush_region()) metrics_.flushes.Increment();
  batch.ack(i);
  return true;
}

Deliverer::Outcome Deliverer::deliver(Batch& batch, const std::function<bool()>& keep_going,
                                      const std::function<void()>& idle) {
  Backoff backoff{std::chrono::milliseconds(cfg_.retry_initial_ms),
                  std::chrono::milliseconds(cfg_.retry_max_ms)};
  for (;;) {
    for (size_t i = 0; i < servers_.size(); ++i)
      if (batch.has_work(i) && !batch.pipelines()[i].acked) send_to(i, batch);
    if (batch.all_acked()) {
      metrics_.holding.Set(0);
      return Outcome::kAcked;
    }
    if (cfg_.on_server_down == "skip" && backoff.exhausted()) {
      // Weaker by choice of the operator: these keys may stay cached until they expire.
      for (size_t i = 0; i < servers_.size(); ++i) {
        if (!batch.has_work(i) || batch.pipelines()[i].acked) continue;
        auto n = batch.pipelines()[i].keys.size();
        spdlog::error("memcached {}: still down after retries; skipping {} keys (on_server_down "
                      "\"skip\")",
                      servers_[i].server().str(), n);
        metrics_.skipped.Increment(static_cast<double>(n));
        batch.ack(i);
      }
      metrics_.holding.Set(0);
      return Outcome::kAcked;
    }
    metrics_.holding.Set(1);
    metrics_.retries.Increment();
    auto wait_until = std::chrono::steady_clock::now() + backoff.next();
    while (std::chrono::steady_clock::now() < wait_until) {
      if (!keep_going()) return Outcome::kStopped;
      idle();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace mccache::invalidator::delivery
