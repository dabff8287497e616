// Reading one source's replication stream: CopyData frames → pgoutput messages → committed
// transactions' keys in the filling batch, each position reported to the ConfirmTracker in the
// order read. A message that does not decode stops the source (skipping it could lose an
// invalidation; the slot replays it after a restart).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "invalidator/delivery/batch.h"
#include "invalidator/delivery/batch_trigger.h"
#include "invalidator/delivery/confirm_tracker.h"
#include "invalidator/error.h"
#include "invalidator/keys/schema.h"
#include "invalidator/keys/transaction_keys.h"
#include "invalidator/metrics.h"
#include "invalidator/replication/stream.h"

namespace mccache::invalidator::source {

// How a read pass ended.
struct ReadPass {
  enum End {
    kDry,      // libpq's buffer ran dry
    kFull,     // the batch is full, or the pass read its maximum: more is buffered
    kFailed,   // the stream broke: reconnect
    kStopped,  // the source must stop with `exit_code`
  } end = kDry;
  int exit_code = 0;  // kStopped: 1 undecodable stream or DDL the templates cannot follow, 2 halt
};

class StreamReader {
 public:
  // `schema` answers what the stream cannot tell (partitions, renames; keys/schema.h).
  StreamReader(keys::TransactionKeysOptions options, keys::SchemaView* schema, std::string who,
               Metrics& metrics, delivery::ConfirmTracker& tracker)
      : options_(std::move(options)),
        schema_(schema),
        who_(std::move(who)),
        metrics_(metrics),
        tracker_(tracker) {}

  // A new replication session: pgoutput resends Relation messages in every session, and a
  // half-read transaction is resent whole.
  void new_session();
  // A schema change the catalog check saw between transactions: logged and counted like the
  // stream's.
  void report_notices(const std::vector<keys::SchemaNotice>& notices) {
    for (const auto& n : notices) report(n);
  }
  // The slot was lost: nothing more is read from this session.
  void end_session() { txns_.reset(); }

  // Reads what is buffered into `batch`, until it holds `trigger`'s maximum of keys.
  // `reply_requested` runs when the walsender asks for a status update at once.
  ReadPass read(replication::ReplicationStream& stream, delivery::Batch& batch,
                const delivery::BatchTrigger& trigger,
                const std::function<void()>& reply_requested);

  bool in_transaction() const { return txns_ && txns_->in_transaction(); }
  // The server's WAL end as last reported (for the lag in bytes).
  pgoutput::Lsn server_end() const { return server_end_; }
  // New templates (a reload), between transactions only; an Error says why they do not fit the
  // tables seen in this session, and then nothing changed.
  Status replace_options(const keys::TransactionKeysOptions& options);
  const keys::TransactionKeysOptions& options() const { return options_; }

 private:
  // Moves the key statistics of what was read into the metrics.
  void record_key_stats();
  // A schema change under the cached tables (keys/schema.h): logged and counted.
  void report(const keys::SchemaNotice& notice);

  keys::TransactionKeysOptions options_;
  keys::SchemaView* schema_;
  std::string who_;
  Metrics& metrics_;
  delivery::ConfirmTracker& tracker_;
  std::unique_ptr<keys::TransactionKeys> txns_;  // null between sessions
  keys::KeyStats reported_stats_{};
  uint64_t reported_rows_ = 0;
  pgoutput::Lsn server_end_ = 0;
  pgoutput::Lsn open_final_lsn_ = 0;  // the open transaction's commit LSN, from its Begin
};

}  // namespace mccache::invalidator::source
