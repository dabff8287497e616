// One relation of a replication session bound to the templates of the cached table whose rows it
// holds: the table itself, one of its partitions, or the table under a new name. Binding compares
// the Relation message with what the templates need and reports what changed. Pure code.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "invalidator/keys/key_template.h"
#include "invalidator/keys/schema.h"
#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::keys {

struct StreamedRelation {
  std::string name;   // "schema.name" as last streamed
  std::string table;  // the configured table whose rows it holds ("" for a former member)
  std::optional<TableKeys> keys;  // none: no change of it can be named
  std::string unnamed;            // why some change of it may not be named ("" if none can fail)
};

// Binds `rel` to `origin` (kTable with `templates` of origin.table, or kFormerMember) and
// appends the schema changes its Relation message shows to `notices`.
StreamedRelation bind_streamed(const pgoutput::Relation& rel, const SchemaView::Origin& origin,
                               const std::vector<KeyTemplate>& templates, TruncatePolicy policy,
                               std::vector<SchemaNotice>& notices);

}  // namespace mccache::invalidator::keys
