// When a batch goes: full, the stream quiet or failed, or old enough; never when empty.
#include "invalidator/delivery/batch_trigger.h"

#include <gtest/gtest.h>

namespace mccache::invalidator::delivery {
namespace {

using namespace std::chrono_literals;
const SteadyTime t0{std::chrono::hours(1)};

TEST(BatchTrigger, AnEmptyBatch_IsNeverDue) {
  BatchTrigger t(10);
  EXPECT_FALSE(t.started());
  EXPECT_FALSE(t.due(0, /*stream_failed=*/true, /*quiet=*/true, t0 + 1h));
}

TEST(BatchTrigger, AFullBatch_IsDue_AndStopsReading) {
  BatchTrigger t(10);
  t.added(t0);
  EXPECT_FALSE(t.full(9));
  EXPECT_FALSE(t.due(9, false, false, t0));
  EXPECT_TRUE(t.full(10));
  EXPECT_TRUE(t.due(10, false, false, t0));
}

TEST(BatchTrigger, AQuietStreamOrAFailedOne_MakesItDue) {
  BatchTrigger t(10);
  t.added(t0);
  EXPECT_TRUE(t.due(1, false, /*quiet=*/true, t0));
  EXPECT_TRUE(t.due(1, /*stream_failed=*/true, false, t0));
}

TEST(BatchTrigger, WhileABacklogStreams_ItIsDueAtMaxAge_CountedFromTheFirstAddition) {
  BatchTrigger t(10, 2ms);
  t.added(t0);
  t.added(t0 + 1500us);  // later additions do not restart the age
  EXPECT_FALSE(t.due(3, false, false, t0 + 1999us));
  EXPECT_TRUE(t.due(3, false, false, t0 + 2ms));
}

TEST(BatchTrigger, Delivered_TheNextAdditionStartsANewAge) {
  BatchTrigger t(10, 2ms);
  t.added(t0);
  t.delivered();
  EXPECT_FALSE(t.started());
  t.added(t0 + 5ms);
  EXPECT_FALSE(t.due(1, false, false, t0 + 6ms));
  EXPECT_TRUE(t.due(1, false, false, t0 + 7ms));
}

}  // namespace
}  // namespace mccache::invalidator::delivery
