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

  // Blocks until the gated database shows every transaction of `xids` committed at or below `lsn`
  // (true), or `keep_going` says stop (false). On the primary, one that cannot be queried for
  // kPrimaryUnreachable counts as showing them: its commits are flushed (they were streamed), no
  // reader can query it either, and it shows them once it answers again. Waiting instead would
  // deadlock its shutdown, whose walsender waits for this position to be confirmed. One query per
  // call when it already does; `idle` runs between polls so the caller can keep its replication
  // connection alive. Reconnects on its own.
  bool wait_for(pgoutput::Lsn lsn, const std::vector<uint32_t>& xids,
                const std::function<bool()>& keep_going, const std::function<void()>& idle);

  pgoutput::Lsn last_replayed() const { return last_; }
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
  pgoutput::Lsn last_ = 0;
  std::chrono::nanoseconds total_wait_{0};
  uint64_t polls_ = 0;
  std::string last_error_;
};

// "{1,2,3}": the batch's xids as a Postgres array literal (the query's parameter).
std::string xid_array_literal(const std::vector<uint32_t>& xids);

}  // namespace mccache::invalidator::delivery
