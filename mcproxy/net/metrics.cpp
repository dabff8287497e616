// Builds the Prometheus families from the per-thread counters at scrape time.
#include "mcproxy/net/metrics.h"

#include "mcproxy/net/live_config.h"

#include <limits>
#include <string>
#include <utility>

namespace mccache::net {
namespace {

constexpr std::array<const char*, kResultCount> kResultNames{
    "ok", "hit", "miss", "not_stored", "exists", "not_found", "client_error", "server_error",
    "backend_down"};

constexpr std::array<const char*, kLeaseGetOutcomeCount> kLeaseGetNames{"hit", "granted",
                                                                        "hot_miss", "error"};
// {result, reason} per LeaseSetOutcome.
constexpr std::array<std::pair<const char*, const char*>, kLeaseSetOutcomeCount> kLeaseSetNames{{
    {"stored", "lease_valid"},
    {"not_stored", "voided"},
    {"not_stored", "gone"},
    {"not_stored", "not_stored"},
    {"not_stored", "special_token"},
    {"not_stored", "foreign_epoch"},
    {"not_stored", "malformed_token"},
    {"server_error", "backend"},
}};

uint64_t load(const Counter& c) { return c.load(std::memory_order_relaxed); }

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

prometheus::ClientMetric value_metric(double v, prometheus::MetricType type,
                                      std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  return m;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProxyMetrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;

  auto requests = family("mcproxy_requests_total", "Client requests by command and result",
                         MetricType::Counter);
  for (int c = 0; c <= protocol::kCommandCount; ++c) {
    for (int r = 0; r < kResultCount; ++r) {
      uint64_t sum = 0;
      for (auto* w : workers_) sum += load(w->requests[c][r]);
      if (sum == 0) continue;
      std::string name = c == kInvalidCommand
                             ? "invalid"
                             : std::string(protocol::command_name(static_cast<protocol::Command>(c)));
      requests.metric.push_back(
          value_metric(static_cast<double>(sum), MetricType::Counter,
                       {{"command", name}, {"result", kResultNames[r]}}));
    }
  }
  out.push_back(std::move(requests));

  auto total = [&](const char* name, const char* help, MetricType type, auto field) {
    uint64_t sum = 0;
    for (auto* w : workers_) sum += load(w->*field);
    auto f = family(name, help, type);
    f.metric.push_back(value_metric(static_cast<double>(sum), type));
    out.push_back(std::move(f));
  };
  total("mcproxy_get_hits_total", "Keys of get/gets/gat/gats found", MetricType::Counter,
        &WorkerCounters::get_hits);
  total("mcproxy_get_misses_total", "Keys of get/gets/gat/gats not found (stale counts as miss)",
        MetricType::Counter, &WorkerCounters::get_misses);
  auto lease_gets = family("mcproxy_lease_get_keys_total",
                           "lease-get keys by outcome: hit, granted (a lease token), hot_miss "
                           "(token 1, someone else fills), error",
                           MetricType::Counter);
  for (int o = 0; o < kLeaseGetOutcomeCount; ++o) {
    uint64_t sum = 0;
    for (auto* w : workers_) sum += load(w->lease_gets[o]);
    lease_gets.metric.push_back(value_metric(static_cast<double>(sum), MetricType::Counter,
                                             {{"outcome", kLeaseGetNames[o]}}));
  }
  out.push_back(std::move(lease_gets));
  auto lease_sets = family("mcproxy_lease_sets_total", "lease-set answers by result and reason",
                           MetricType::Counter);
  for (int o = 0; o < kLeaseSetOutcomeCount; ++o) {
    uint64_t sum = 0;
    for (auto* w : workers_) sum += load(w->lease_sets[o]);
    lease_sets.metric.push_back(
        value_metric(static_cast<double>(sum), MetricType::Counter,
                     {{"result", kLeaseSetNames[o].first}, {"reason", kLeaseSetNames[o].second}}));
  }
  out.push_back(std::move(lease_sets));
  total("mcproxy_lease_stale_served_total",
        "lease-get misses answered with the stale (invalidated) value", MetricType::Counter,
        &WorkerCounters::lease_stale_served);
  total("mcproxy_get_wins_given_back_total",
        "Lease wins a plain get took on a stale item and gave back (md I C<cas>)",
        MetricType::Counter, &WorkerCounters::give_backs);
  total("mcproxy_backend_epoch_refreshes_total",
        "Backend epochs (lease token tags) read from `stats` on (re)connect", MetricType::Counter,
        &WorkerCounters::epoch_refreshes);
  total("mcproxy_client_bytes_in_total", "Bytes read from clients", MetricType::Counter,
        &WorkerCounters::bytes_in);
  total("mcproxy_client_bytes_out_total", "Bytes written to clients", MetricType::Counter,
        &WorkerCounters::bytes_out);
  total("mcproxy_backend_bytes_in_total", "Bytes read from memcached", MetricType::Counter,
        &WorkerCounters::backend_bytes_in);
  total("mcproxy_backend_bytes_out_total", "Bytes written to memcached", MetricType::Counter,
        &WorkerCounters::backend_bytes_out);
  total("mcproxy_connections_accepted_total", "Client connections accepted", MetricType::Counter,
        &WorkerCounters::connections_accepted);
  total("mcproxy_connections_refused_total", "Client connections refused by max_connections",
        MetricType::Counter, &WorkerCounters::connections_refused);
  total("mcproxy_clients_cut_off_total",
        "Client connections closed because they did not read their replies",
        MetricType::Counter, &WorkerCounters::clients_cut_off);
  total("mcproxy_accept_errors_total",
        "Failed accepts (EMFILE/ENFILE pause accepting for 100 ms)", MetricType::Counter,
        &WorkerCounters::accept_errors);
  total("mcproxy_connections", "Open client connections", MetricType::Gauge,
        &WorkerCounters::connections_open);
  total("mcproxy_gutter_routed_total",
        "Keys and requests sent to the gutter pool because their server was marked down",
        MetricType::Counter, &WorkerCounters::gutter_routed);
  auto reloads = family("mcproxy_config_reloads_total",
                        "SIGHUP config reloads: ok (applied) or error (refused, old config kept)",
                        MetricType::Counter);
  reloads.metric.push_back(value_metric(static_cast<double>(load(reloads_.ok)),
                                        MetricType::Counter, {{"result", "ok"}}));
  reloads.metric.push_back(value_metric(static_cast<double>(load(reloads_.error)),
                                        MetricType::Counter, {{"result", "error"}}));
  out.push_back(std::move(reloads));

  auto up = family("mcproxy_server_up", "1 if the memcached server is up, 0 if marked down",
                   MetricType::Gauge);
  auto failures = family("mcproxy_backend_failures_total",
                         "Backend connection failures (connect, timeout, reset)",
                         MetricType::Counter);
  auto latency = family("mcproxy_backend_latency_seconds",
                        "Time from sending a request to memcached to parsing its reply",
                        MetricType::Histogram);
  auto live = live_.get();
  auto add_servers = [&](const pool::ServerPool& pool,
                         const std::vector<std::shared_ptr<ServerStats>>& stats, bool gutter) {
    for (size_t s = 0; s < pool.size(); ++s) {
      std::vector<prometheus::ClientMetric::Label> labels{{"server", pool.name(s)}};
      if (gutter) labels.push_back({"pool", "gutter"});
      up.metric.push_back(value_metric(pool.health(s).down() ? 0 : 1, MetricType::Gauge, labels));
      uint64_t fails = 0;
      prometheus::ClientMetric h;
      h.label = labels;
      std::array<uint64_t, kLatencyBoundsUs.size() + 1> buckets{};
      uint64_t sum_us = 0;
      for (const auto& sc : stats[s]->per_worker) {
        fails += load(sc.failures);
        sum_us += load(sc.latency_sum_us);
        for (size_t b = 0; b < buckets.size(); ++b) buckets[b] += load(sc.latency_buckets[b]);
      }
      failures.metric.push_back(
          value_metric(static_cast<double>(fails), MetricType::Counter, labels));
      uint64_t cumulative = 0;
      for (size_t b = 0; b < buckets.size(); ++b) {
        cumulative += buckets[b];
        prometheus::ClientMetric::Bucket bucket;
        bucket.cumulative_count = cumulative;
        bucket.upper_bound = b < kLatencyBoundsUs.size() ? kLatencyBoundsUs[b] / 1e6
                                                         : std::numeric_limits<double>::infinity();
        h.histogram.bucket.push_back(bucket);
      }
      h.histogram.sample_count = cumulative;
      h.histogram.sample_sum = static_cast<double>(sum_us) / 1e6;
      latency.metric.push_back(std::move(h));
    }
  };
  add_servers(live->pool, live->pool_stats, false);
  if (live->gutter) add_servers(*live->gutter, live->gutter_stats, true);
  out.push_back(std::move(up));
  out.push_back(std::move(failures));
  out.push_back(std::move(latency));
  return out;
}

}  // namespace mccache::net
