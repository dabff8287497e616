// Relation messages against the templates: renames followed, lost columns and replica identity
// gaps reported with their consequence and fix.
#include "invalidator/keys/streamed_relation.h"

namespace mccache::invalidator::keys {
namespace {

std::string identity_of(char replica_identity) {
  switch (replica_identity) {
    case 'd':
      return "REPLICA IDENTITY DEFAULT";
    case 'i':
      return "REPLICA IDENTITY USING INDEX";
    case 'n':
      return "REPLICA IDENTITY NOTHING";
    default:
      return std::string("replica identity '") + replica_identity + "'";
  }
}

}  // namespace

StreamedRelation bind_streamed(const pgoutput::Relation& rel, const SchemaView::Origin& origin,
                               const std::vector<KeyTemplate>& templates, TruncatePolicy policy,
                               std::vector<SchemaNotice>& notices) {
  StreamedRelation out;
  out.name = rel.schema + "." + rel.name;
  const std::string consequence = policy_consequence(policy);
  if (origin.kind != SchemaView::Origin::kTable) {
    out.unnamed = "relation " + out.name + " (OID " + std::to_string(rel.id) +
                  ") is streamed but " + origin.detail +
                  ": it may have held rows of a cached table";
    notices.push_back({SchemaChange::kUnknownRelation, true,
                       out.unnamed + ", so its changes cannot be named; each " + consequence});
    return out;
  }
  out.table = origin.table;
  const std::string what =
      origin.partition ? "partition " + out.name + " of " + out.table : out.table;
  if (!origin.partition && out.name != out.table)
    notices.push_back({SchemaChange::kRenamed, false,
                       out.table + " is now " + out.name +
                           ": its changes are still invalidated (followed by OID); rename it in "
                           "invalidator.tables before the next restart, which finds tables by "
                           "name"});
  out.keys.emplace(templates);
  auto report = out.keys->bind(rel);
  for (const auto& gap : report.missing_columns) {
    out.unnamed = what + " has no column \"" + gap.column + "\" (template \"" + gap.tmpl + "\")";
    notices.push_back({SchemaChange::kColumns, true,
                       out.unnamed + ": that template cannot name its keys, so each change of " +
                           what + " " + consequence +
                           "; fix the template and reload the config (SIGHUP)"});
  }
  for (const auto& gap : report.outside_identity) {
    auto ident = identity_of(rel.replica_identity);
    out.unnamed = what + " (" + ident + ") does not log column \"" + gap.column +
                  "\" of the old row, which template \"" + gap.tmpl + "\" needs";
    notices.push_back({SchemaChange::kReplicaIdentity, true,
                       out.unnamed + ": each UPDATE or DELETE of it " + consequence +
                           "; run ALTER TABLE " + out.name + " REPLICA IDENTITY FULL"});
  }
  return out;
}

}  // namespace mccache::invalidator::keys
