// Parses and validates the "pool" section.
#include "config/pool_config.h"

#include <algorithm>

namespace mccache::config {
namespace {

GutterConfig parse_gutter_config(JsonObject& g, const std::vector<HostPort>& pool_servers) {
  GutterConfig out;
  auto servers = g.string_list("servers", {});
  for (size_t i = 0; i < servers.size(); ++i) {
    auto hp = parse_host_port(servers[i]);
    std::string where = index_path(g.field_path("servers"), i);
    if (!hp) g.fail_at(where, "\"" + servers[i] + "\" is not host:port (e.g. \"127.0.0.1:11221\")");
    if (std::find(out.servers.begin(), out.servers.end(), *hp) != out.servers.end())
      g.fail_at(where, "\"" + servers[i] + "\" is listed twice; list each server once");
    if (std::find(pool_servers.begin(), pool_servers.end(), *hp) != pool_servers.end())
      g.fail_at(where, "\"" + servers[i] +
                           "\" is also in pool.servers; a gutter must be separate memcached "
                           "servers, or a down server's keys would land among another's");
    out.servers.push_back(*hp);
  }
  out.ttl_s = static_cast<int>(g.integer("ttl_s", out.ttl_s, 1, 86400));
  g.finish();
  return out;
}

}  // namespace

PoolConfig parse_pool_config(JsonObject& pool) {
  PoolConfig out;
  auto servers = pool.string_list("servers", {});
  if (servers.empty())
    pool.fail("servers", "needs at least one memcached server, e.g. [\"127.0.0.1:11211\"]");
  for (size_t i = 0; i < servers.size(); ++i) {
    auto hp = parse_host_port(servers[i]);
    std::string where = index_path(pool.field_path("servers"), i);
    if (!hp) pool.fail_at(where, "\"" + servers[i] + "\" is not host:port (e.g. \"127.0.0.1:11211\")");
    if (std::find(out.servers.begin(), out.servers.end(), *hp) != out.servers.end())
      pool.fail_at(where, "\"" + servers[i] + "\" is listed twice; list each server once");
    out.servers.push_back(*hp);
  }
  out.hash = pool.choice("hash", out.hash, {"ketama", "ketama_weighted"});
  if (auto gutter = pool.object("gutter")) out.gutter = parse_gutter_config(*gutter, out.servers);
  pool.finish();
  return out;
}

}  // namespace mccache::config
