// The loop of one source, composed of its parts (see the header of each).
#include "invalidator/source/source_loop.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "config/dsn.h"
#include "invalidator/pgoutput/stream_frame.h"
#include "invalidator/source/reload.h"
#include "invalidator/source/startup.h"
#include "pool/server_health.h"
#include "service/notify.h"

namespace mccache::invalidator::source {

SourceLoop::SourceLoop(const config::DatacenterConfig& config, size_t source,
                       PreparedSource prepared, prometheus::Registry& registry, const Clock& clock)
    : config_(config),
      src_(config_.invalidator->sources.at(source)),
      who_(log_prefix(src_)),
      clock_(clock),
      metrics_(registry, src_.name, every_server(config_.pool)),
      delivery_(config_, src_, metrics_, tracker_, clock_),
      stream_({src_.dsn, src_.slot, src_.publication}),
      schema_watch_({src_.dsn,
                     src_.publication,
                     src_.slot,
                     src_.create_publication,
                     prepared.options.truncate,
                     {},
                     prepared.options.table_oids}),
      reader_(std::move(prepared.options), &schema_watch_, who_, metrics_, tracker_),
      slot_(src_, prepared.slot, who_, metrics_),
      status_(std::chrono::milliseconds(config_.invalidator->status_interval_ms), who_, metrics_,
              clock_),
      watermark_(src_.name, metrics_, clock_),
      trigger_(static_cast<size_t>(config_.invalidator->delivery.batch_max_keys)),
      batch_(delivery_.new_batch()) {
  schema_watch_.reset(watch_options());
  if (!prepared.slot.lost.empty()) slot_lost(prepared.slot.lost);
}

replication::SchemaWatch::Options SourceLoop::watch_options() const {
  std::vector<std::string> tables;
  for (const auto& [t, _] : config_.invalidator->tables) tables.push_back(t);
  const auto& keys = reader_.options();
  return {src_.dsn,      src_.publication, src_.slot,      src_.create_publication,
          keys.truncate, tables,           keys.table_oids};
}

bool SourceLoop::keep_delivering() const {
  // After the first SIGTERM the batch gets one bounded last attempt; a second signal ends it.
  if (final_attempt_) return stop_requests() < 2 && clock_.now() < shutdown_deadline_;
  return !stop_requested() && !reload_requested();
}

void SourceLoop::nap(std::chrono::milliseconds d) {
  auto until = clock_.now() + d;
  while (clock_.now() < until && !stop_requested() && !reload_requested())
    clock_.sleep_for(std::chrono::milliseconds(20));
}

void SourceLoop::feedback(bool force) {
  auto oldest = delivery_.deliverer().oldest_commit_time();
  if (oldest == 0) oldest = batch_->oldest_commit_time();
  auto confirmed = tracker_.confirmable();
  // Idle: nothing read waits for delivery, so no batch's gate query will move the gate's
  // position; only then may the watermark ask the gate itself (a query blocks the loop).
  bool idle = batch_->empty() && delivery_.deliverer().all_acked();
  watermark_.update(delivery_, tracker_, stream_.connected() && !slot_.lost(), idle);
  status_.update_gauges(confirmed, reader_.server_end(), oldest);
  if (!status_.due(force) || !stream_.connected()) return;
  // The state file first: a crash between the two must leave it at or above the slot.
  if (auto recorded = slot_.record_confirmed(confirmed); !recorded) {
    spdlog::warn("{}{}; not confirming {} until it can be written", who_, recorded.error().message,
                 pgoutput::format_lsn(confirmed));
    return;
  }
  status_.send(stream_, confirmed);
}

void SourceLoop::let_go_of_stream() {
  // The batch stays (fail closed); the walsender of a primary in a fast shutdown waits for us to
  // confirm what it sent, so the stream must not stay open while we cannot (replay_gate.h).
  if (!gate_unreachable_)
    spdlog::warn(
        "{}read gate: the primary cannot be queried; holding the batch, and closing the "
        "replication stream until it can (a primary that is shutting down waits for it)",
        who_);
  gate_unreachable_ = true;
  stream_.close();
  metrics_.active.Set(0);
  metrics_.reconnects.Increment();
}

void SourceLoop::slot_lost(const std::string& why) {
  stream_.close();
  if (!slot_.lose(why, tracker_.confirmable())) return;
  // Everything read but unconfirmed, and every change the slot dropped, is unknown now.
  batch_->clear();
  trigger_.delivered();
  delivery_.deliverer().clear();
  tracker_.reset();
  reader_.end_session();
}

bool SourceLoop::recover_slot() {
  auto bar = slot_.replace();
  if (!bar) return false;
  auto keep_going = [this] { return keep_delivering(); };
  if (!delivery_.flush_region(*bar, keep_going, [] {})) return false;
  slot_.replaced();
  tracker_.reset();
  return true;
}

void SourceLoop::reload() {
  service::Reloading reloading;
  Reload next;
  try {
    next = read_reload(config_, src_);
  } catch (const std::exception& e) {
    metrics_.reloads_refused.Increment();
    spdlog::error("{}reload refused, the running config stays: {}", who_,
                  config::redact_dsns(e.what()));
    return;
  }
  if (!next.needs_restart.empty())
    spdlog::warn(
        "{}reload: sources (dsn, slot, publication, wait_for_replay) need a restart; only pool, "
        "tables, message_prefix, truncate and on_slot_lost are reloaded",
        who_);
  if (auto swapped = reader_.replace_options(next.key_options); !swapped) {
    metrics_.reloads_refused.Increment();
    spdlog::error("{}reload refused, the running config stays: {}: {}", who_, config_.file,
                  swapped.error().message);
    return;
  }
  auto& inv = *config_.invalidator;
  inv.tables = next.config.invalidator->tables;
  inv.message_prefix = next.config.invalidator->message_prefix;
  inv.truncate = next.config.invalidator->truncate;
  src_.on_slot_lost = next.source.on_slot_lost;
  schema_watch_.reset(watch_options());
  if (next.pool_changed) {
    config_.pool = next.config.pool;
    delivery_.change_pool(config_.pool, *batch_);
    watermark_.pool_changed();
    spdlog::warn(
        "{}reload: the pool is now {} servers{}; every key, also those read before, is "
        "deleted where the new pool places it",
        who_, config_.pool.servers.size(),
        config_.pool.gutter.enabled()
            ? " and " + std::to_string(config_.pool.gutter.servers.size()) + " gutter"
            : std::string());
  }
  metrics_.reloads_applied.Increment();
  spdlog::info("{}reloaded {}: {} tables", who_, config_.file, inv.tables.size());
}

bool SourceLoop::step(int& exit_code) {
  reader_.report_notices(schema_watch_.tick(clock_.now()));
  // Servers that failed get their waiting keys again once their backoff has run out.
  delivery_.deliverer().retry_due();
  if (delivery_.too_many_held()) {
    // A server down for long: stop reading until it answers (or "skip" gives up on it), so
    // memory stays bounded; the slot keeps what is not read.
    if (!reported_paused_)
      spdlog::warn(
          "{}{} keys wait for a down memcached server (delivery.max_held_keys): "
          "reading the stream pauses until it answers",
          who_, delivery_.deliverer().retained_keys());
    reported_paused_ = true;
    feedback(false);
    clock_.sleep_for(delivery_.deliverer().until_next_retry(std::chrono::milliseconds(20)));
    return true;
  }
  reported_paused_ = false;
  auto pass = reader_.read(stream_, *batch_, trigger_, [this] { feedback(true); });
  if (pass.end == ReadPass::kStopped) {
    exit_code = pass.exit_code;
    return false;
  }
  bool failed = pass.end == ReadPass::kFailed;
  if (failed) {
    stream_.close();
    metrics_.active.Set(0);
    metrics_.reconnects.Increment();
  }
  if (!batch_->empty()) trigger_.added(clock_.now());
  bool quiet = false;
  if (pass.end == ReadPass::kDry) {
    if (trigger_.started()) clock_.sleep_for(delivery::BatchTrigger::kQuietNap);
    quiet = batch_->empty() || !stream_.wait_readable_us(0);
  }
  if (trigger_.due(batch_->key_count(), failed, quiet, clock_.now())) {
    // Held by a paused replica and interrupted by a signal: a reload is applied at the top of
    // the loop and delivery resumes; a stop leaves the loop.
    auto keep_going = [this] { return keep_delivering(); };
    auto gate = delivery_.deliver(batch_, keep_going, [this] { feedback(false); });
    if (gate == GatedDelivery::Gate::kShown) {
      trigger_.delivered();
      gate_unreachable_ = false;
    } else if (gate == GatedDelivery::Gate::kPrimaryUnreachable) {
      let_go_of_stream();
    } else if (stop_requested()) {
      return false;
    }
  }
  feedback(false);
  bool ping_due = reader_.server_end() > pinged_end_;
  if (quiet && batch_->empty() && stream_.connected() && ping_due && clock_.now() >= next_ping_) {
    // Caught up after new data: ask for the walsender's position, so the watermark passes the
    // WAL after the last commit (a reader's token is the insert position after its commit). At
    // most every kPingInterval: each one costs the walsender (the pipeline's limit) a reply.
    pinged_end_ = reader_.server_end();
    next_ping_ = clock_.now() + kPingInterval;
    status_.ping(stream_);
    ping_due = false;
  }
  if (quiet && batch_->empty() && stream_.connected() && !reload_requested()) {
    // A watermark that waits for the read gate is looked at again soon: token reads wait for it.
    auto wait = delivery_.deliverer().until_next_retry(
        std::chrono::milliseconds(watermark_.pending() || ping_due ? 2 : 100));
    stream_.wait_readable_us(wait.count());
  }
  return true;
}

int SourceLoop::run() {
  using Connected = SlotLifecycle::Connected;
  const auto& d = config_.invalidator->delivery;
  pool::Backoff backoff(std::chrono::milliseconds(d.retry_initial_ms),
                        std::chrono::milliseconds(d.retry_max_ms));
  int exit_code = 0;
  bool nap_first = false;  // the stream was let go while the gate cannot reach the primary
  while (!stop_requested()) {
    if (reload_requested()) {
      reloads_seen_ = reload_requests();
      reload_pending_ = true;
    }
    // Templates change only between transactions: one transaction's keys come from one config.
    if (reload_pending_ && !reader_.in_transaction()) {
      reload_pending_ = false;
      reload();
    }
    if (slot_.lost() && !(slot_.recovers() && recover_slot())) {
      feedback(false);  // the watermark is withdrawn: what the lost slot dropped is unknown
      nap(std::chrono::milliseconds(d.retry_max_ms));
      continue;
    }
    if (!stream_.connected()) {
      if (std::exchange(nap_first, false)) nap(backoff.next());
      auto c = slot_.connect(stream_);
      if (c != Connected::kStreaming) {
        metrics_.active.Set(0);
        if (c == Connected::kLost) slot_lost("");
        if (c == Connected::kStandby) nap(std::chrono::milliseconds(src_.standby_retry_ms));
        if (c == Connected::kFailed) {
          metrics_.reconnects.Increment();
          nap(backoff.next());
        }
        continue;
      }
      if (!gate_unreachable_) backoff.reset();
      metrics_.active.Set(1);
      reader_.new_session();
    }
    if (!step(exit_code)) break;
    nap_first = !stream_.connected() && gate_unreachable_;
  }
  service::notify_stopping();
  if (exit_code == 0 && !slot_.lost()) finish();
  feedback(true);
  stream_.close();
  metrics_.active.Set(0);
  if (slot_.lost() && exit_code == 0) exit_code = 3;
  spdlog::info("{}invalidator stopped; confirmed flush LSN {}", who_,
               pgoutput::format_lsn(tracker_.confirmable()));
  return exit_code;
}

void SourceLoop::finish() {
  // SIGINT/SIGTERM: finish what was read and confirm it, but what a down server or a paused
  // replica holds gets only shutdown_timeout_ms more; it is not confirmed, so the slot replays it.
  if (batch_->empty() && delivery_.deliverer().all_acked()) return;
  final_attempt_ = true;
  shutdown_deadline_ =
      clock_.now() + std::chrono::milliseconds(config_.invalidator->shutdown_timeout_ms);
  auto keep_going = [this] { return keep_delivering(); };
  auto idle = [this] { feedback(false); };
  bool done = (batch_->empty() ||
               delivery_.deliver(batch_, keep_going, idle) == GatedDelivery::Gate::kShown) &&
              delivery_.deliverer().drain(keep_going, idle);
  if (!done)
    spdlog::warn(
        "{}stopping with {} keys not acknowledged by every server; the slot replays "
        "them after a restart",
        who_, delivery_.deliverer().retained_keys() + batch_->key_count());
}

}  // namespace mccache::invalidator::source
