// What a reload changes, what it refuses and what it leaves for a restart.
#include "mcproxy/net/reload.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/log_level.h"

namespace mccache::net {
namespace {

std::string endpoint_text(const std::optional<config::HostPort>& hp) {
  return hp ? hp->str() : "off";
}

// Restart-only settings take the running values back, each change logged once.
void keep_restart_only(config::DatacenterConfig& next, const LiveConfig& running) {
  auto& proxy = *next.mcproxy;
  auto needs_restart = [](const char* field, const std::string& running_value,
                          const std::string& file_value) {
    spdlog::warn("config reload: {} changed ({} -> {}) but needs a restart; still using {}", field,
                 running_value, file_value, running_value);
  };
  if (!(proxy.listen == running.proxy.listen))
    needs_restart("mcproxy.listen", running.proxy.listen.str(), proxy.listen.str());
  if (proxy.threads != running.proxy.threads)
    needs_restart("mcproxy.threads", std::to_string(running.proxy.threads),
                  std::to_string(proxy.threads));
  if (proxy.metrics_listen != running.proxy.metrics_listen)
    needs_restart("mcproxy.metrics_listen", endpoint_text(running.proxy.metrics_listen),
                  endpoint_text(proxy.metrics_listen));
  if (!(proxy.tls == running.proxy.tls))
    needs_restart("mcproxy.tls", running.proxy.tls.cert_file, proxy.tls.cert_file);
  proxy.tls = running.proxy.tls;
  if (next.datacenter != running.datacenter)
    needs_restart("datacenter", running.datacenter, next.datacenter);
  proxy.listen = running.proxy.listen;
  proxy.threads = running.proxy.threads;
  proxy.metrics_listen = running.proxy.metrics_listen;
  next.datacenter = running.datacenter;
}

// "a, b" of the servers in `pool` that `other` does not list.
std::string missing_from(const pool::ServerPool& pool, const pool::ServerPool* other) {
  std::string out;
  for (size_t i = 0; i < pool.size(); ++i) {
    if (other != nullptr && other->find(pool.name(i))) continue;
    out += (out.empty() ? "" : ", ") + pool.name(i);
  }
  return out.empty() ? "none" : out;
}

}  // namespace

std::shared_ptr<const LiveConfig> reload_live_config(const std::string& path,
                                                     const LiveConfig& running, size_t workers) {
  config::DatacenterConfig next;
  try {
    next = config::load_config(path, config::Role::kProxy);
  } catch (const config::ConfigError& e) {
    spdlog::error("config reload refused, still serving with the running config: {}", e.what());
    return nullptr;
  }
  keep_restart_only(next, running);
  spdlog::set_level(config::spdlog_level(next.log.level));
  std::shared_ptr<const LiveConfig> live;
  try {
    live = build_live_config(next, workers, &running);
  } catch (const std::exception& e) {
    // libmemcached refusing a server the loader accepted; nothing has changed yet.
    spdlog::error("config reload refused, still serving with the running config: {}: {}", path,
                  e.what());
    return nullptr;
  }
  const pool::ServerPool* old_gutter = running.gutter ? &*running.gutter : nullptr;
  const pool::ServerPool* new_gutter = live->gutter ? &*live->gutter : nullptr;
  spdlog::info("config reloaded from {}: pool of {} server(s) (added: {}; removed: {}), gutter {}",
               path, live->pool.size(), missing_from(live->pool, &running.pool),
               missing_from(running.pool, &live->pool),
               new_gutter ? std::to_string(new_gutter->size()) + " server(s), ttl_s " +
                                std::to_string(live->gutter_ttl_s) +
                                " (added: " + missing_from(*new_gutter, old_gutter) + ")"
                          : std::string("off"));
  return live;
}

}  // namespace mccache::net
