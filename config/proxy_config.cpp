// Parses and validates the "mcproxy" section.
#include "config/proxy_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace mccache::config {

namespace {

// A file the daemon must read at start-up: fail now, with the field, rather than at first use.
std::string readable_file(JsonObject& o, std::string_view name, bool required) {
  auto path = required ? o.required_string(name) : o.string(name, "");
  if (path.empty()) {
    if (required) o.fail(name, "must name a PEM file");
    return path;
  }
  if (!std::ifstream(path).good())
    o.fail(name, "\"" + path + "\" cannot be read (" + std::strerror(errno) +
                     "); give a readable PEM file");
  return path;
}

}  // namespace

ProxyConfig parse_proxy_config(JsonObject& s) {
  ProxyConfig c;
  c.listen = s.endpoint("listen", c.listen.str());
  c.metrics_listen = s.optional_endpoint("metrics_listen");
  c.threads = static_cast<int>(s.integer("threads", c.threads, 1, 64));
  c.admin_commands = s.boolean("admin_commands", c.admin_commands);
  c.shutdown_timeout_ms =
      static_cast<int>(s.integer("shutdown_timeout_ms", c.shutdown_timeout_ms, 0, 600000));

  if (auto b = s.object("backend")) {
    auto& bc = c.backend;
    bc.connections_per_server =
        static_cast<int>(b->integer("connections_per_server", bc.connections_per_server, 1, 64));
    bc.connect_timeout_ms =
        static_cast<int>(b->integer("connect_timeout_ms", bc.connect_timeout_ms, 1, 600000));
    bc.request_timeout_ms =
        static_cast<int>(b->integer("request_timeout_ms", bc.request_timeout_ms, 1, 600000));
    bc.failures_until_down =
        static_cast<int>(b->integer("failures_until_down", bc.failures_until_down, 1, 1000));
    bc.probe_interval_ms =
        static_cast<int>(b->integer("probe_interval_ms", bc.probe_interval_ms, 10, 600000));
    b->finish();
  }
  if (auto l = s.object("limits")) {
    auto& lc = c.limits;
    lc.max_key_bytes = static_cast<int>(l->integer("max_key_bytes", lc.max_key_bytes, 1, 250));
    lc.max_value_bytes =
        l->integer("max_value_bytes", lc.max_value_bytes, 1, int64_t{1} << 30);
    lc.max_connections =
        static_cast<int>(l->integer("max_connections", lc.max_connections, 1, 1000000));
    lc.max_pipeline_bytes =
        l->integer("max_pipeline_bytes", lc.max_pipeline_bytes, 4096, int64_t{1} << 32);
    lc.idle_timeout_s =
        static_cast<int>(l->integer("idle_timeout_s", lc.idle_timeout_s, 0, 86400 * 30));
    l->finish();
    if (lc.max_pipeline_bytes < lc.max_value_bytes)
      l->fail("max_pipeline_bytes", "must be at least max_value_bytes (" +
                                        std::to_string(lc.max_value_bytes) +
                                        "), or no value of the largest size could be sent");
  }
  if (auto le = s.object("leases")) {
    auto& lc = c.leases;
    lc.lease_ttl_s = static_cast<int>(le->integer("lease_ttl_s", lc.lease_ttl_s, 1, 3600));
    lc.stale_ttl_s = static_cast<int>(le->integer("stale_ttl_s", lc.stale_ttl_s, 0, 86400));
    lc.delete_mode = le->choice("delete_mode", lc.delete_mode, {"invalidate", "delete"});
    le->finish();
  }
  bool tls_off = s.has("tls") && s.raw("tls")->IsNull();  // null: off, like an absent object
  if (auto t = tls_off ? std::nullopt : s.object("tls")) {
    auto& tc = c.tls;
    tc.cert_file = readable_file(*t, "cert_file", true);
    tc.key_file = readable_file(*t, "key_file", true);
    tc.ca_file = readable_file(*t, "ca_file", false);
    tc.min_version = t->choice("min_version", tc.min_version, {"1.2", "1.3"});
    t->finish();
  }
  s.finish();
  return c;
}

}  // namespace mccache::config
