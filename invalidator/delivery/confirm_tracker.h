// The one rule for the slot's position: LSN P may be confirmed only when everything read at or
// below P was acknowledged by every server it concerns, so a crash replays instead of losing
// (at-least-once). Pure: the stream reader reports what it read, in order; the deliverer reports
// batches every server acknowledged (or, under on_server_down "skip", gave up on).
#pragma once

#include <cstdint>
#include <algorithm>
#include <deque>
#include <limits>

#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::delivery {

class ConfirmTracker {
 public:
  using Ticket = uint64_t;

  // A committed transaction (or a part of one) joined the filling batch; `end_lsn` 0 carries no
  // position (a non-transactional message, or a part before a transaction's last).
  void read(pgoutput::Lsn end_lsn);
  // A keepalive: the walsender has sent everything below `wal_end`. Outside a transaction no
  // commit lies between the last one read and `wal_end`, so once everything read before the
  // keepalive is acknowledged the slot may move to `wal_end` (an idle database still advances).
  // Inside one, the open transaction's commit lies beyond: nothing to learn.
  void keepalive(pgoutput::Lsn wal_end, bool in_transaction);
  // The filling batch goes to delivery (possibly empty: its position must still wait for the
  // batches before it). Its ticket is what the deliverer acknowledges.
  Ticket seal();
  // Every server acknowledged the batch of `ticket`, or it was given up.
  void acknowledged(Ticket ticket);
  // A server's parts were given up (on_server_down "skip"): its keys of the batches in flight
  // may still be cached, so applied() stays below them for the rest of this process.
  void gave_up();
  // The slot was lost: what was read concerns a stream that no longer exists. Starts over at 0
  // (a cap from gave_up() stays).
  void reset();

  // The highest position that may be confirmed; never decreases until reset().
  pgoutput::Lsn confirmable() const { return confirmable_; }
  // How far every transaction read has had all its keys acknowledged by every server, none
  // given up: confirmable(), below the first give-up. What the region's watermark may claim.
  pgoutput::Lsn applied() const { return std::min(confirmable_, applied_cap_); }
  // Nothing read waits for an acknowledgement (the filling batch is empty, none in flight).
  bool settled() const { return sealed_.empty() && !filling_; }

 private:
  struct Mark {
    Ticket ticket;
    pgoutput::Lsn lsn;
    bool acked;
  };
  void advance();

  std::deque<Mark> sealed_;  // in read order
  pgoutput::Lsn filling_lsn_ = 0;
  bool filling_ = false;
  Ticket next_ticket_ = 1;
  pgoutput::Lsn confirmable_ = 0;
  pgoutput::Lsn applied_cap_ = std::numeric_limits<pgoutput::Lsn>::max();
};

}  // namespace mccache::invalidator::delivery
