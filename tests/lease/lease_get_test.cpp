// classify_lease_get over captured memcached 1.6.18 replies (the client bytes: the core's,
// tests/mcproxy/core/reply_translate_test.cpp).
#include "lease/lease_get.h"

#include <gtest/gtest.h>

#include "captured_replies.h"
#include "lease/lease_token.h"
#include "meta_reply_parse.h"

namespace mccache::lease {
namespace {

using testing::parse_full_reply;
namespace captured = testing::captured;

const BackendEpoch kEpoch = *BackendEpoch::from_tag(0x1234);

LeaseGetOutcome classify(std::string_view backend_reply) {
  return classify_lease_get(parse_full_reply(backend_reply), kEpoch);
}

TEST(LeaseGet, Hit_HasToken0AndTheValue) {
  LeaseGetOutcome o = classify(captured::kHit);
  EXPECT_EQ(o.kind, LeaseGetKind::Hit);
  EXPECT_EQ(o.token, kHitToken);
  EXPECT_EQ(o.value, "hello");
  EXPECT_EQ(o.client_flags, 7u);
}

TEST(LeaseGet, WinOnAMiss_GrantsALeaseCarryingThePlaceholderCas) {
  LeaseGetOutcome o = classify(captured::kVivifiedWin);
  ASSERT_EQ(o.kind, LeaseGetKind::LeaseGranted);
  EXPECT_EQ(o.token, LeaseToken::issue(kEpoch, 1)->wire());
  EXPECT_EQ(o.value, "");
}

TEST(LeaseGet, HeldPlaceholder_IsAHotMissWithToken1AndNoValue) {
  LeaseGetOutcome o = classify(captured::kPlaceholderHeld);
  EXPECT_EQ(o.kind, LeaseGetKind::HotMiss);
  EXPECT_EQ(o.token, kHotMissToken);
  EXPECT_EQ(o.value, "");
}

TEST(LeaseGet, WinOnAStaleCopy_GrantsALeaseAndServesTheStaleValue) {
  LeaseGetOutcome o = classify(captured::kStaleWin);
  ASSERT_EQ(o.kind, LeaseGetKind::LeaseGranted);
  EXPECT_TRUE(o.stale);
  EXPECT_EQ(LeaseToken::from_wire(o.token).cas(), 3u);
  EXPECT_EQ(o.value, "hello");
}

TEST(LeaseGet, StaleCopyHeldByAnother_IsAHotMissWithTheStaleValue) {
  LeaseGetOutcome o = classify(captured::kStaleHeld);
  EXPECT_EQ(o.kind, LeaseGetKind::HotMiss);
  EXPECT_TRUE(o.stale);
  EXPECT_EQ(o.value, "hello");
}

TEST(LeaseGet, VivifyFailure_IsAHotMiss_SoTheClientBacksOff) {
  EXPECT_EQ(classify(captured::kMiss).kind, LeaseGetKind::HotMiss);
}

TEST(LeaseGet, CasTooWideForAToken_IsAHotMiss) {
  EXPECT_EQ(classify("VA 0 f0 c281474976710656 t-1 W\r\n\r\n").kind, LeaseGetKind::HotMiss);
}

TEST(LeaseGet, FreshItemAmidAnotherClientsRecache_IsAHit) {
  LeaseGetOutcome o = classify("VA 2 f0 c5 t3 Z\r\nok\r\n");
  EXPECT_EQ(o.kind, LeaseGetKind::Hit);
  EXPECT_EQ(o.value, "ok");
}

TEST(LeaseGet, BackendErrors_AreReportedWithTheirMessage) {
  EXPECT_EQ(classify("SERVER_ERROR out of memory\r\n").error, "out of memory");
  LeaseGetOutcome o = classify("NF\r\n");
  EXPECT_EQ(o.kind, LeaseGetKind::BackendError);
  EXPECT_EQ(o.error, "unexpected backend reply to lease-get");
}

}  // namespace
}  // namespace mccache::lease
