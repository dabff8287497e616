// Metric names and help text, in one place.
#include "invalidator/metrics.h"

#include <prometheus/family.h>

#include <algorithm>

#include "invalidator/keys/schema.h"

namespace mccache::invalidator {
namespace {

using namespace prometheus;

// Every series carries the source's name as a label when the invalidator follows several sources
// (sharded primaries); a single unnamed source keeps unlabelled series.
Labels with_source(const std::string& source, Labels labels = {}) {
  if (!source.empty()) labels.emplace("source", source);
  return labels;
}
Counter& counter(Registry& r, const std::string& source, const std::string& name,
                 const std::string& help) {
  return BuildCounter().Name(name).Help(help).Register(r).Add(with_source(source));
}
Gauge& gauge(Registry& r, const std::string& source, const std::string& name,
             const std::string& help) {
  return BuildGauge().Name(name).Help(help).Register(r).Add(with_source(source));
}

// 50 us .. ~60 s in steps of 20%: fine enough to read p50/p99 within a bucket's 20%.
Histogram::BucketBoundaries latency_bounds() {
  Histogram::BucketBoundaries b;
  for (double v = 50e-6; v < 60; v *= 1.2) b.push_back(v);
  return b;
}

}  // namespace

void Metrics::observe_commit_to_ack(const std::vector<double>& seconds) {
  if (seconds.empty()) return;
  std::vector<double> counts(commit_to_ack_bounds.size() + 1, 0);
  double sum = 0;
  for (double s : seconds) {
    auto it = std::lower_bound(commit_to_ack_bounds.begin(), commit_to_ack_bounds.end(), s);
    counts[static_cast<size_t>(it - commit_to_ack_bounds.begin())] += 1;
    sum += s;
  }
  commit_to_ack.ObserveMultiple(counts, sum);
}

MetricsEndpoint::MetricsEndpoint(const std::optional<config::HostPort>& listen)
    : registry(std::make_shared<Registry>()) {
  if (listen) {
    exposer = std::make_unique<Exposer>(listen->str());
    exposer->RegisterCollectable(registry);
  }
}

Metrics::Metrics(Registry& registry, const std::string& source,
                 const std::vector<config::HostPort>& servers)
    : deletes_family(BuildCounter().Name("mcinval_deletes_total").Help("Delete results by outcome")
                         .Register(registry)),
      skipped_family(BuildCounter().Name("mcinval_keys_skipped_total")
                         .Help("Templates or explicit keys that produced no key, by reason")
                         .Register(registry)),
      transactions(counter(registry, source, "mcinval_transactions_total",
                           "Committed transactions decoded from the slot")),
      rows(counter(registry, source, "mcinval_rows_total", "Row changes of configured tables")),
      keys(counter(registry, source, "mcinval_keys_total", "Keys sent for invalidation")),
      batches(counter(registry, source, "mcinval_batches_total", "Delivered batches")),
      deleted(deletes_family.Add(with_source(source, {{"result", "deleted"}}))),
      not_found(deletes_family.Add(with_source(source, {{"result", "not_found"}}))),
      rejected(deletes_family.Add(with_source(source, {{"result", "rejected"}}))),
      skipped(deletes_family.Add(with_source(source, {{"result", "skipped"}}))),
      flushes(counter(registry, source, "mcinval_flush_all_total", "flush_all sent for TRUNCATE")),
      retries(counter(registry, source, "mcinval_retries_total", "Pipeline retries to a memcached server")),
      key_null_column(skipped_family.Add(with_source(source, {{"reason", "null_column"}}))),
      key_unchanged_toast(skipped_family.Add(with_source(source, {{"reason", "unchanged_toast"}}))),
      key_invalid(skipped_family.Add(with_source(source, {{"reason", "invalid_key"}}))),
      replica_wait_seconds(counter(registry, source, "mcinval_replica_wait_seconds_total",
                                   "Time spent waiting for the read gate (replica replay or primary visibility)")),
      replica_polls(counter(registry, source, "mcinval_replica_polls_total",
                            "Read-gate queries (replica replay position or primary visibility)")),
      reconnects(counter(registry, source, "mcinval_replication_reconnects_total",
                         "Replication connection (re)starts after an error")),
      confirmed_flush_lsn(gauge(registry, source, "mcinval_confirmed_flush_lsn",
                                "Slot flush LSN confirmed to the walsender (as a number)")),
      applied_lsn(gauge(registry, source, "mcinval_applied_lsn",
                        "The region's watermark W as last published in its key (as a number; 0: "
                        "none): every transaction committed at or before it is invalidated here")),
      watermark_write_failures(counter(registry, source, "mcinval_watermark_write_failures_total",
                                       "Writes of the watermark key that failed (retried)")),
      lag_bytes(gauge(registry, source, "mcinval_replication_lag_bytes",
                      "Server WAL end minus confirmed flush LSN")),
      lag_seconds(gauge(registry, source, "mcinval_replication_lag_seconds",
                        "Now minus the commit time of the oldest undelivered transaction")),
      holding(gauge(registry, source, "mcinval_stream_held",
                    "1 while a down memcached server holds the slot's position back (its keys "
                    "wait; the other servers' keys are delivered)")),
      held_keys(gauge(registry, source, "mcinval_held_keys",
                      "Keys read but not yet acknowledged by every server (a batch a down server "
                      "waits for counts whole); reading pauses at delivery.max_held_keys")),
      active(gauge(registry, source, "mcinval_active",
                   "1 while this invalidator streams from the slot; 0 as a standby or when down")),
      slot_lost(gauge(registry, source, "mcinval_slot_lost",
                      "1 once the replication slot was found missing or invalidated")),
      reloads_applied(BuildCounter().Name("mcinval_config_reloads_total")
                          .Help("SIGHUP config reloads by result").Register(registry)
                          .Add(with_source(source, {{"result", "applied"}}))),
      reloads_refused(BuildCounter().Name("mcinval_config_reloads_total")
                          .Help("SIGHUP config reloads by result").Register(registry)
                          .Add(with_source(source, {{"result", "refused"}}))),
      unnamed_changes(counter(registry, source, "mcinval_unnamed_changes_total",
                              "Row changes of cached tables whose keys the templates could not "
                              "all name after a schema change (flushed, halted or ignored per "
                              "the truncate policy)")),
      commit_to_ack(BuildHistogram()
                        .Name("mcinval_commit_to_ack_seconds")
                        .Help("Commit timestamp to delete acknowledged")
                        .Register(registry)
                        .Add(with_source(source), latency_bounds())),
      commit_to_ack_bounds(latency_bounds()),
      source(source),
      up_family(BuildGauge().Name("mcinval_memcached_up").Help("1 if the last exchange succeeded")
                    .Register(registry)) {
  auto& changes = BuildCounter().Name("mcinval_schema_changes_total")
                      .Help("Schema changes under cached tables, by kind (docs/invalidator.md)")
                      .Register(registry);
  for (size_t i = 0; i < keys::kSchemaChangeKinds; ++i)
    schema_changes.push_back(&changes.Add(with_source(
        source, {{"change", keys::schema_change_name(static_cast<keys::SchemaChange>(i))}})));
  set_servers(servers);
}

void Metrics::set_servers(const std::vector<config::HostPort>& servers) {
  for (auto* g : server_up) up_family.Remove(g);
  server_up.clear();
  for (const auto& s : servers) {
    auto& g = up_family.Add(with_source(source, {{"server", s.str()}}));
    g.Set(1);
    server_up.push_back(&g);
  }
}

}  // namespace mccache::invalidator
