// Pipelined delivery with per-server acknowledgement: a down server waits alone, with backoff.
#include "invalidator/delivery/deliverer.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "invalidator/pgoutput/stream_frame.h"
#include "pool/meta_commands.h"

namespace mccache::invalidator::delivery {

Deliverer::Deliverer(std::vector<std::string> servers, const config::DeliveryConfig& cfg,
                     Metrics& metrics, ConfirmTracker& tracker, const Clock& clock,
                     Exchange exchange)
    : cfg_(cfg),
      mode_(cfg.mode),
      skip_down_servers_(cfg.on_server_down == config::ServerDownPolicy::kSkip),
      metrics_(metrics),
      tracker_(tracker),
      clock_(clock),
      exchange_(std::move(exchange)) {
  for (auto& name : servers)
    servers_.push_back(
        Server{std::move(name), pool::Backoff(std::chrono::milliseconds(cfg.retry_initial_ms),
                                              std::chrono::milliseconds(cfg.retry_max_ms))});
}

bool Deliverer::send(size_t i, const std::vector<Batch*>& parts) {
  auto& server = servers_[i];
  keys_.clear();
  for (auto* b : parts) {
    const auto& k = b->pipelines()[i].keys;
    keys_.insert(keys_.end(), k.begin(), k.end());
  }
  // InFlight::next_for puts a flushing batch first, so its flush_all precedes every key.
  bool flush = parts.front()->flush_region();
  encode_pipeline(keys_, flush, mode_, static_cast<uint32_t>(cfg_.stale_ttl_s), request_);
  MetaReplyScanner replies;
  auto done = exchange_(i, request_, replies, std::chrono::milliseconds(cfg_.request_timeout_ms));
  if (done && replies.server_errors() > 0) done = fail("SERVER_ERROR in reply");
  // Keys are checked before they are sent (keys/), so a CLIENT_ERROR means the server does not
  // take our deletes: counting the part as done would drop its invalidations quietly.
  if (done && replies.client_errors() > 0) {
    metrics_.rejected.Increment(static_cast<double>(replies.client_errors()));
    done = fail(std::to_string(replies.client_errors()) + " deletes answered CLIENT_ERROR");
  }
  if (!done) {
    metrics_.server_up[i]->Set(0);
    if (!server.down)
      spdlog::warn(
          "memcached {}: {}; holding its keys and retrying (the other servers' keys are "
          "still delivered; the slot's position waits)",
          server.name, done.error().message);
    server.down = true;
    return false;
  }
  if (server.down) spdlog::info("memcached {}: back up", server.name);
  server.down = false;
  metrics_.server_up[i]->Set(1);
  uint64_t nf = replies.not_found();
  metrics_.not_found.Increment(static_cast<double>(nf));
  if (keys_.size() > nf) metrics_.deleted.Increment(static_cast<double>(keys_.size() - nf));
  if (flush) metrics_.flushes.Increment();
  for (auto* b : parts) b->ack(i);
  return true;
}

bool Deliverer::probe(size_t i) {
  // A hung server (stopped, swapping) accepts and never answers. Asking it first with a short
  // deadline makes each retry block the loop, and so every healthy server's keys, for
  // kProbeTimeout instead of request_timeout_ms.
  constexpr std::chrono::milliseconds kProbeTimeout{100};
  std::string noop;
  pool::append_noop(noop);
  MetaReplyScanner replies;
  return exchange_(i, noop, replies,
                   std::min(kProbeTimeout, std::chrono::milliseconds(cfg_.request_timeout_ms)))
      .ok();
}

void Deliverer::on_failure(size_t i, SteadyTime attempt_started) {
  auto& server = servers_[i];
  auto now = clock_.now();
  if (!server.waiting) server.waiting_since = now;
  server.waiting = true;
  if (skip_down_servers_ && now - server.waiting_since >= server.backoff.climb()) {
    // Weaker by choice of the operator: these keys may stay cached until they expire, so the
    // region's watermark must not pass them.
    tracker_.gave_up();
    size_t skipped = 0;
    for (auto parts = in_flight_.next_for(i, SIZE_MAX); !parts.empty();
         parts = in_flight_.next_for(i, SIZE_MAX))
      for (auto* b : parts) {
        skipped += b->pipelines()[i].keys.size();
        b->ack(i);
      }
    spdlog::error(
        "memcached {}: still down after retries; skipping {} keys (on_server_down "
        "\"skip\")",
        server.name, skipped);
    metrics_.skipped.Increment(static_cast<double>(skipped));
    server.waiting = false;
    server.backoff.reset();
    return;
  }
  // A refused connect (a restarting server, a stopped process on a live host) fails at once and
  // costs the loop nothing: retry it at the first step, so a server that is back gets its waiting
  // keys, and new ones, within retry_initial_ms. Slow failures (a hung server, a host that is
  // gone) block the loop, so they climb the backoff ladder.
  constexpr std::chrono::milliseconds kFastFailure{10};
  bool fast = now - attempt_started < kFastFailure;
  server.retry_at =
      now + (fast ? std::chrono::milliseconds(cfg_.retry_initial_ms) : server.backoff.next());
}

void Deliverer::submit(std::unique_ptr<Batch> batch) {
  batch->set_ticket(tracker_.seal());
  adopt(std::move(batch));
}

std::deque<std::unique_ptr<Batch>> Deliverer::take_in_flight() {
  spare_.reset();  // placed over the old servers
  return in_flight_.take_all();
}

void Deliverer::adopt(std::unique_ptr<Batch> batch) {
  Batch* b = batch.get();
  in_flight_.push(std::move(batch));
  for (size_t i = 0; i < servers_.size(); ++i) {
    // A waiting server's older parts go first; this one goes with them on its next retry.
    if (!b->has_work(i) || servers_[i].waiting) continue;
    auto started = clock_.now();
    if (!send(i, {b})) on_failure(i, started);
  }
  settle();
}

void Deliverer::retry_due() {
  auto now = clock_.now();
  bool retried = false;
  for (size_t i = 0; i < servers_.size(); ++i) {
    auto& server = servers_[i];
    if (!server.waiting || now < server.retry_at) continue;
    metrics_.retries.Increment();
    retried = true;
    auto started = clock_.now();
    if (!probe(i)) {
      on_failure(i, started);
      continue;
    }
    for (;;) {
      auto parts = in_flight_.next_for(i, static_cast<size_t>(cfg_.batch_max_keys));
      if (parts.empty()) {
        server.waiting = false;
        server.backoff.reset();
        break;
      }
      started = clock_.now();
      if (!send(i, parts)) {
        on_failure(i, started);
        break;
      }
    }
  }
  if (retried) settle();
}

bool Deliverer::drain(const std::function<bool()>& keep_going, const std::function<void()>& idle) {
  for (;;) {
    retry_due();
    if (in_flight_.empty()) return true;
    if (!keep_going()) return false;
    idle();
    clock_.sleep_for(until_next_retry(std::chrono::milliseconds(20)));
  }
}

void Deliverer::clear() {
  in_flight_.clear();
  for (auto& s : servers_) {
    s.waiting = false;
    s.backoff.reset();
  }
  settle();
}

std::chrono::microseconds Deliverer::until_next_retry(std::chrono::microseconds cap) const {
  auto now = clock_.now();
  auto wait = cap;
  for (const auto& s : servers_)
    if (s.waiting)
      wait = std::min(
          wait, std::max(std::chrono::microseconds(0),
                         std::chrono::duration_cast<std::chrono::microseconds>(s.retry_at - now)));
  return wait;
}

void Deliverer::settle() {
  auto now_us = clock_.unix_micros();
  in_flight_.pop_acked([&](std::unique_ptr<Batch> b) {
    tracker_.acknowledged(b->ticket());
    if (b->key_count() > 0 || b->flush_region()) {
      metrics_.keys.Increment(static_cast<double>(b->key_count()));
      metrics_.batches.Increment();
    }
    latencies_.clear();
    for (auto ts : b->commit_times())
      latencies_.push_back(
          static_cast<double>(now_us - pgoutput::unix_micros_from_pg_timestamp(ts)) / 1e6);
    metrics_.observe_commit_to_ack(latencies_);
    b->clear();
    spare_ = std::move(b);
  });
  bool waiting =
      std::any_of(servers_.begin(), servers_.end(), [](const Server& s) { return s.waiting; });
  metrics_.holding.Set(waiting ? 1 : 0);
  metrics_.held_keys.Set(static_cast<double>(in_flight_.retained_keys()));
}

}  // namespace mccache::invalidator::delivery
