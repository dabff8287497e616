// Metrics: each proxy thread bumps its own counters (single writer, relaxed atomics: no lock, no
// shared cache line on the request path; the request outcomes are the core's, core/outcome.h);
// the /metrics scrape sums them (one table of names, like pgbouncer's bouncer_params[]).
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "mcproxy/core/outcome.h"
#include "mcproxy/protocol/request.h"

namespace mccache::net {

using core::bump;
using core::Counter;
using core::kInvalidCommand;
using core::kLeaseGetOutcomeCount;
using core::kLeaseSetOutcomeCount;
using core::kResultCount;
using core::LeaseGetOutcome;
using core::LeaseSetOutcome;
using core::Result;

inline constexpr std::array<double, 14> kLatencyBoundsUs{
    25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 102400, 1000000};

struct ServerCounters {
  std::array<Counter, kLatencyBoundsUs.size() + 1> latency_buckets{};
  Counter latency_sum_us{0};
  Counter failures{0};
  Counter requests{0};

  void observe_latency(std::chrono::nanoseconds d) {
    auto us = static_cast<uint64_t>(d.count() / 1000);
    size_t b = 0;
    while (b < kLatencyBoundsUs.size() && static_cast<double>(us) > kLatencyBoundsUs[b]) ++b;
    bump(latency_buckets[b]);
    bump(latency_sum_us, us);
  }
};

// One server's counters, one block per proxy thread (each thread writes only its own). Allocated
// off the request path when a server first appears in the config, and kept across reloads that
// keep the server, so its counters stay monotonic.
struct ServerStats {
  explicit ServerStats(size_t workers) : per_worker(workers) {}
  std::vector<ServerCounters> per_worker;  // never resized
};

// SIGHUP outcomes, written by the signal thread only.
struct ReloadCounters {
  Counter ok{0};
  Counter error{0};
};

// The core's request counters, and the shell's own.
struct WorkerCounters : core::RequestCounters {
  Counter bytes_in{0};
  Counter bytes_out{0};
  Counter connections_accepted{0};
  Counter connections_refused{0};
  Counter connections_open{0};  // gauge, written only by its thread
  Counter clients_cut_off{0};   // closed for not reading their replies (guards.h)
  Counter accept_errors{0};     // failed accept() calls (EMFILE, ...)
  Counter backend_bytes_in{0};
  Counter backend_bytes_out{0};
};

class LiveConfigSlot;

class ProxyMetrics : public prometheus::Collectable {
 public:
  // `live` says which servers (pool and gutter) exist right now; read at each scrape.
  ProxyMetrics(const LiveConfigSlot& live, std::vector<const WorkerCounters*> workers,
               const ReloadCounters& reloads)
      : live_(live), workers_(std::move(workers)), reloads_(reloads) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const LiveConfigSlot& live_;
  std::vector<const WorkerCounters*> workers_;
  const ReloadCounters& reloads_;
};

}  // namespace mccache::net
