// Validation of a reloaded file, and what in it only a restart applies.
#include "invalidator/source/reload.h"

#include <stdexcept>

#include "invalidator/replication/catalog.h"
#include "invalidator/source/startup.h"

namespace mccache::invalidator::source {

Reload read_reload(const config::DatacenterConfig& running, const config::SourceConfig& src) {
  Reload r;
  r.config = config::load_config(running.file, config::Role::kInvalidator);
  const config::SourceConfig* same = nullptr;
  for (const auto& s : r.config.invalidator->sources)
    if (s.name == src.name) same = &s;
  if (same == nullptr)
    throw std::runtime_error(running.file + ": source \"" + src.name +
                             "\" is gone; adding or removing sources needs a restart");
  r.source = *same;
  replication::Catalog catalog(same->dsn);
  r.key_options = prepare_tables(r.config, *same, catalog);

  auto changed = [&](bool differs, const char* field) {
    if (differs) r.needs_restart.emplace_back(field);
  };
  const auto &now = r.config.pool, &before = running.pool;
  r.pool_changed = !(now.servers == before.servers) || now.hash != before.hash ||
                   !(now.gutter.servers == before.gutter.servers);
  changed(same->dsn != src.dsn, "dsn");
  changed(same->slot != src.slot, "slot");
  changed(same->publication != src.publication, "publication");
  changed(same->wait_for_replay != src.wait_for_replay, "wait_for_replay");
  changed(r.config.invalidator->sources.size() != running.invalidator->sources.size(), "sources");
  return r;
}

}  // namespace mccache::invalidator::source
