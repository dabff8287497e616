// KeyLeaseModel driven by a fake clock: the lease semantics mcproxy promises (docs/protocol.md).
#include "lease/key_lease_model.h"

#include <gtest/gtest.h>

#include "fake_clock.h"
#include "lease/lease_token.h"

namespace mccache::lease {
namespace {

using std::chrono::seconds;
using testing::FakeClock;

const BackendEpoch kEpoch = *BackendEpoch::from_tag(0x1111);
const BackendEpoch kNextEpoch = *BackendEpoch::from_tag(0x2222);

class LeaseKeyModel : public ::testing::Test {
 protected:
  FakeClock clock;
  KeyLeaseModel model{clock, LeaseSettings{.lease_ttl_s = 10, .stale_ttl_s = 5}, kEpoch};
};

TEST_F(LeaseKeyModel, FirstMiss_GetsALease_AndOthersHotMissUntilItIsSet) {
  ModelLeaseGet first = model.lease_get();
  EXPECT_EQ(first.kind, LeaseGetKind::LeaseGranted);
  EXPECT_GT(first.token, kHotMissToken);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(model.lease_get().kind, LeaseGetKind::HotMiss);
  EXPECT_EQ(model.lease_set(first.token, {"v", 3}), LeaseSetResult::Stored);
  ModelLeaseGet hit = model.lease_get();
  EXPECT_EQ(hit.kind, LeaseGetKind::Hit);
  EXPECT_EQ(hit.token, kHitToken);
  EXPECT_EQ(hit.value, (ModelValue{"v", 3}));
}

TEST_F(LeaseKeyModel, LeaseSet_IsRefused_AfterDeleteVoidsToken) {
  uint64_t token = model.lease_get().token;
  EXPECT_FALSE(model.remove(DeleteMode::Remove));  // a placeholder is no item: NOT_FOUND
  EXPECT_EQ(model.lease_set(token, {"old"}), LeaseSetResult::NotStored);
  EXPECT_FALSE(model.get());
}

TEST_F(LeaseKeyModel, LeaseSet_IsRefused_AfterInvalidateVoidsToken) {
  uint64_t token = model.lease_get().token;
  EXPECT_FALSE(model.remove(DeleteMode::Invalidate));
  EXPECT_EQ(model.lease_set(token, {"old"}), LeaseSetResult::NotStored);
  EXPECT_EQ(model.lease_get().kind, LeaseGetKind::LeaseGranted);  // a new lease for the refill
}

TEST_F(LeaseKeyModel, Invalidate_KeepsAStaleCopyForHotMisses_ForStaleTtl) {
  model.set({"v1", 1});
  EXPECT_TRUE(model.remove(DeleteMode::Invalidate));
  EXPECT_FALSE(model.get());  // a plain get never sees the stale copy
  ModelLeaseGet winner = model.lease_get();
  EXPECT_EQ(winner.kind, LeaseGetKind::LeaseGranted);
  EXPECT_EQ(winner.value, (ModelValue{"v1", 1}));
  ModelLeaseGet other = model.lease_get();
  EXPECT_EQ(other.kind, LeaseGetKind::HotMiss);
  EXPECT_TRUE(other.stale);
  EXPECT_EQ(other.value, (ModelValue{"v1", 1}));
  clock.advance(seconds(5));
  ModelLeaseGet after = model.lease_get();  // the stale copy (and its lease) ran out
  EXPECT_EQ(after.kind, LeaseGetKind::LeaseGranted);
  EXPECT_EQ(after.value, ModelValue{});
  EXPECT_EQ(model.lease_set(winner.token, {"late"}), LeaseSetResult::NotStored);
}

TEST_F(LeaseKeyModel, LeaseExpires_WhenTheHolderDies_AndTheNextMissGetsANewOne) {
  uint64_t dead = model.lease_get().token;
  clock.advance(seconds(9));
  EXPECT_EQ(model.lease_get().kind, LeaseGetKind::HotMiss);
  clock.advance(seconds(1));
  ModelLeaseGet next = model.lease_get();
  EXPECT_EQ(next.kind, LeaseGetKind::LeaseGranted);
  EXPECT_NE(next.token, dead);
  EXPECT_EQ(model.lease_set(dead, {"zombie"}), LeaseSetResult::NotStored);
  EXPECT_EQ(model.lease_set(next.token, {"v"}), LeaseSetResult::Stored);
}

TEST_F(LeaseKeyModel, LeaseSet_IsRefused_WithATokenFromBeforeARestart) {
  uint64_t before = model.lease_get().token;
  model.restart(kNextEpoch);
  ModelLeaseGet after = model.lease_get();
  // Same counter position (memcached's CAS restarts at 1), different epoch.
  EXPECT_EQ(LeaseToken::from_wire(after.token).cas(), LeaseToken::from_wire(before).cas());
  EXPECT_EQ(model.lease_set(before, {"old"}), LeaseSetResult::NotStored);
  EXPECT_EQ(model.lease_set(after.token, {"new"}), LeaseSetResult::Stored);
}

TEST_F(LeaseKeyModel, LeaseSet_IsRefused_ForSpecialTokensAndSecondUse) {
  uint64_t token = model.lease_get().token;
  EXPECT_EQ(model.lease_set(kHitToken, {"x"}), LeaseSetResult::NotStored);
  EXPECT_EQ(model.lease_set(kHotMissToken, {"x"}), LeaseSetResult::NotStored);
  EXPECT_EQ(model.lease_set(token, {"v"}), LeaseSetResult::Stored);
  EXPECT_EQ(model.lease_set(token, {"again"}), LeaseSetResult::NotStored);
  EXPECT_EQ(model.get(), (ModelValue{"v", 0}));
}

TEST_F(LeaseKeyModel, PlainSet_VoidsAnOutstandingLease) {
  uint64_t token = model.lease_get().token;
  model.set({"direct"});
  EXPECT_EQ(model.lease_set(token, {"lease"}), LeaseSetResult::NotStored);
  EXPECT_EQ(model.get(), (ModelValue{"direct", 0}));
}

TEST_F(LeaseKeyModel, SecondInvalidate_VoidsTheStaleLease_AndFreesTheWin) {
  model.set({"v"});
  model.remove(DeleteMode::Invalidate);
  uint64_t token = model.lease_get().token;
  model.remove(DeleteMode::Invalidate);
  EXPECT_EQ(model.lease_set(token, {"x"}), LeaseSetResult::NotStored);
  EXPECT_EQ(model.lease_get().kind, LeaseGetKind::LeaseGranted);
}

TEST_F(LeaseKeyModel, Delete_ReportsWhetherThereWasAnItem) {
  EXPECT_FALSE(model.remove(DeleteMode::Invalidate));
  EXPECT_FALSE(model.remove(DeleteMode::Remove));
  model.set({"v"});
  EXPECT_TRUE(model.remove(DeleteMode::Remove));
}

// memcached answers a second delete NOT_FOUND; the stale copy the first one left is no item.
TEST_F(LeaseKeyModel, SecondDelete_OfAnInvalidatedKey_FindsNothing_AsInMemcached) {
  model.set({"v"});
  EXPECT_TRUE(model.remove(DeleteMode::Invalidate));
  EXPECT_FALSE(model.remove(DeleteMode::Invalidate));
  EXPECT_FALSE(model.remove(DeleteMode::Remove));
}

TEST(LeaseKeyModelStaleTtlZero, Invalidate_ServesNoStaleCopy) {
  FakeClock clock;
  KeyLeaseModel model{clock, LeaseSettings{.lease_ttl_s = 10, .stale_ttl_s = 0}, kEpoch};
  model.set({"v"});
  EXPECT_TRUE(model.remove(DeleteMode::Invalidate));
  ModelLeaseGet r = model.lease_get();
  EXPECT_EQ(r.kind, LeaseGetKind::LeaseGranted);
  EXPECT_EQ(r.value, ModelValue{});
}

TEST_F(LeaseKeyModel, StoredValue_ExpiresWithItsExptime) {
  uint64_t token = model.lease_get().token;
  EXPECT_EQ(model.lease_set(token, {"v"}, 3), LeaseSetResult::Stored);
  clock.advance(seconds(2));
  EXPECT_TRUE(model.get());
  clock.advance(seconds(1));
  EXPECT_FALSE(model.get());
}

}  // namespace
}  // namespace mccache::lease
