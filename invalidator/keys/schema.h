// Schema changes under cached tables: what is reported when one happens, and what the key
// assembly asks the catalog about a streamed relation the stream alone cannot place (a partition,
// a renamed table). Pure declarations; the daemon's SchemaWatch answers from the catalog.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/choices.h"
#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::keys {

// Counted as mcinval_schema_changes_total{change="<name>"}.
enum class SchemaChange : uint8_t {
  kRenamed,          // a cached table renamed: followed by OID
  kRecreated,        // a new table under a cached table's name: followed from its first change
  kDropped,          // a cached table left with its rows, which no DELETE removed
  kPartitions,       // a partition left (detached, dropped) or joined holding rows
  kUnpublished,      // a cached table the publication does not stream
  kReplicaIdentity,  // the replica identity no longer logs a template's columns
  kColumns,          // a template's column is gone
  kUnknownRelation,  // a streamed relation that may have held a cached table's rows
};
inline constexpr size_t kSchemaChangeKinds = 8;
const char* schema_change_name(SchemaChange change);

struct SchemaNotice {
  SchemaChange change = SchemaChange::kRenamed;
  // Some keys cannot be named until an operator acts: logged as an error, and the truncate
  // policy (flush_region / halt / ignore) applies to the changes concerned. Otherwise the
  // invalidator follows the change and only warns.
  bool unfollowed = false;
  std::string message;
};

using TruncatePolicy = config::TruncatePolicy;  // invalidator.truncate
// What the policy does to a change whose keys cannot be named, for notices: "flushes the region".
const char* policy_consequence(TruncatePolicy policy);

class SchemaView {
 public:
  struct Origin {
    enum Kind {
      kNotCached,     // holds no cached table's rows
      kTable,         // holds rows of `table`
      kFormerMember,  // streamed, but no longer in the publication or the catalog: it may have
                      // held a cached table's rows when the change was made
      kUnknown,       // the catalog could not be asked; try again in a new session
    } kind = kNotCached;
    std::string table;       // kTable: the configured "schema.table"
    bool partition = false;  // kTable: a partition of `table` (else `table` itself, renamed)
    std::string detail;      // kFormerMember, kUnknown: why
    // A change this placing revealed (say, a cached table's name on a relation that is not the
    // table of that name now: the table was replaced while nobody watched).
    std::optional<SchemaNotice> notice;
  };
  virtual ~SchemaView() = default;
  // Which cached table a relation's rows belong to: asked once per relation and replication
  // session. The streamed name is the one the relation had when the change was made.
  virtual Origin origin(const pgoutput::Relation& relation) = 0;
  // The slot whose schema markers this invalidator applies (see below).
  virtual const std::string& slot() const = 0;
};

// A schema marker is a transactional logical message the daemon writes after a change the stream
// does not show (a dropped table, a partition that left, a table added back to the publication):
// applied where it lands in the stream, it flushes the region (or halts) after everything before
// it, like a TRUNCATE. Content: "<slot>\n<reason>", so each region applies only its own.
inline constexpr std::string_view kSchemaMarkerPrefix = "mccache.schema";
std::string encode_schema_marker(std::string_view slot, std::string_view reason);
std::optional<std::string> decode_schema_marker(std::string_view content, std::string_view slot);

}  // namespace mccache::invalidator::keys
