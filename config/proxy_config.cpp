// The "mcproxy" section's field tables.
#include "config/proxy_config.h"

namespace mccache::config {
namespace {

constexpr Field<BackendConfig> kBackendFields[] = {
    field<&BackendConfig::connections_per_server>(
        {.name = "connections_per_server",
         .min = 1,
         .max = 64,
         .doc = "pipelined connections per memcached server per thread"}),
    field<&BackendConfig::connect_timeout_ms>(
        {.name = "connect_timeout_ms",
         .min = 1,
         .max = 600000,
         .doc = "how long a connect to a memcached server may take"}),
    field<&BackendConfig::request_timeout_ms>(
        {.name = "request_timeout_ms",
         .min = 1,
         .max = 600000,
         .doc = "silence with requests outstanding before they fail"}),
    field<&BackendConfig::failures_until_down>(
        {.name = "failures_until_down",
         .min = 1,
         .max = 1000,
         .doc = "consecutive failures before a server is marked down"}),
    field<&BackendConfig::probe_interval_ms>({.name = "probe_interval_ms",
                                              .min = 10,
                                              .max = 600000,
                                              .doc = "how often a down server is probed"}),
};

void check_limits(JsonObject& limits, const LimitsConfig& c) {
  if (c.max_pipeline_bytes < c.max_value_bytes)
    limits.fail("max_pipeline_bytes", "must be at least max_value_bytes (" +
                                          std::to_string(c.max_value_bytes) +
                                          "), or no value of the largest size could be sent");
}

constexpr Field<LimitsConfig> kLimitsFields[] = {
    field<&LimitsConfig::max_key_bytes>(
        {.name = "max_key_bytes", .min = 1, .max = 250, .doc = "longer keys get CLIENT_ERROR"}),
    field<&LimitsConfig::max_value_bytes>({.name = "max_value_bytes",
                                           .min = 1,
                                           .max = int64_t{1} << 30,
                                           .doc = "larger values get CLIENT_ERROR"}),
    field<&LimitsConfig::max_connections>({.name = "max_connections",
                                           .min = 1,
                                           .max = 1000000,
                                           .doc = "client connections beyond this are closed"}),
    field<&LimitsConfig::max_pipeline_bytes>(
        {.name = "max_pipeline_bytes",
         .min = 4096,
         .max = int64_t{1} << 32,
         .doc = "unanswered request bytes one client may queue"}),
    field<&LimitsConfig::idle_timeout_s>({.name = "idle_timeout_s",
                                          .min = 0,
                                          .max = 86400 * 30,
                                          .doc = "close clients idle this long; 0: never"}),
};

constexpr Field<LeaseConfig> kLeaseFields[] = {
    field<&LeaseConfig::lease_ttl_s>({.name = "lease_ttl_s",
                                      .min = 1,
                                      .max = 3600,
                                      .doc = "how long a granted lease token stays valid"}),
    field<&LeaseConfig::stale_ttl_s>({.name = "stale_ttl_s",
                                      .min = 0,
                                      .max = 86400,
                                      .doc = "how long an invalidated item is served as stale"}),
    field<&LeaseConfig::delete_mode>(
        {.name = "delete_mode", .doc = "what a plain delete does to the item"}),
};

constexpr Field<TlsConfig> kTlsFields[] = {
    field<&TlsConfig::cert_file>({.name = "cert_file",
                                  .type = Type::kPemFile,
                                  .required = true,
                                  .doc = "the listener's certificate chain"}),
    field<&TlsConfig::key_file>(
        {.name = "key_file", .type = Type::kPemFile, .required = true, .doc = "its private key"}),
    field<&TlsConfig::ca_file>({.name = "ca_file",
                                .type = Type::kPemFile,
                                .doc = "when set, clients must present a certificate it signed"}),
    field<&TlsConfig::min_version>({.name = "min_version", .doc = "the oldest TLS version taken"}),
};

constexpr Field<ProxyConfig> kProxyFields[] = {
    field<&ProxyConfig::listen>({.name = "listen", .doc = "the client listener"}),
    field<&ProxyConfig::metrics_listen>(
        {.name = "metrics_listen", .doc = "Prometheus /metrics; off when absent"}),
    field<&ProxyConfig::threads>(
        {.name = "threads", .min = 1, .max = 64, .doc = "worker threads, one io_context each"}),
    field<&ProxyConfig::admin_commands>(
        {.name = "admin_commands", .doc = "allow flush_all, verbosity, shutdown..."}),
    field<&ProxyConfig::shutdown_timeout_ms>(
        {.name = "shutdown_timeout_ms",
         .min = 0,
         .max = 600000,
         .doc = "how long in-flight requests may finish after SIGTERM"}),
    object<&ProxyConfig::backend, kBackendFields>({.name = "backend"}),
    object<&ProxyConfig::limits, kLimitsFields, &check_limits>({.name = "limits"}),
    object<&ProxyConfig::leases, kLeaseFields>({.name = "leases"}),
    // null: off, like an absent object.
    object<&ProxyConfig::tls, kTlsFields>({.name = "tls", .nullable = true}),
};

}  // namespace

ProxyConfig parse_proxy_config(JsonObject& s) {
  ProxyConfig c;
  read_fields(kProxyFields, s, c);
  s.finish();
  return c;
}

std::vector<FieldDoc> proxy_field_docs() { return docs_of(kProxyFields); }

}  // namespace mccache::config
