// The invalidator's Prometheus metrics, one table (names, help) in metrics.cpp.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/histogram.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/json_reader.h"

namespace mccache::invalidator {

// The process's registry and its HTTP endpoint, shared by every source.
struct MetricsEndpoint {
  explicit MetricsEndpoint(const std::optional<config::HostPort>& listen);
  // Leaves the HTTP server running instead of stopping it: civetweb's mg_stop waits for its
  // listener's 2 s poll quantum, which delayed every exit by ~1.8 s. It dies only when the
  // process ends; the exposer holds the registry weakly, so a late scrape finds nothing to read.
  ~MetricsEndpoint() { (void)exposer.release(); }
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<prometheus::Exposer> exposer;
};

// One source's series (labelled source="<name>" when the source has a name).
struct Metrics {
  Metrics(prometheus::Registry& registry, const std::string& source,
          const std::vector<config::HostPort>& servers);
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  prometheus::Family<prometheus::Counter>& deletes_family;
  prometheus::Family<prometheus::Counter>& skipped_family;

  prometheus::Counter& transactions;      // committed transactions decoded
  prometheus::Counter& rows;              // row changes of configured tables
  prometheus::Counter& keys;              // keys sent (after batch dedupe)
  prometheus::Counter& batches;
  prometheus::Counter& deleted;           // acknowledged, not NF
  prometheus::Counter& not_found;
  prometheus::Counter& rejected;          // CLIENT_ERROR: the part is retried, never counted as done
  prometheus::Counter& skipped;           // dropped under on_server_down "skip"
  prometheus::Counter& flushes;           // flush_all sent for TRUNCATE
  prometheus::Counter& retries;
  prometheus::Counter& key_null_column;
  prometheus::Counter& key_unchanged_toast;
  prometheus::Counter& key_invalid;
  prometheus::Counter& replica_wait_seconds;
  prometheus::Counter& replica_polls;
  prometheus::Counter& reconnects;
  prometheus::Gauge& confirmed_flush_lsn;
  prometheus::Gauge& applied_lsn;                   // the region's watermark W as published; 0 none
  prometheus::Counter& watermark_write_failures;
  prometheus::Gauge& lag_bytes;
  prometheus::Gauge& lag_seconds;
  prometheus::Gauge& holding;             // 1 while a down server holds the slot's position
  prometheus::Gauge& held_keys;           // keys kept until every server acknowledged them
  prometheus::Gauge& active;              // 1 while this process streams from the slot (not standby)
  prometheus::Gauge& slot_lost;           // 1 once the slot was found missing or invalidated
  prometheus::Counter& reloads_applied;   // SIGHUP reloads applied
  prometheus::Counter& reloads_refused;   // SIGHUP reloads refused (bad file; the old one runs)
  // By keys::SchemaChange: schema changes under cached tables, followed or not.
  std::vector<prometheus::Counter*> schema_changes;
  prometheus::Counter& unnamed_changes;   // row changes whose keys could not all be named
  // Commit timestamp → batch acknowledged, seconds. A histogram, not a Summary: prometheus-cpp's
  // CKMS summary memmoves its sample vector on every Observe, which cost 80% of the daemon's CPU
  // when replaying a backlog. Observed once per batch with ObserveMultiple.
  prometheus::Histogram& commit_to_ack;
  std::vector<double> commit_to_ack_bounds;
  void observe_commit_to_ack(const std::vector<double>& seconds);
  // mcinval_memcached_up{server}, one per server of the pool then the gutter (the deliverer's
  // order); set_servers replaces them when a reload changes the pool.
  void set_servers(const std::vector<config::HostPort>& servers);
  std::string source;
  prometheus::Family<prometheus::Gauge>& up_family;
  std::vector<prometheus::Gauge*> server_up;
};

}  // namespace mccache::invalidator
