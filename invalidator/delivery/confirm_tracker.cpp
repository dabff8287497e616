// Marks in read order; the confirmable position moves over the acknowledged prefix.
#include "invalidator/delivery/confirm_tracker.h"

#include <algorithm>

namespace mccache::invalidator::delivery {

void ConfirmTracker::read(pgoutput::Lsn end_lsn) {
  filling_ = true;
  filling_lsn_ = std::max(filling_lsn_, end_lsn);
}

void ConfirmTracker::keepalive(pgoutput::Lsn wal_end, bool in_transaction) {
  if (in_transaction) return;
  if (filling_) {
    // Everything up to wal_end is in this batch or before it.
    filling_lsn_ = std::max(filling_lsn_, wal_end);
  } else if (sealed_.empty()) {
    confirmable_ = std::max(confirmable_, wal_end);
  } else {
    // Nothing to deliver up to wal_end beyond what is in flight: a mark that waits only for them.
    sealed_.push_back({next_ticket_++, wal_end, true});
  }
}

ConfirmTracker::Ticket ConfirmTracker::seal() {
  Ticket t = next_ticket_++;
  sealed_.push_back({t, filling_lsn_, false});
  filling_ = false;
  filling_lsn_ = 0;
  return t;
}

void ConfirmTracker::acknowledged(Ticket ticket) {
  for (auto& m : sealed_)
    if (m.ticket == ticket) m.acked = true;
  advance();
}

void ConfirmTracker::advance() {
  while (!sealed_.empty() && sealed_.front().acked) {
    confirmable_ = std::max(confirmable_, sealed_.front().lsn);
    sealed_.pop_front();
  }
}

void ConfirmTracker::gave_up() {
  // Every batch still unacknowledged lies above confirmable_, the given-up parts among them.
  applied_cap_ = std::min(applied_cap_, confirmable_);
}

void ConfirmTracker::reset() {
  sealed_.clear();
  filling_ = false;
  filling_lsn_ = confirmable_ = 0;
  // Tickets keep counting: one of a batch handed out before the loss can never match a new one.
}

}  // namespace mccache::invalidator::delivery
