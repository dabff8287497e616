// Parses and validates the "pool" section.
#include "config/pool_config.h"

#include <algorithm>

namespace mccache::config {

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
  pool.finish();
  return out;
}

}  // namespace mccache::config
