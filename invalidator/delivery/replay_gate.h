// Read gating: before a batch's keys are deleted, the database the region's readers use must show
// the batch's transactions, or a reader could refill the cache with the older row.
// - A replica (the usual case outside the primary's region) shows them once it has replayed their
//   commit records: pg_last_wal_replay_lsn() ≥ the batch's end LSN (design.md, race 2).
// - The primary writes and flushes a commit record, and so can stream it to us, a moment before
//   the transaction leaves the process array and becomes visible to new snapshots. So there the
//   gate waits until none of the batch's transaction ids is still running in pg_current_snapshot().
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "invalidator/clock.h"
#include "invalidator/error.h"
#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::delivery {

class ReplayGate {
 public:
  // `on_primary`: the gated database is the primary the stream comes from (no local replica).
  explicit ReplayGate(std::string dsn, bool on_primary = false, const Clock& clock = system_clock())
      : dsn_(std::move(dsn)), on_primary_(on_primary), clock_(clock) {}
  ~ReplayGate();
  ReplayGate(const ReplayGate&) = delete;
  ReplayGate& operator=(const ReplayGate&) = delete;

  enum class Outcome {
    kShown,    // the database shows every transaction of the batch
    kStopped,  // keep_going said stop first
    // The gate is on the primary and could not query it for kPrimaryUnreachable. Not shown: the
    // caller must hold the batch, and let go of its replication stream, because a primary in a
    // fast shutdown terminates our query connection while its logical walsender waits for the
    // position it sent to be confirmed (commit 81b548b: holding the stream deadlocked pg_ctl).
    kPrimaryUnreachable,
  };
  // Blocks until the gated database shows every transaction of `xids` committed at or below `lsn`,
  // or `keep_going` says stop, or (on the primary) it cannot be reached. A replica that cannot be
  // reached holds the gate: it may lag once it is back. Only the server connected now counts: a
  // multi-host DSN may fail over to a replica that has replayed less than the one before. One
  // query per call when it already shows them; `idle` runs between polls so the caller can keep
  // its replication connection alive. Reconnects on its own.
  Outcome wait_for(pgoutput::Lsn lsn, const std::vector<uint32_t>& xids,
                   const std::function<bool()>& keep_going, const std::function<void()>& idle);

  // How far the gated database shows everything, as its current connection last answered (the
  // replica's replay position; on the primary its insert position): 0 until the first answer,
  // and again after a reconnect, which may reach another server of a multi-host DSN.
  pgoutput::Lsn position() const { return position_; }
  // One query, no wait, to bring position() up to date (the region's watermark on an idle
  // database). False when the database could not be queried.
  bool refresh_position();

  std::chrono::nanoseconds total_wait() const { return total_wait_; }
  uint64_t polls() const { return polls_; }

 private:
  // One query: does the database show the batch?
  Result<bool> poll_once(pgoutput::Lsn lsn, const std::string& xid_array);

  static constexpr std::chrono::milliseconds kPrimaryUnreachable{100};

  std::string dsn_;
  bool on_primary_ = false;
  const Clock& clock_;
  PGconn* conn_ = nullptr;
  std::chrono::nanoseconds total_wait_{0};
  uint64_t polls_ = 0;
  pgoutput::Lsn position_ = 0;
  std::string last_error_;
};

// "{1,2,3}": the batch's xids as a Postgres array literal (the query's parameter).
std::string xid_array_literal(const std::vector<uint32_t>& xids);

}  // namespace mccache::invalidator::delivery
