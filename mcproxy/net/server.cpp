// Starts the proxy: one Worker (io_context + thread) per config.threads, the /metrics exposer,
// and a signal set that stops everything cleanly on SIGINT/SIGTERM.
#include "mcproxy/net/server.h"

#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <memory>
#include <thread>
#include <vector>

#include "mcproxy/net/worker.h"

namespace mccache::mcproxy {

int run_proxy(const config::DatacenterConfig& config) {
  const config::ProxyConfig& proxy = *config.mcproxy;
  // A peer that vanishes mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  route::ServerPool pool(config.pool, proxy.backend.failures_until_down);
  net::SharedState shared{proxy, pool};

  std::vector<std::unique_ptr<net::Worker>> workers;
  for (int i = 0; i < proxy.threads; ++i) {
    workers.push_back(std::make_unique<net::Worker>(i, shared));
    try {
      workers.back()->listen();
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
  }

  std::unique_ptr<prometheus::Exposer> exposer;
  std::shared_ptr<net::ProxyMetrics> metrics;
  if (proxy.metrics_listen) {
    std::vector<const net::WorkerCounters*> counters;
    for (auto& w : workers) counters.push_back(w->counters_ptr());
    metrics = std::make_shared<net::ProxyMetrics>(pool, counters);
    try {
      exposer = std::make_unique<prometheus::Exposer>(proxy.metrics_listen->str(), 1);
    } catch (const std::exception& e) {
      spdlog::error("cannot serve metrics on {}: {}; pick a free port in mcproxy.metrics_listen",
                    proxy.metrics_listen->str(), e.what());
      return 1;
    }
    exposer->RegisterCollectable(metrics);
  }

  boost::asio::io_context signals_io(1);
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping", sig);
    for (auto& w : workers) w->stop();
  });

  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
  spdlog::info("mcproxy for {} listening on {} with {} thread(s), {} server(s){}",
               config.datacenter, proxy.listen.str(), proxy.threads, pool.size(),
               proxy.metrics_listen ? ", metrics on " + proxy.metrics_listen->str() : "");
  std::thread signal_thread([&] { signals_io.run(); });
  for (auto& t : threads) t.join();
  signals_io.stop();
  signal_thread.join();
  spdlog::info("mcproxy stopped");
  return 0;
}

}  // namespace mccache::mcproxy
