// The "pool" section: its field table and the rule that spans the pool and its gutter.
#include "config/pool_config.h"

#include <algorithm>

namespace mccache::config {
namespace {

constexpr Field<GutterConfig> kGutterFields[] = {
    field<&GutterConfig::servers>({.name = "servers",
                                   .hint = "127.0.0.1:11221",
                                   .doc = "separate memcached servers standing in for down ones"}),
    field<&GutterConfig::ttl_s>(
        {.name = "ttl_s",
         .min = 1,
         .max = 86400,
         .doc = "upper bound on the life of anything stored in the gutter"}),
};

constexpr Field<PoolConfig> kPoolFields[] = {
    field<&PoolConfig::servers>(
        {.name = "servers", .required = true, .doc = "the region's memcached servers, each once"}),
    field<&PoolConfig::hash>(
        {.name = "hash", .doc = "consistent hashing, as the apps' libmemcached"}),
    object<&PoolConfig::gutter, kGutterFields>({.name = "gutter"}),
};

// As the file would write it: a v6 address in brackets.
std::string written(const HostPort& hp) {
  if (hp.host.find(':') == std::string::npos) return hp.str();
  return "[" + hp.host + "]:" + std::to_string(hp.port);
}

}  // namespace

PoolConfig parse_pool_config(JsonObject& pool) {
  PoolConfig out;
  read_fields(kPoolFields, pool, out);
  pool.finish();
  const auto& gutter = out.gutter.servers;
  for (size_t i = 0; i < gutter.size(); ++i) {
    if (std::find(out.servers.begin(), out.servers.end(), gutter[i]) != out.servers.end())
      pool.fail_at(index_path(join_path(pool.field_path("gutter"), "servers"), i),
                   "\"" + written(gutter[i]) +
                       "\" is also in pool.servers; a gutter must be separate memcached "
                       "servers, or a down server's keys would land among another's");
  }
  return out;
}

std::vector<FieldDoc> pool_field_docs() { return docs_of(kPoolFields); }

}  // namespace mccache::config
