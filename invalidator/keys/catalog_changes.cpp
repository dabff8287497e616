// Catalog states compared: every change that makes rows appear or vanish unstreamed is reported
// with its consequence and becomes a flush reason; renames are followed silently (the stream
// reports them where they happen).
#include "invalidator/keys/catalog_changes.h"

namespace mccache::invalidator::keys {
namespace {

struct Diff {
  const CatalogRules& rules;
  CatalogChanges out;

  void unfollowed(SchemaChange change, const std::string& what, const std::string& flush_why) {
    out.notices.push_back(
        {change, true,
         what + "; " + flush_why + ", so the region's copy " + policy_consequence(rules.policy)});
    out.flush_reasons.push_back(what);
  }

  void storage(const std::string& table, const RootState& before, const RootState& now) {
    for (const auto& [oid, s] : before.storage)
      if (!now.storage.count(oid))
        unfollowed(SchemaChange::kPartitions,
                   "partition " + s.name + " left " + table + " (detached or dropped)",
                   "its rows went without DELETEs");
    for (const auto& [oid, s] : now.storage) {
      auto was = before.storage.find(oid);
      if (was == before.storage.end() && !s.empty)
        unfollowed(SchemaChange::kPartitions,
                   "partition " + s.name + " joined " + table + " holding rows",
                   "they came without INSERTs");
    }
  }

  void publication(const std::string& table, const RootState* before, const RootState& now) {
    if (now.covered) {
      if (before == nullptr || !before->covered) {
        out.flush_reasons.push_back(now.name + " joined publication " + rules.publication +
                                    ": changes made before were not streamed");
        out.published_again = true;
      }
      return;
    }
    if (rules.create_publication) out.to_publish.push_back(now.name);  // until it is back
    if (before != nullptr && !before->covered) return;                 // reported already
    std::string what = now.name + " (rows of " + table + ") is not in publication " +
                       rules.publication + ", so its changes are not streamed";
    if (rules.create_publication) {
      out.notices.push_back({SchemaChange::kUnpublished, true,
                             what + "; adding it (ALTER PUBLICATION " + rules.publication +
                                 " ADD TABLE " + now.name + "), then flushing the region"});
    } else {
      out.notices.push_back({SchemaChange::kUnpublished, true,
                             what + ": run ALTER PUBLICATION " + rules.publication + " ADD TABLE " +
                                 now.name +
                                 " (or allow source.create_publication); the region is flushed "
                                 "once it is back"});
    }
  }
};

}  // namespace

CatalogChanges catalog_changes(const CatalogState& before, const CatalogState& now,
                               const CatalogRules& rules) {
  Diff d{rules, {}};
  for (const auto& [table, state] : now) {
    auto b = before.find(table);
    if (b == before.end()) continue;  // first seen (start-up, reload): the baseline
    const TableState& was = b->second;
    for (const auto& [oid, root] : was.roots)
      if (!state.roots.count(oid))
        d.unfollowed(SchemaChange::kDropped,
                     "table " + root.name + " (OID " + std::to_string(oid) + ") of " + table +
                         " was dropped",
                     "its rows went without DELETEs");
    for (const auto& [oid, root] : state.roots) {
      auto r = was.roots.find(oid);
      const RootState* prev = r == was.roots.end() ? nullptr : &r->second;
      if (prev == nullptr)
        d.out.notices.push_back({SchemaChange::kRecreated, false,
                                 root.name + " is a new table (OID " + std::to_string(oid) +
                                     ") under the name " + table + "; followed from now on"});
      else
        d.storage(table, *prev, root);
      d.publication(table, prev, root);
    }
  }
  return d.out;
}

}  // namespace mccache::invalidator::keys
