// The region's watermark on its own: what RegionWatermark writes for a given tracker and gate
// position, over time, after failed writes, and when the truth falls (slot loss, a gate that
// reconnected to a replica that has replayed less); and the tracker's applied() under "skip".
// The watermark over every sequence of stream and fault events is in confirm_rule_test.cpp.
#include "invalidator/delivery/watermark.h"

#include <gtest/gtest.h>

#include "invalidator/delivery/confirm_tracker.h"

namespace mccache::invalidator::delivery {
namespace {

using namespace std::chrono_literals;
using Action = RegionWatermark::Action;

class RegionWatermarkTest : public ::testing::Test {
 protected:
  // Decides at `now_` and reports the write as `ok`.
  RegionWatermark::Decision step(pgoutput::Lsn applied, pgoutput::Lsn gate, bool ok = true,
                                 bool streaming = true) {
    auto d = w_.decide({applied, gate, streaming}, now_);
    w_.done(d, ok, now_);
    return d;
  }
  RegionWatermark w_;
  SteadyTime now_{1h};
};

TEST(WatermarkKey, IsNamedAfterTheSource_DefaultForTheUnnamedOne) {
  EXPECT_EQ(watermark_key(""), "mccache:applied_lsn:default");
  EXPECT_EQ(watermark_key("shard2"), "mccache:applied_lsn:shard2");
}

TEST_F(RegionWatermarkTest, PublishesTheLowerOfAppliedAndTheGate) {
  auto d = step(500, 300);
  EXPECT_EQ(d.action, Action::kPublish);
  EXPECT_EQ(d.lsn, 300u) << "the replica has not replayed past 300";
  now_ += 1ms;
  d = step(500, 900);
  EXPECT_EQ(d.action, Action::kPublish);
  EXPECT_EQ(d.lsn, 500u) << "keys above 500 are not all acknowledged";
  EXPECT_EQ(w_.published(), 500u);
}

TEST_F(RegionWatermarkTest, UnknownPositions_PublishNothing) {
  EXPECT_EQ(step(0, 0).action, Action::kNone);
  EXPECT_EQ(step(400, 0).action, Action::kNone) << "the gate has not answered yet";
  EXPECT_EQ(step(0, 400).action, Action::kNone) << "nothing acknowledged yet";
}

TEST_F(RegionWatermarkTest, AStandby_NeverPublishes) {
  EXPECT_EQ(step(500, 500, true, /*streaming=*/false).action, Action::kNone);
  EXPECT_EQ(w_.published(), 0u);
}

TEST_F(RegionWatermarkTest, UnchangedValue_IsWrittenAgainOnlyAfterTheRefreshInterval) {
  step(500, 500);
  now_ += w_.timing().refresh - 1ms;
  EXPECT_EQ(step(500, 500).action, Action::kNone);
  now_ += 1ms;
  auto d = step(500, 500);
  EXPECT_EQ(d.action, Action::kPublish) << "a restarted memcached gets it back";
  EXPECT_EQ(d.lsn, 500u);
}

TEST_F(RegionWatermarkTest, ANewValue_IsWrittenOnceTheMinimumIntervalHasPassed) {
  step(500, 500);
  now_ += 1us;
  EXPECT_EQ(step(600, 700).action, Action::kNone) << "one write per interval, not per batch";
  EXPECT_TRUE(w_.behind({600, 700, true}, now_)) << "the loop must come back for it";
  now_ += w_.timing().min_interval;
  auto d = step(600, 700);
  EXPECT_EQ(d.action, Action::kPublish);
  EXPECT_EQ(d.lsn, 600u);
  EXPECT_FALSE(w_.behind({600, 700, true}, now_));
  now_ += w_.timing().min_interval;
  ASSERT_EQ(step(800, 800, /*ok=*/false).action, Action::kPublish);
  EXPECT_FALSE(w_.behind({900, 900, true}, now_)) << "a down server is retried after the pause";
}

TEST_F(RegionWatermarkTest, ALowerTruth_WithdrawsTheKey_AndNothingLowerIsWrittenAgain) {
  step(500, 500);
  now_ += 1ms;
  // The gate reconnected (a multi-host DSN may reach a replica that has replayed less).
  EXPECT_EQ(step(500, 0).action, Action::kWithdraw);
  EXPECT_EQ(w_.published(), 0u);
  now_ += 1s;
  EXPECT_EQ(step(500, 450).action, Action::kNone) << "W never decreases in one process";
  auto d = step(500, 500);
  EXPECT_EQ(d.action, Action::kPublish);
  EXPECT_EQ(d.lsn, 500u);
}

TEST_F(RegionWatermarkTest, SlotLoss_WithdrawsEvenWhenNotStreaming) {
  step(500, 500);
  now_ += 1ms;
  EXPECT_EQ(step(0, 500, true, /*streaming=*/false).action, Action::kWithdraw);
}

TEST_F(RegionWatermarkTest, AFailedWrite_IsTriedAgainAfterThePause_AndCountsAsMaybeWritten) {
  auto d = step(500, 500, /*ok=*/false);
  EXPECT_EQ(d.action, Action::kPublish);
  now_ += w_.timing().retry - 1ms;
  EXPECT_EQ(step(500, 500).action, Action::kNone) << "a down server is not hammered";
  now_ += 1ms;
  EXPECT_EQ(step(500, 500).action, Action::kPublish);
  // The failed write may have landed: a truth below it withdraws it.
  RegionWatermark other;
  auto first = other.decide({500, 500, true}, now_);
  other.done(first, false, now_);
  now_ += other.timing().retry;
  EXPECT_EQ(other.decide({400, 500, true}, now_).action, Action::kWithdraw);
}

TEST_F(RegionWatermarkTest, AFailedWithdraw_IsTriedAgain_UntilTheKeyHasExpired) {
  step(500, 500);
  now_ += 1ms;
  EXPECT_EQ(step(300, 500, /*ok=*/false).action, Action::kWithdraw);
  now_ += w_.timing().retry;
  EXPECT_EQ(step(300, 500, /*ok=*/false).action, Action::kWithdraw);
  now_ += std::chrono::seconds(w_.timing().ttl_s);
  EXPECT_EQ(step(300, 500).action, Action::kNone) << "the key has expired on its own";
}

TEST_F(RegionWatermarkTest, APoolChange_WritesAtOnceWhereTheNewPoolPlacesTheKey) {
  step(500, 500);
  now_ += 1ms;
  w_.moved();
  EXPECT_EQ(step(500, 500).action, Action::kPublish);
  now_ += 1ms;
  EXPECT_EQ(step(500, 500).action, Action::kNone);
}

TEST_F(RegionWatermarkTest, WantsTheGate_OnlyWhenItAloneHoldsWBack) {
  EXPECT_TRUE(w_.wants_gate({500, 300, true}));
  EXPECT_FALSE(w_.wants_gate({500, 600, true}));
  EXPECT_FALSE(w_.wants_gate({500, 300, false}));
  step(500, 500);
  EXPECT_FALSE(w_.wants_gate({500, 300, true})) << "500 is out already";
}

TEST(ConfirmTrackerApplied, FollowsConfirmable_UntilAServerIsGivenUp) {
  ConfirmTracker t;
  t.read(100);
  t.acknowledged(t.seal());
  EXPECT_EQ(t.applied(), 100u);
  t.read(200);
  auto skipped = t.seal();
  t.gave_up();  // a server's parts of 200 were dropped
  t.acknowledged(skipped);
  t.keepalive(300, false);
  EXPECT_EQ(t.confirmable(), 300u) << "the slot moves on under \"skip\"";
  EXPECT_EQ(t.applied(), 100u) << "200's keys on the skipped server may still be cached";
  t.reset();
  t.keepalive(400, false);
  EXPECT_EQ(t.applied(), 100u) << "a slot loss does not make the skipped keys applied";
}

}  // namespace
}  // namespace mccache::invalidator::delivery
