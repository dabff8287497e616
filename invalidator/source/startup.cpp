// Templates against the catalog, the publication, the slot.
#include "invalidator/source/startup.h"

#include <stdexcept>

namespace mccache::invalidator::source {
namespace {

std::string table_where(const config::DatacenterConfig& c, const std::string& table, size_t i) {
  return c.file + ": invalidator.tables.\"" + table + "\"[" + std::to_string(i) + "]";
}

}  // namespace

std::vector<config::HostPort> every_server(const config::PoolConfig& pool) {
  auto all = pool.servers;
  all.insert(all.end(), pool.gutter.servers.begin(), pool.gutter.servers.end());
  return all;
}

keys::TransactionKeysOptions prepare_tables(const config::DatacenterConfig& config,
                                            const config::SourceConfig& src,
                                            replication::Catalog& catalog) {
  const auto& inv = *config.invalidator;
  keys::TransactionKeysOptions opt;
  opt.message_prefix = inv.message_prefix;
  opt.truncate = inv.truncate;
  std::vector<std::string> tables;
  for (const auto& [table, templates] : inv.tables) {
    tables.push_back(table);
    auto identity = catalog.table_identity(table);
    opt.table_oids[table] = identity.oid;
    auto& compiled = opt.tables[table];
    for (size_t i = 0; i < templates.size(); ++i) {
      std::string error;
      auto t = keys::KeyTemplate::compile(templates[i], error);
      if (!t) throw std::runtime_error(table_where(config, table, i) + ": template " + error);
      if (auto problem =
              keys::check_replica_identity(table_where(config, table, i), table, *t, identity))
        throw std::runtime_error(*problem);
      compiled.push_back(std::move(*t));
    }
  }
  if (!tables.empty()) catalog.ensure_publication(src.publication, tables, src.create_publication);
  return opt;
}

PreparedSource prepare_source(const config::DatacenterConfig& config,
                              const config::SourceConfig& src) {
  replication::Catalog catalog(src.dsn);
  PreparedSource p;
  p.options = prepare_tables(config, src, catalog);
  p.slot = check_slot_at_start(catalog, src);
  return p;
}

}  // namespace mccache::invalidator::source
