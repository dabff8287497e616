// The confirm rule on its own: a position is confirmable once everything read at or below it is
// acknowledged, in read order; keepalives move it on an idle stream, never inside a transaction.
#include "invalidator/delivery/confirm_tracker.h"

#include <gtest/gtest.h>

namespace mccache::invalidator::delivery {
namespace {

TEST(ConfirmTracker, NothingIsConfirmable_UntilABatchIsAcknowledged) {
  ConfirmTracker t;
  t.read(100);
  EXPECT_EQ(t.confirmable(), 0u);
  auto b = t.seal();
  EXPECT_EQ(t.confirmable(), 0u) << "sealed is not acknowledged";
  EXPECT_FALSE(t.settled());
  t.acknowledged(b);
  EXPECT_EQ(t.confirmable(), 100u);
  EXPECT_TRUE(t.settled());
}

TEST(ConfirmTracker, ALaterBatchAcknowledgedFirst_WaitsForTheEarlierOne) {
  ConfirmTracker t;
  t.read(100);
  auto first = t.seal();
  t.read(200);
  t.read(250);
  auto second = t.seal();
  t.acknowledged(second);
  EXPECT_EQ(t.confirmable(), 0u) << "batch 100 is not acknowledged yet";
  t.acknowledged(first);
  EXPECT_EQ(t.confirmable(), 250u) << "a batch confirms its highest end LSN";
}

TEST(ConfirmTracker, KeepaliveOutsideATransaction_WithNothingWaiting_IsConfirmableAtOnce) {
  ConfirmTracker t;
  t.keepalive(500, /*in_transaction=*/false);
  EXPECT_EQ(t.confirmable(), 500u);
}

TEST(ConfirmTracker, KeepaliveInsideATransaction_ConfirmsNothing) {
  ConfirmTracker t;
  // The open transaction's commit lies below wal_end: pgoutput sends a transaction after it
  // committed, so confirming wal_end would skip it.
  t.keepalive(500, /*in_transaction=*/true);
  EXPECT_EQ(t.confirmable(), 0u);
  t.read(480);
  auto b = t.seal();
  t.keepalive(600, /*in_transaction=*/true);
  t.acknowledged(b);
  EXPECT_EQ(t.confirmable(), 480u);
}

TEST(ConfirmTracker, KeepaliveWhileBatchesWait_IsConfirmedOnlyAfterThem) {
  ConfirmTracker t;
  t.read(100);
  auto held = t.seal();  // a down server holds it
  t.keepalive(300, false);
  EXPECT_EQ(t.confirmable(), 0u);
  t.acknowledged(held);
  EXPECT_EQ(t.confirmable(), 300u);
}

TEST(ConfirmTracker, KeepaliveWhileABatchFills_GoesWithThatBatch) {
  ConfirmTracker t;
  t.read(100);
  t.keepalive(300, false);
  EXPECT_EQ(t.confirmable(), 0u) << "transaction 100 is read but not delivered";
  auto b = t.seal();
  t.acknowledged(b);
  EXPECT_EQ(t.confirmable(), 300u);
}

TEST(ConfirmTracker, EmptyBatch_WaitsForTheBatchesBeforeIt) {
  ConfirmTracker t;
  t.read(100);
  auto held = t.seal();
  auto empty = t.seal();
  t.acknowledged(empty);
  EXPECT_EQ(t.confirmable(), 0u);
  t.acknowledged(held);
  EXPECT_EQ(t.confirmable(), 100u);
}

TEST(ConfirmTracker, PartsWithoutAPosition_ConfirmNothingThemselves_ButHoldWhatFollows) {
  ConfirmTracker t;
  t.read(0);  // the first part of a big transaction, or a non-transactional message
  auto part = t.seal();
  t.read(700);  // the transaction's last part carries its commit
  auto last = t.seal();
  t.acknowledged(last);
  EXPECT_EQ(t.confirmable(), 0u) << "the first part is not acknowledged";
  t.acknowledged(part);
  EXPECT_EQ(t.confirmable(), 700u);
}

TEST(ConfirmTracker, ReReadingOlderPositionsAfterAReconnect_NeverMovesBack) {
  ConfirmTracker t;
  t.read(300);
  t.acknowledged(t.seal());
  t.read(200);  // the walsender resends from an older confirmed position
  t.acknowledged(t.seal());
  EXPECT_EQ(t.confirmable(), 300u);
}

TEST(ConfirmTracker, Reset_ForgetsEverything_AndAnOldTicketMatchesNothingNew) {
  ConfirmTracker t;
  t.read(100);
  t.acknowledged(t.seal());
  t.read(200);
  auto old = t.seal();
  t.reset();
  EXPECT_EQ(t.confirmable(), 0u);
  EXPECT_TRUE(t.settled());
  t.read(50);
  auto fresh = t.seal();
  t.acknowledged(old);
  EXPECT_EQ(t.confirmable(), 0u) << "a batch from before the loss acknowledged a new one";
  t.acknowledged(fresh);
  EXPECT_EQ(t.confirmable(), 50u);
}

}  // namespace
}  // namespace mccache::invalidator::delivery
