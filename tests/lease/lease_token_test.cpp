// LeaseToken codec: never a special value, injective per epoch, epoch-checked.
#include "lease/lease_token.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace mccache::lease {
namespace {

BackendEpoch epoch_of(uint64_t pid, int64_t started = 1'700'000'000) {
  return BackendEpoch::of("127.0.0.1:11211", {pid, started});
}

TEST(LeaseToken, IsNeverASpecialValue_ForEveryEpochTagAndEdgeCas) {
  const uint64_t cases[] = {1, 2, 0xb00c00000000ULL, 0xb00cffffffffULL, kMaxEncodableCas};
  for (uint32_t tag = 0; tag <= 0xffff; ++tag) {
    auto epoch = BackendEpoch::from_tag(static_cast<uint16_t>(tag));
    if (!epoch) continue;
    for (uint64_t cas : cases) {
      auto token = LeaseToken::issue(*epoch, cas);
      ASSERT_TRUE(token);
      EXPECT_FALSE(is_special_token(token->wire())) << tag << " " << cas;
      EXPECT_GT(token->wire(), kHotMissToken);
    }
  }
}

TEST(LeaseToken, ReservedTags_AreRefused) {
  EXPECT_FALSE(BackendEpoch::from_tag(0));
  EXPECT_FALSE(BackendEpoch::from_tag(0x7ace));  // mcrouter's 0x7aceb00c routed tokens
  EXPECT_FALSE(BackendEpoch::from_tag(0xffff));  // -1
  EXPECT_TRUE(BackendEpoch::from_tag(0x1234));
}

TEST(LeaseToken, DifferentCasUnderOneEpoch_NeverCollide) {
  BackendEpoch epoch = epoch_of(1);
  std::set<uint64_t> seen;
  for (uint64_t cas = 1; cas <= 100000; ++cas) {
    ASSERT_TRUE(seen.insert(LeaseToken::issue(epoch, cas)->wire()).second);
  }
}

TEST(LeaseToken, DecodesBackToItsCas_UnderTheSameEpoch) {
  BackendEpoch epoch = epoch_of(1);
  auto token = LeaseToken::issue(epoch, 123456789);
  LeaseToken back = LeaseToken::from_wire(token->wire());
  EXPECT_EQ(back.check(epoch), TokenVerdict::Valid);
  EXPECT_EQ(back.cas(), 123456789u);
}

TEST(LeaseToken, IsForeign_AfterTheBackendRestarts) {
  BackendEpoch before = epoch_of(100, 1'700'000'000);
  BackendEpoch after = epoch_of(100, 1'700'000'900);  // same pid, new start time
  ASSERT_NE(before, after);
  auto token = LeaseToken::issue(before, 1);  // CAS restarts at 1, so the CAS alone collides
  EXPECT_EQ(token->check(after), TokenVerdict::ForeignEpoch);
}

TEST(LeaseToken, ZeroAndOne_AreSpecial_NotLeases) {
  BackendEpoch epoch = epoch_of(1);
  EXPECT_EQ(LeaseToken::from_wire(kHitToken).check(epoch), TokenVerdict::Special);
  EXPECT_EQ(LeaseToken::from_wire(kHotMissToken).check(epoch), TokenVerdict::Special);
}

TEST(LeaseToken, TokensWeCouldNotHaveIssued_AreMalformed) {
  BackendEpoch epoch = epoch_of(1);
  EXPECT_EQ(LeaseToken::from_wire(uint64_t{epoch.tag()} << kCasBits).check(epoch),
            TokenVerdict::Malformed);                                         // cas 0
  EXPECT_EQ(LeaseToken::from_wire(2).check(epoch), TokenVerdict::Malformed);  // tag 0
  EXPECT_EQ(LeaseToken::from_wire(kMcrouterMagic | 5).check(epoch), TokenVerdict::Malformed);
  EXPECT_EQ(LeaseToken::from_wire(~uint64_t{0}).check(epoch), TokenVerdict::Malformed);
}

TEST(LeaseToken, CannotBeIssued_ForCasZeroOrWiderThan48Bits) {
  BackendEpoch epoch = epoch_of(1);
  EXPECT_FALSE(LeaseToken::issue(epoch, 0));
  EXPECT_FALSE(LeaseToken::issue(epoch, kMaxEncodableCas + 1));
  EXPECT_TRUE(LeaseToken::issue(epoch, kMaxEncodableCas));
}

}  // namespace
}  // namespace mccache::lease
