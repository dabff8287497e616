// Plain get/delete/touch/cas through the proxy: stale copies and placeholders are misses (or
// absent), wins go back.
#include "lease/plain_ops.h"

#include <gtest/gtest.h>

#include "captured_replies.h"
#include "meta_reply_parse.h"

namespace mccache::lease {
namespace {

using testing::parse_full_reply;
namespace captured = testing::captured;

const LeaseSettings kSettings{.lease_ttl_s = 10, .stale_ttl_s = 10};

TEST(LeasePlainGet, FreshItem_IsAHitWithFlagsAndCas) {
  PlainGetOutcome o = classify_plain_get(parse_full_reply(captured::kHit), kSettings);
  EXPECT_TRUE(o.hit);
  EXPECT_EQ(o.value, "hello");
  EXPECT_EQ(o.client_flags, 7u);
  EXPECT_EQ(o.cas, 2u);
  EXPECT_FALSE(o.give_back);
}

TEST(LeasePlainGet, StaleCopy_IsAMiss_UnlikeTextGet) {
  PlainGetOutcome o = classify_plain_get(parse_full_reply(captured::kStaleHeld), kSettings);
  EXPECT_FALSE(o.hit);
  EXPECT_FALSE(o.give_back);  // someone else holds the win
}

TEST(LeasePlainGet, LeasePlaceholder_IsAMiss_UnlikeTextGet) {
  EXPECT_FALSE(classify_plain_get(parse_full_reply(captured::kPlaceholderHeld), kSettings).hit);
}

TEST(LeasePlainGet, TakingAStaleWin_GivesItBackKeepingTheRemainingTtl) {
  PlainGetOutcome o = classify_plain_get(parse_full_reply(captured::kStaleWin), kSettings);
  EXPECT_FALSE(o.hit);
  ASSERT_TRUE(o.give_back);
  std::string cmd;
  append_give_back_command(cmd, "k1", o.give_back_cas, o.give_back_ttl_s);
  EXPECT_EQ(cmd, "md k1 I T29 C3\r\n");
}

TEST(LeasePlainGet, GiveBackOfAnItemWithoutTtl_UsesTheStaleTtl) {
  PlainGetOutcome o =
      classify_plain_get(parse_full_reply("VA 1 f0 c4 t-1 X W\r\nx\r\n"), kSettings);
  ASSERT_TRUE(o.give_back);
  EXPECT_EQ(o.give_back_ttl_s, 10u);
  o = classify_plain_get(parse_full_reply("VA 1 f0 c4 t0 X W\r\nx\r\n"), kSettings);
  EXPECT_EQ(o.give_back_ttl_s, 10u);  // never T0 (immortal)
}

TEST(LeasePlainGet, Miss_IsAMiss) {
  PlainGetOutcome o = classify_plain_get(parse_full_reply(captured::kMiss), kSettings);
  EXPECT_FALSE(o.hit);
  EXPECT_FALSE(o.backend_error);
}

TEST(LeasePlainGet, BackendError_IsReported) {
  PlainGetOutcome o = classify_plain_get(parse_full_reply("SERVER_ERROR busy\r\n"), kSettings);
  EXPECT_TRUE(o.backend_error);
  EXPECT_EQ(o.error, "busy");
}

TEST(LeaseDelete, HDIsDeleted_NFIsNotFound) {
  EXPECT_EQ(classify_delete(parse_full_reply(captured::kStored)), DeleteResult::Deleted);
  EXPECT_EQ(classify_delete(parse_full_reply(captured::kNotFound)), DeleteResult::NotFound);
  EXPECT_EQ(classify_delete(parse_full_reply("ERROR\r\n")), DeleteResult::BackendError);
}

TEST(LeasePresenceProbe, IsOneMetaGetWithoutTheValue) {
  std::string cmd;
  append_presence_probe(cmd, "k4");
  EXPECT_EQ(cmd, "mg k4 s c t k\r\n");
}

TEST(LeasePresenceProbe, OnlyALiveItemIsThere) {
  EXPECT_TRUE(classify_presence(parse_full_reply(captured::kProbeLive), kSettings).hit);
  EXPECT_FALSE(classify_presence(parse_full_reply(captured::kProbeMiss), kSettings).hit);
  EXPECT_FALSE(classify_presence(parse_full_reply(captured::kProbeStaleHeld), kSettings).hit);
  EXPECT_FALSE(classify_presence(parse_full_reply(captured::kProbePlaceholder), kSettings).hit);
  // A non-empty item whose win someone holds is not a placeholder (only a size of 0 is).
  EXPECT_TRUE(classify_presence(parse_full_reply("HD s3 c3 t10 kk6 Z\r\n"), kSettings).hit);
}

TEST(LeasePresenceProbe, TakingAStaleWin_GivesItBackKeepingTheRemainingTtl) {
  PlainGetOutcome o = classify_presence(parse_full_reply(captured::kProbeStaleWin), kSettings);
  EXPECT_FALSE(o.hit);
  ASSERT_TRUE(o.give_back);
  EXPECT_EQ(o.give_back_cas, 2u);
  EXPECT_EQ(o.give_back_ttl_s, 30u);
  EXPECT_FALSE(classify_presence(parse_full_reply(captured::kProbeStaleHeld), kSettings).give_back);
}

TEST(LeasePresenceProbe, BackendError_CountsAsLive_SoTheCommandsOwnAnswerIsPassedOn) {
  PlainGetOutcome o = classify_presence(parse_full_reply("SERVER_ERROR busy\r\n"), kSettings);
  EXPECT_TRUE(o.hit);
  EXPECT_TRUE(o.backend_error);
}

TEST(LeaseDeleteMode, ConfigNames_Map) {
  EXPECT_EQ(delete_mode_from_name("invalidate"), DeleteMode::Invalidate);
  EXPECT_EQ(delete_mode_from_name("delete"), DeleteMode::Remove);
  EXPECT_FALSE(delete_mode_from_name("purge"));
}

}  // namespace
}  // namespace mccache::lease
