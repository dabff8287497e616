// Pure assembly of one transaction's cache keys from the decoded pgoutput stream: row changes of
// configured tables (and of their partitions, and of them renamed) through their templates, plus
// explicit keys from logical messages, released only at COMMIT (pgoutput sends a transaction
// whole, after it committed). A change whose keys the templates can no longer name after a schema
// change falls under the truncate policy, like a TRUNCATE.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "invalidator/delivery/batch.h"
#include "invalidator/keys/key_template.h"
#include "invalidator/keys/schema.h"
#include "invalidator/keys/streamed_relation.h"
#include "invalidator/keys/unique_keys.h"
#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::keys {

struct TransactionKeysOptions {
  std::map<std::string, std::vector<KeyTemplate>> tables;  // "schema.table" → templates
  // "schema.table" → the OID the start-up check found: the table is followed by OID from then
  // on, so a rename after that moment keeps its templates.
  std::map<std::string, uint32_t> table_oids;
  std::string message_prefix = "mcinval";
  TruncatePolicy truncate = TruncatePolicy::kFlushRegion;
};

struct StreamEvent {
  enum Kind {
    kNone,
    kCommitted,  // txn: a transaction's keys
    kHalt,       // message: the truncate policy "halt" stops the stream here, unconfirmed
    kError,      // message: the stream cannot be followed
    kReconnect,  // message: the catalog could not be asked; start a new session and retry
  } kind = kNone;
  delivery::CommittedTxn txn;
  std::string message;
  // Schema changes this message showed, whatever the kind: the daemon logs and counts each.
  std::vector<SchemaNotice> notices;
};

class TransactionKeys {
 public:
  // `schema` answers what the stream cannot tell (partitions, renames): without it, only
  // relations streamed under a configured table's name are cached.
  explicit TransactionKeys(TransactionKeysOptions options, SchemaView* schema = nullptr)
      : options_(std::move(options)), schema_(schema) {}

  // Feeds one decoded message. Returns kCommitted with the transaction's keys at COMMIT (and for a
  // non-transactional explicit-key message, at once), kHalt under the "halt" policy.
  StreamEvent on_message(pgoutput::Decoded&& message);

  bool in_transaction() const { return in_txn_; }
  // Keys the open transaction has produced so far, and handing them over as a part without a
  // position (its xid and commit time, keys deduplicated within the part only): a big transaction
  // is delivered while it is read, in bounded memory. The part at COMMIT carries the rest.
  size_t open_keys() const { return in_txn_ ? keys_.size() : 0; }
  delivery::CommittedTxn take_open_part();
  // Swaps the templates (config reload). Only between transactions, so one transaction's keys
  // all come from one config. Rebinds every relation seen in this session (pgoutput sends a
  // Relation once per session); false with `error` when a relation lacks a template's column,
  // and then nothing changed.
  bool replace_options(TransactionKeysOptions options, std::string& error);
  const KeyStats& stats() const { return stats_; }
  uint64_t rows() const { return rows_; }
  // Index probes spent deduplicating keys so far (see UniqueKeys::probes).
  uint64_t dedupe_probes() const { return keys_.probes(); }

 private:
  StreamEvent on_relation(const pgoutput::Relation& rel);
  void on_row(uint32_t relation_id, const RowChange& change, StreamEvent& ev);
  void on_marker(const pgoutput::Message& m, StreamEvent& ev);
  // Which cached table `rel` holds rows of; kUnknown when the catalog could not be asked.
  SchemaView::Origin origin_of(const pgoutput::Relation& rel);
  // The consequence of a change whose keys cannot all be named.
  void apply_policy(const std::string& why, StreamEvent& ev);

  TransactionKeysOptions options_;
  SchemaView* schema_;
  // Relation id → its binding, for relations holding cached rows (absent for the others).
  std::unordered_map<uint32_t, StreamedRelation> relations_;
  // Every Relation of this session, cached table or not, for replace_options(), and where each
  // id's rows belong (a Relation repeats after DDL: a renamed table keeps its origin).
  std::unordered_map<uint32_t, pgoutput::Relation> seen_relations_;
  std::unordered_map<uint32_t, SchemaView::Origin> origins_;
  bool in_txn_ = false;
  delivery::CommittedTxn current_;
  UniqueKeys keys_;  // current_'s keys while it is open
  KeyStats stats_;
  uint64_t rows_ = 0;
};

}  // namespace mccache::invalidator::keys
