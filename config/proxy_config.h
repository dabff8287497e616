// Typed settings of mcproxy (the "mcproxy" section of a datacenter's config).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "config/choices.h"
#include "config/field_table.h"
#include "config/json_reader.h"

namespace mccache::config {

struct BackendConfig {
  int connections_per_server = 1;  // per proxy thread
  int connect_timeout_ms = 500;
  int request_timeout_ms = 1000;
  int failures_until_down = 3;   // consecutive failures before a server is marked down
  int probe_interval_ms = 1000;  // how often a down server is retried
};

struct LimitsConfig {
  int max_key_bytes = 250;
  int64_t max_value_bytes = 1 << 20;
  int max_connections = 10000;
  int64_t max_pipeline_bytes = 4 << 20;  // unanswered request bytes one client may queue
  int idle_timeout_s = 0;                // 0: never close idle clients
};

struct LeaseConfig {
  int lease_ttl_s = 10;  // how long a granted lease token stays valid
  int stale_ttl_s = 10;  // how long an invalidated item is still served as stale
  // What a plain `delete` through the proxy does: "invalidate" keeps a stale copy for lease-get
  // clients, "delete" removes it. Both void outstanding lease tokens.
  DeleteMode delete_mode = DeleteMode::Invalidate;
};

// TLS on the client listener: off unless the "tls" object is given. Certificates are PEM files.
struct TlsConfig {
  std::string cert_file;  // the server's certificate chain
  std::string key_file;   // its private key
  std::string ca_file;    // when set: clients must present a certificate signed by one of these
  TlsVersion min_version = TlsVersion::kTls12;
  bool enabled() const { return !cert_file.empty(); }
  bool operator==(const TlsConfig&) const = default;
};

struct ProxyConfig {
  HostPort listen{"127.0.0.1", 11311};
  std::optional<HostPort> metrics_listen;  // Prometheus /metrics; absent: off
  int threads = 2;
  bool admin_commands = false;  // flush_all, verbosity, shutdown... refused unless true
  // SIGTERM/SIGINT: how long in-flight requests may still take before their clients are cut off.
  int shutdown_timeout_ms = 5000;
  BackendConfig backend;
  LimitsConfig limits;
  LeaseConfig leases;
  TlsConfig tls;
};

ProxyConfig parse_proxy_config(JsonObject& section);
// The rows of docs/config.md's "mcproxy" table.
std::vector<FieldDoc> proxy_field_docs();

}  // namespace mccache::config
