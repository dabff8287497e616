// Pure assembly of one transaction's cache keys from the decoded pgoutput stream: row changes of
// configured tables through their templates, plus explicit keys from logical messages, released
// only at COMMIT (pgoutput sends a transaction whole, after it committed).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "invalidator/delivery/batch.h"
#include "invalidator/keys/key_template.h"
#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::keys {

enum class TruncatePolicy { kFlushRegion, kIgnore, kHalt };

struct TransactionKeysOptions {
  std::map<std::string, std::vector<KeyTemplate>> tables;  // "schema.table" → templates
  std::string message_prefix = "mcinval";
  TruncatePolicy truncate = TruncatePolicy::kFlushRegion;
};

struct StreamEvent {
  enum Kind { kNone, kCommitted, kHalt, kError } kind = kNone;
  delivery::CommittedTxn txn;  // kCommitted
  std::string message;         // kHalt / kError: why
};

class TransactionKeys {
 public:
  explicit TransactionKeys(TransactionKeysOptions options) : options_(std::move(options)) {}

  // Feeds one decoded message. Returns kCommitted with the transaction's keys at COMMIT (and for a
  // non-transactional explicit-key message, at once), kHalt for a TRUNCATE under "halt".
  StreamEvent on_message(pgoutput::Decoded&& message);

  bool in_transaction() const { return in_txn_; }
  // Keys the open transaction has produced so far, and handing them over as a part without a
  // position (its xid and commit time, keys deduplicated within the part only): a big transaction
  // is delivered while it is read, in bounded memory. The part at COMMIT carries the rest.
  size_t open_keys() const { return in_txn_ ? current_.keys.size() : 0; }
  delivery::CommittedTxn take_open_part();
  // Swaps the templates (config reload). Only between transactions, so one transaction's keys
  // all come from one config. Rebinds every relation seen in this session (pgoutput sends a
  // Relation once per session); false with `error` when a table lacks a template's column, and
  // then nothing changed.
  bool replace_options(TransactionKeysOptions options, std::string& error);
  const KeyStats& stats() const { return stats_; }
  uint64_t rows() const { return rows_; }

 private:
  const TableKeys* table_for(uint32_t relation_id) const;

  TransactionKeysOptions options_;
  // Relation id → bound templates; nullptr-like (absent) for tables we do not cache.
  std::unordered_map<uint32_t, TableKeys> relations_;
  // Every Relation of this session, cached table or not, for replace_options().
  std::unordered_map<uint32_t, pgoutput::Relation> seen_relations_;
  bool in_txn_ = false;
  delivery::CommittedTxn current_;
  KeyStats stats_;
  uint64_t rows_ = 0;
};

}  // namespace mccache::invalidator::keys
