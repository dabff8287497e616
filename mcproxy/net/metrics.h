// Metrics: each proxy thread bumps its own counters (single writer, relaxed atomics: no lock, no
// shared cache line on the request path); the /metrics scrape sums them (one table of names,
// like pgbouncer's bouncer_params[]).
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

#include "mcproxy/protocol/request.h"
#include "pool/reply_parser.h"

namespace mccache::net {

enum class Result : uint8_t {
  kOk,
  kHit,
  kMiss,
  kNotStored,
  kExists,
  kNotFound,
  kClientError,
  kServerError,
  kBackendDown,
};
inline constexpr int kResultCount = static_cast<int>(Result::kBackendDown) + 1;
inline constexpr int kInvalidCommand = protocol::kCommandCount;  // lines that did not parse

Result result_of(const pool::Reply& reply);

// What a lease-get key was answered (one count per key).
enum class LeaseGetOutcome : uint8_t { kHit, kGranted, kHotMiss, kError };
inline constexpr int kLeaseGetOutcomeCount = static_cast<int>(LeaseGetOutcome::kError) + 1;

// What a lease-set was answered, and why (NOT_STORED has several causes an operator tells apart:
// voided tokens are the races leases exist for; foreign-epoch ones follow a memcached restart).
enum class LeaseSetOutcome : uint8_t {
  kStored,
  kVoided,          // NOT_STORED, memcached EX: the item changed (invalidated, set, re-leased)
  kGone,            // NOT_STORED, memcached NF: deleted, or the lease window ran out
  kNotStored,       // NOT_STORED, memcached NS
  kSpecialToken,    // NOT_STORED locally: token 0 (hit) or 1 (hot miss)
  kForeignEpoch,    // NOT_STORED locally: issued before a memcached restart / for another server
  kMalformedToken,  // NOT_STORED locally: not a token mcproxy could have issued
  kError,           // SERVER_ERROR
};
inline constexpr int kLeaseSetOutcomeCount = static_cast<int>(LeaseSetOutcome::kError) + 1;

using Counter = std::atomic<uint64_t>;
// Only the owning thread writes, so a relaxed load+store is exact and avoids a locked add.
inline void bump(Counter& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

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

struct WorkerCounters {
  std::array<std::array<Counter, kResultCount>, protocol::kCommandCount + 1> requests{};
  std::array<Counter, kLeaseGetOutcomeCount> lease_gets{};
  std::array<Counter, kLeaseSetOutcomeCount> lease_sets{};
  Counter lease_stale_served{0};  // lease-get misses answered with a stale value
  Counter give_backs{0};          // wins a plain get took on a stale copy, given back
  Counter epoch_refreshes{0};     // backend epochs read from `stats` on (re)connect
  Counter get_hits{0};
  Counter get_misses{0};
  Counter bytes_in{0};
  Counter bytes_out{0};
  Counter connections_accepted{0};
  Counter connections_refused{0};
  Counter connections_open{0};  // gauge, written only by its thread
  Counter clients_cut_off{0};   // closed for not reading their replies (guards.h)
  Counter accept_errors{0};     // failed accept() calls (EMFILE, ...)
  Counter backend_bytes_in{0};
  Counter backend_bytes_out{0};
  Counter gutter_routed{0};  // keys and requests sent to the gutter because their server is down

  void count(protocol::Command c, Result r) {
    bump(requests[static_cast<size_t>(c)][static_cast<size_t>(r)]);
  }
  void count(LeaseGetOutcome o) { bump(lease_gets[static_cast<size_t>(o)]); }
  void count(LeaseSetOutcome o) { bump(lease_sets[static_cast<size_t>(o)]); }
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
