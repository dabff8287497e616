// Names of schema changes and policies, and the schema marker's content.
#include "invalidator/keys/schema.h"

namespace mccache::invalidator::keys {

const char* schema_change_name(SchemaChange change) {
  switch (change) {
    case SchemaChange::kRenamed:
      return "renamed";
    case SchemaChange::kRecreated:
      return "recreated";
    case SchemaChange::kDropped:
      return "dropped";
    case SchemaChange::kPartitions:
      return "partitions";
    case SchemaChange::kUnpublished:
      return "unpublished";
    case SchemaChange::kReplicaIdentity:
      return "replica_identity";
    case SchemaChange::kColumns:
      return "columns";
    case SchemaChange::kUnknownRelation:
      return "unknown_relation";
  }
  return "?";
}

const char* policy_consequence(TruncatePolicy policy) {
  switch (policy) {
    case TruncatePolicy::kFlushRegion:
      return "flushes the region (truncate policy \"flush_region\")";
    case TruncatePolicy::kHalt:
      return "stops the invalidator (truncate policy \"halt\")";
    case TruncatePolicy::kIgnore:
      return "is ignored (truncate policy \"ignore\")";
  }
  return "?";
}

std::string encode_schema_marker(std::string_view slot, std::string_view reason) {
  std::string out(slot);
  out += '\n';
  out += reason;
  return out;
}

std::optional<std::string> decode_schema_marker(std::string_view content, std::string_view slot) {
  auto nl = content.find('\n');
  if (nl == std::string_view::npos || content.substr(0, nl) != slot) return std::nullopt;
  return std::string(content.substr(nl + 1));
}

}  // namespace mccache::invalidator::keys
