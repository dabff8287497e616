// classify_lease_get and the LVALUE/VALUE bytes, from captured memcached 1.6.18 replies.
#include "lease/lease_get.h"

#include <gtest/gtest.h>

#include "captured_replies.h"
#include "lease/client_reply.h"
#include "lease/lease_token.h"
#include "meta_reply_parse.h"

namespace mccache::lease {
namespace {

using testing::parse_full_reply;
namespace captured = testing::captured;

const BackendEpoch kEpoch = *BackendEpoch::from_tag(0x1234);

std::string reply_for(std::string_view backend_reply) {
  std::string out;
  append_lease_get_reply(out, "k1", classify_lease_get(parse_full_reply(backend_reply), kEpoch));
  return out;
}

TEST(LeaseGet, Hit_IsAPlainValueReply) {
  LeaseGetOutcome o = classify_lease_get(parse_full_reply(captured::kHit), kEpoch);
  EXPECT_EQ(o.kind, LeaseGetKind::Hit);
  EXPECT_EQ(o.token, kHitToken);
  EXPECT_EQ(reply_for(captured::kHit), "VALUE k1 7 5\r\nhello\r\nEND\r\n");
}

TEST(LeaseGet, WinOnAMiss_GrantsALeaseCarryingThePlaceholderCas) {
  LeaseGetOutcome o = classify_lease_get(parse_full_reply(captured::kVivifiedWin), kEpoch);
  ASSERT_EQ(o.kind, LeaseGetKind::LeaseGranted);
  EXPECT_EQ(o.token, LeaseToken::issue(kEpoch, 1)->wire());
  EXPECT_EQ(reply_for(captured::kVivifiedWin),
            "LVALUE k1 " + std::to_string(o.token) + " 0 0\r\n\r\nEND\r\n");
}

TEST(LeaseGet, HeldPlaceholder_IsAHotMissWithToken1AndNoValue) {
  EXPECT_EQ(reply_for(captured::kPlaceholderHeld), "LVALUE k1 1 0 0\r\n\r\nEND\r\n");
}

TEST(LeaseGet, WinOnAStaleCopy_GrantsALeaseAndServesTheStaleValue) {
  LeaseGetOutcome o = classify_lease_get(parse_full_reply(captured::kStaleWin), kEpoch);
  ASSERT_EQ(o.kind, LeaseGetKind::LeaseGranted);
  EXPECT_TRUE(o.stale);
  EXPECT_EQ(LeaseToken::from_wire(o.token).cas(), 3u);
  EXPECT_EQ(reply_for(captured::kStaleWin),
            "LVALUE k1 " + std::to_string(o.token) + " 7 5\r\nhello\r\nEND\r\n");
}

TEST(LeaseGet, StaleCopyHeldByAnother_IsAHotMissWithTheStaleValue) {
  EXPECT_EQ(reply_for(captured::kStaleHeld), "LVALUE k1 1 7 5\r\nhello\r\nEND\r\n");
}

TEST(LeaseGet, VivifyFailure_IsAHotMiss_SoTheClientBacksOff) {
  EXPECT_EQ(reply_for(captured::kMiss), "LVALUE k1 1 0 0\r\n\r\nEND\r\n");
}

TEST(LeaseGet, CasTooWideForAToken_IsAHotMiss) {
  EXPECT_EQ(reply_for("VA 0 f0 c281474976710656 t-1 W\r\n\r\n"), "LVALUE k1 1 0 0\r\n\r\nEND\r\n");
}

TEST(LeaseGet, FreshItemAmidAnotherClientsRecache_IsAHit) {
  EXPECT_EQ(reply_for("VA 2 f0 c5 t3 Z\r\nok\r\n"), "VALUE k1 0 2\r\nok\r\nEND\r\n");
}

TEST(LeaseGet, BackendErrors_BecomeServerError) {
  EXPECT_EQ(reply_for("SERVER_ERROR out of memory\r\n"), "SERVER_ERROR out of memory\r\n");
  EXPECT_EQ(reply_for("NF\r\n"), "SERVER_ERROR unexpected backend reply to lease-get\r\n");
}

TEST(LeaseGet, MultiKeyReply_IsBlocksThenOneEnd) {
  std::string out;
  append_lease_get_block(out, "a", classify_lease_get(parse_full_reply(captured::kHit), kEpoch));
  append_lease_get_block(out, "b",
                         classify_lease_get(parse_full_reply(captured::kPlaceholderHeld), kEpoch));
  out.append(kEnd);
  EXPECT_EQ(out, "VALUE a 7 5\r\nhello\r\nLVALUE b 1 0 0\r\n\r\nEND\r\n");
}

}  // namespace
}  // namespace mccache::lease
