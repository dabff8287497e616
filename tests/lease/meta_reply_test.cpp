// parse_meta_head over replies captured from memcached 1.6.18.
#include "lease/meta_reply.h"

#include <gtest/gtest.h>

#include "captured_replies.h"
#include "meta_reply_parse.h"

namespace mccache::lease {
namespace {

using testing::parse_full_reply;
namespace captured = testing::captured;

TEST(LeaseMetaReply, VivifiedPlaceholder_CarriesWinCasAndEmptyValue) {
  MetaReply r = parse_full_reply(captured::kVivifiedWin);
  EXPECT_EQ(r.status, MetaStatus::VA);
  EXPECT_TRUE(r.flags.win);
  EXPECT_FALSE(r.flags.win_sent);
  EXPECT_FALSE(r.flags.stale);
  EXPECT_EQ(r.flags.cas, 1u);
  EXPECT_EQ(r.flags.client_flags, 0u);
  EXPECT_EQ(r.flags.ttl, -1);
  EXPECT_EQ(r.value, "");
}

TEST(LeaseMetaReply, StaleCopyHeldByAnother_IsZAndX_WithTheOldValue) {
  MetaReply r = parse_full_reply(captured::kStaleHeld);
  EXPECT_TRUE(r.flags.stale);
  EXPECT_TRUE(r.flags.win_sent);
  EXPECT_FALSE(r.flags.win);
  EXPECT_EQ(r.flags.client_flags, 7u);
  EXPECT_EQ(r.flags.ttl, 29);
  EXPECT_EQ(r.value, "hello");
}

TEST(LeaseMetaReply, StatusOnlyReplies_Parse) {
  EXPECT_EQ(parse_full_reply(captured::kMiss).status, MetaStatus::EN);
  EXPECT_EQ(parse_full_reply(captured::kCasMismatch).status, MetaStatus::EX);
  EXPECT_EQ(parse_full_reply(captured::kNotFound).status, MetaStatus::NF);
  EXPECT_EQ(parse_full_reply(captured::kStored).status, MetaStatus::HD);
  EXPECT_EQ(parse_full_reply("NS\r\n").status, MetaStatus::NS);
  EXPECT_EQ(parse_full_reply("MN\r\n").status, MetaStatus::MN);
  EXPECT_EQ(parse_full_reply("HD c9 Z\r\n").flags.cas, 9u);
}

TEST(LeaseMetaReply, Errors_KeepTheirMessage) {
  auto r = parse_meta_head("SERVER_ERROR out of memory storing object");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reply.status, MetaStatus::ServerError);
  EXPECT_EQ(r->reply.message, "out of memory storing object");
  EXPECT_EQ(parse_meta_head("CLIENT_ERROR bad command line format")->reply.status,
            MetaStatus::ClientError);
  EXPECT_EQ(parse_meta_head("ERROR")->reply.status, MetaStatus::Error);
}

TEST(LeaseMetaReply, UnknownFlags_AreSkipped) {
  auto r = parse_meta_head("VA 2 kfoo s2 Oabc b c5");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value_bytes, 2u);
  EXPECT_EQ(r->reply.flags.cas, 5u);
}

TEST(LeaseMetaReply, Garbage_IsRejected) {
  EXPECT_FALSE(parse_meta_head(""));
  EXPECT_FALSE(parse_meta_head("VALUE k 0 1"));
  EXPECT_FALSE(parse_meta_head("VA x"));
  EXPECT_FALSE(parse_meta_head("VA 1 cX"));
  EXPECT_FALSE(parse_meta_head("VA 1 f99999999999"));
}

}  // namespace
}  // namespace mccache::lease
