// Starts the proxy: one Worker (io_context + thread) per config.threads, the /metrics exposer,
// and a signal thread: SIGHUP reloads the config, SIGINT/SIGTERM drain and stop (a second one
// stops at once).
#include "mcproxy/net/server.h"

#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "mcproxy/net/live_config.h"
#include "mcproxy/net/reload.h"
#include "mcproxy/net/worker.h"
#include "service/notify.h"

namespace mccache::mcproxy {
namespace {

// One throwaway TCP connection to `to` (loopback if it is a wildcard address).
void poke(const config::HostPort& to) {
  namespace ip = boost::asio::ip;
  boost::system::error_code ec;
  auto address = ip::make_address(to.host, ec);
  if (ec) return;
  if (address.is_unspecified())
    address = address.is_v4() ? ip::address(ip::address_v4::loopback())
                              : ip::address(ip::address_v6::loopback());
  boost::asio::io_context io(1);
  ip::tcp::socket socket(io);
  socket.connect(ip::tcp::endpoint(address, to.port), ec);
  socket.close(ec);
}

// civetweb's listener thread looks at its stop flag only between polls of up to 2 s, so a plain
// destruction makes an idle proxy take that long to exit. A connection wakes the poll at once.
void stop_metrics(std::unique_ptr<prometheus::Exposer>& exposer, const config::HostPort& at) {
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    exposer.reset();
    stopped = true;
  });
  for (int i = 0; i < 300 && !stopped; ++i) {
    poke(at);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stopper.join();
}

// Every client and backend connection is a file descriptor. Take the hard limit (the default
// soft limit, often 1024, is far below the default max_connections), and say so at start-up
// when even that is short, rather than meet EMFILE under load.
void raise_open_files_limit(const config::DatacenterConfig& config) {
  const config::ProxyConfig& proxy = *config.mcproxy;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  const auto servers = config.pool.servers.size() +
                       (config.pool.gutter.enabled() ? config.pool.gutter.servers.size() : 0);
  const auto backends = static_cast<uint64_t>(proxy.threads) * servers *
                        static_cast<uint64_t>(proxy.backend.connections_per_server);
  // Listeners, the metrics server, logs and the like.
  constexpr uint64_t kSpare = 64;
  const uint64_t needed = static_cast<uint64_t>(proxy.limits.max_connections) + backends + kSpare;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < needed)
    spdlog::warn("open files limit is {}, below limits.max_connections ({}) + {} backend "
                 "connections + {} spare; past it new clients wait in the accept queue. Raise it "
                 "(ulimit -n, LimitNOFILE=) or lower limits.max_connections",
                 static_cast<uint64_t>(rl.rlim_cur), proxy.limits.max_connections, backends,
                 kSpare);
}

}  // namespace

int run_proxy(const config::DatacenterConfig& config) {
  const config::ProxyConfig& proxy = *config.mcproxy;
  // A peer that vanishes mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  raise_open_files_limit(config);
  // Registered first: until the set exists, SIGHUP's default action would end the process.
  boost::asio::io_context signals_io(1);
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM, SIGHUP);

  const auto thread_count = static_cast<size_t>(proxy.threads);
  net::LiveConfigSlot live;
  live.set(net::build_live_config(config, thread_count, nullptr));
  net::SharedState shared;
  if (proxy.tls.enabled()) {
    std::string error;
    shared.tls = net::TlsContext::create(proxy.tls, error);
    if (!shared.tls) {
      spdlog::error("{}: {}", config.file, error);
      return 1;
    }
  }

  std::vector<std::unique_ptr<net::Worker>> workers;
  for (size_t i = 0; i < thread_count; ++i) {
    workers.push_back(std::make_unique<net::Worker>(static_cast<int>(i), shared, live.get()));
    try {
      workers.back()->listen();
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
  }

  net::ReloadCounters reloads;
  std::unique_ptr<prometheus::Exposer> exposer;
  std::shared_ptr<net::ProxyMetrics> metrics;
  if (proxy.metrics_listen) {
    std::vector<const net::WorkerCounters*> counters;
    for (auto& w : workers) counters.push_back(w->counters_ptr());
    metrics = std::make_shared<net::ProxyMetrics>(live, counters, reloads);
    try {
      exposer = std::make_unique<prometheus::Exposer>(proxy.metrics_listen->str(), 1);
    } catch (const std::exception& e) {
      spdlog::error("cannot serve metrics on {}: {}; pick a free port in mcproxy.metrics_listen",
                    proxy.metrics_listen->str(), e.what());
      return 1;
    }
    exposer->RegisterCollectable(metrics);
  }

  bool draining = false;
  std::function<void()> wait_for_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        service::Reloading reloading;
        auto running = live.get();
        if (auto next = net::reload_live_config(config.file, *running, thread_count)) {
          live.set(next);
          for (auto& w : workers) w->apply(next);
          net::bump(reloads.ok);
        } else {
          net::bump(reloads.error);
        }
      } else if (!draining) {
        draining = true;
        service::notify_stopping();
        int timeout_ms = live.get()->proxy.shutdown_timeout_ms;
        spdlog::info("signal {}: not accepting; finishing in-flight requests (up to {} ms; "
                     "signal again to stop at once)",
                     sig, timeout_ms);
        for (auto& w : workers) w->drain(std::chrono::milliseconds(timeout_ms));
      } else {
        spdlog::warn("signal {} again: stopping now", sig);
        for (auto& w : workers) w->stop();
      }
      wait_for_signal();
    });
  };
  wait_for_signal();

  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
  spdlog::info("mcproxy for {} listening on {}{} with {} thread(s), {} server(s){}{}",
               config.datacenter, proxy.listen.str(),
               proxy.tls.enabled() ? (proxy.tls.ca_file.empty() ? " (TLS)" : " (TLS, client certificates)") : "",
               proxy.threads, config.pool.servers.size(),
               config.pool.gutter.enabled()
                   ? ", gutter of " + std::to_string(config.pool.gutter.servers.size())
                   : std::string(),
               proxy.metrics_listen ? ", metrics on " + proxy.metrics_listen->str() : "");
  service::notify_ready();
  std::thread signal_thread([&] { signals_io.run(); });
  for (auto& t : threads) t.join();
  signals_io.stop();
  signal_thread.join();
  if (exposer) stop_metrics(exposer, *proxy.metrics_listen);
  spdlog::info("mcproxy stopped");
  return 0;
}

}  // namespace mccache::mcproxy
