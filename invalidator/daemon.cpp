// The invalidator process: signal handlers, every source's start-up checks, the metrics endpoint,
// then one thread per source (a down or halted shard leaves the others running).
#include "invalidator/daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <thread>

#include "config/dsn.h"
#include "invalidator/clock.h"
#include "invalidator/metrics.h"
#include "invalidator/signals.h"
#include "invalidator/source/source_loop.h"
#include "invalidator/source/startup.h"
#include "service/notify.h"
#include "pool/server_health.h"

namespace mccache::invalidator {
namespace {

// One source's life, in its own thread: start-up unless `prepared` already holds it, retried
// while its primary is unreachable (a down shard must not stop the others), then the streaming
// loop. Returns the exit code.
int run_source(const config::DatacenterConfig& config, size_t index,
               std::optional<source::PreparedSource> prepared, prometheus::Registry& registry) {
  const auto& inv = *config.invalidator;
  const auto& src = inv.sources[index];
  const auto& clock = system_clock();
  pool::Backoff backoff(std::chrono::milliseconds(inv.delivery.retry_initial_ms),
                        std::chrono::milliseconds(inv.delivery.retry_max_ms));
  try {
    while (!prepared) {
      try {
        prepared = source::prepare_source(config, src);
      } catch (const replication::ConnectError& e) {
        auto wait = backoff.next();
        spdlog::warn("{}{}; retrying in {} ms", source::log_prefix(src),
                     config::redact_dsns(e.what()), wait.count());
        auto until = clock.now() + wait;
        while (clock.now() < until && !stop_requested())
          clock.sleep_for(std::chrono::milliseconds(20));
        if (stop_requested()) return 0;
      }
    }
    source::SourceLoop loop(config, index, std::move(*prepared), registry, clock);
    spdlog::info(
        "{}invalidator for {} started: {} tables, {} memcached servers, {}",
        source::log_prefix(src), config.datacenter, inv.tables.size(), config.pool.servers.size(),
        src.wait_for_replay ? "gated on the local replica" : "gated on the primary's visibility");
    return loop.run();
  } catch (const std::exception& e) {
    spdlog::error("{}{}", source::log_prefix(src), config::redact_dsns(e.what()));
    return 1;
  }
}

void warn_inline_passwords(const config::SourceConfig& src) {
  if (config::has_inline_password(src.dsn) ||
      (src.wait_for_replay && config::has_inline_password(*src.wait_for_replay)))
    spdlog::warn(
        "{}: a DSN carries its password inline; prefer passfile=... in the DSN or the "
        "PGPASSFILE / PGPASSWORD environment (docs/security.md)",
        src.name.empty() ? "source" : "source " + src.name);
}

}  // namespace

int run_invalidator(const config::DatacenterConfig& loaded) {
  if (!loaded.invalidator) {
    spdlog::error("{}: no \"invalidator\" section", loaded.file);
    return 1;
  }
  // Every source's state file where it will be read and written from now on.
  auto config = loaded;
  for (auto& src : config.invalidator->sources)
    src.state_file = source::state_file_path(*config.invalidator, src);
  install_signal_handlers();
  const auto& sources = config.invalidator->sources;
  // Start-up checks first, so a bad template or replica identity stops the process before it
  // serves anything, and the metrics port opens only once the slots exist; a source whose
  // primary is unreachable is retried in its own loop.
  std::vector<std::optional<source::PreparedSource>> prepared(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    warn_inline_passwords(sources[i]);
    try {
      prepared[i] = source::prepare_source(config, sources[i]);
    } catch (const replication::ConnectError& e) {
      spdlog::warn("{}{}; its loop retries", source::log_prefix(sources[i]),
                   config::redact_dsns(e.what()));
    } catch (const std::exception& e) {
      spdlog::error("{}", config::redact_dsns(e.what()));
      return 1;
    }
  }
  std::unique_ptr<MetricsEndpoint> endpoint;
  try {
    endpoint = std::make_unique<MetricsEndpoint>(config.invalidator->metrics_listen);
  } catch (const std::exception& e) {
    spdlog::error("metrics_listen {}: {}", config.invalidator->metrics_listen->str(), e.what());
    return 1;
  }
  service::notify_ready();
  if (sources.size() == 1)
    return run_source(config, 0, std::move(prepared[0]), *endpoint->registry);
  // Sharded primaries: one loop per source, each with its own connections; one that stops (an
  // error, a halt policy) leaves the others running. The process ends when all have.
  std::vector<int> codes(sources.size(), 0);
  std::vector<std::thread> loops;
  for (size_t i = 0; i < sources.size(); ++i)
    loops.emplace_back([&, i] {
      codes[i] = run_source(config, i, std::move(prepared[i]), *endpoint->registry);
      if (codes[i] != 0)
        spdlog::error("source {} stopped with exit code {}; the other sources keep running",
                      sources[i].name, codes[i]);
    });
  for (auto& t : loops) t.join();
  return *std::max_element(codes.begin(), codes.end());
}

}  // namespace mccache::invalidator
