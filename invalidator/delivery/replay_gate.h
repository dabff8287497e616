// Replica gating: before a batch's keys are deleted, the region's local replica must have replayed
// its commits, or a reader could refill the cache from the replica's older row (design.md, race 2).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <functional>
#include <string>

#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::delivery {

class ReplayGate {
 public:
  explicit ReplayGate(std::string dsn) : dsn_(std::move(dsn)) {}
  ~ReplayGate();
  ReplayGate(const ReplayGate&) = delete;
  ReplayGate& operator=(const ReplayGate&) = delete;

  // Blocks until pg_last_wal_replay_lsn() ≥ lsn (true) or `keep_going` says stop (false).
  // One query per call when the replica is already there; `idle` runs between polls so the caller
  // can keep its replication connection alive. Reconnects on its own.
  bool wait_for(pgoutput::Lsn lsn, const std::function<bool()>& keep_going,
                const std::function<void()>& idle);

  pgoutput::Lsn last_replayed() const { return last_; }
  std::chrono::nanoseconds total_wait() const { return total_wait_; }
  uint64_t polls() const { return polls_; }

 private:
  bool poll_once(std::string& error);

  std::string dsn_;
  PGconn* conn_ = nullptr;
  pgoutput::Lsn last_ = 0;
  std::chrono::nanoseconds total_wait_{0};
  uint64_t polls_ = 0;
  std::string last_error_;
};

}  // namespace mccache::invalidator::delivery
