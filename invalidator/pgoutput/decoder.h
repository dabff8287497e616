// Pure decoder of pgoutput logical replication messages (proto_version 1, messages 'true'), as
// PostgreSQL 15 sends them inside XLogData (docs: "Logical Replication Message Formats").
// Decoded strings and tuple values are views into the payload: keep the payload alive.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mccache::invalidator::pgoutput {

using Lsn = uint64_t;
// Microseconds since 2000-01-01 00:00:00 UTC, PostgreSQL's TimestampTz epoch.
using PgTimestamp = int64_t;

enum class Status { kOk, kTruncated, kMalformed, kUnknownMessage };
const char* status_name(Status s);

struct RelationColumn {
  std::string name;
  uint32_t type_oid = 0;
  bool part_of_key = false;  // flag 1: part of the replica identity
};

// Relation messages precede the first change of a relation in each session (and after DDL).
struct Relation {
  uint32_t id = 0;
  std::string schema;
  std::string name;
  char replica_identity = 'd';  // 'd' default, 'n' nothing, 'f' full, 'i' index
  std::vector<RelationColumn> columns;
};

enum class ValueKind : char { kNull = 'n', kUnchangedToast = 'u', kText = 't' };
struct Value {
  ValueKind kind = ValueKind::kNull;
  std::string_view text;  // only for kText
};
using Tuple = std::vector<Value>;

struct Begin {
  Lsn final_lsn = 0;
  PgTimestamp commit_time = 0;
  uint32_t xid = 0;
};
struct Commit {
  uint8_t flags = 0;
  Lsn commit_lsn = 0;
  Lsn end_lsn = 0;  // what a standby status update confirms
  PgTimestamp commit_time = 0;
};
struct Insert {
  uint32_t relation_id = 0;
  Tuple new_tuple;
};
// old_kind: 'K' (old replica identity key, only when it changed), 'O' (REPLICA IDENTITY FULL
// old row) or 0 (none sent).
struct Update {
  uint32_t relation_id = 0;
  char old_kind = 0;
  Tuple old_tuple;
  Tuple new_tuple;
};
struct Delete {
  uint32_t relation_id = 0;
  char old_kind = 0;
  Tuple old_tuple;
};
struct Truncate {
  uint8_t options = 0;  // 1 CASCADE, 2 RESTART IDENTITY
  std::vector<uint32_t> relation_ids;
};
struct Message {
  bool transactional = false;
  Lsn lsn = 0;
  std::string_view prefix;
  std::string_view content;
};
// Type ('Y') and Origin ('O') carry nothing the invalidator needs.
struct Skipped {
  char kind = 0;
};

using Decoded =
    std::variant<Begin, Commit, Relation, Insert, Update, Delete, Truncate, Message, Skipped>;

struct DecodeResult {
  Status status = Status::kOk;
  std::string error;  // what and at which byte offset, when status != kOk
  Decoded message;
};

// Never throws on bad bytes: any truncation or inconsistency comes back as a status.
DecodeResult decode(std::string_view payload);

}  // namespace mccache::invalidator::pgoutput
