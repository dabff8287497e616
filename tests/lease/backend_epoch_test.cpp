// BackendEpoch: identity from `stats`, stable per process, different per restart.
#include "lease/backend_epoch.h"

#include <gtest/gtest.h>

#include "captured_replies.h"

namespace mccache::lease {
namespace {

TEST(LeaseBackendEpoch, IdentityFromStats_IsPidAndTimeMinusUptime) {
  auto identity = identity_from_stats(testing::captured::kStats);
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->pid, 7895u);
  EXPECT_EQ(identity->started_at, 1795434159 - 5);
}

TEST(LeaseBackendEpoch, IdentityFromStats_IsStableAsUptimeGrows) {
  auto early = identity_from_stats("STAT pid 9\r\nSTAT uptime 5\r\nSTAT time 1005\r\nEND\r\n");
  auto later = identity_from_stats("STAT time 2000\r\nSTAT pid 9\r\nSTAT uptime 1000\r\n");
  ASSERT_TRUE(early && later);
  EXPECT_EQ(*early, *later);
}

TEST(LeaseBackendEpoch, IdentityFromStats_IsNullopt_WhenAFieldIsMissingOrGarbled) {
  EXPECT_FALSE(identity_from_stats("STAT pid 9\r\nSTAT uptime 5\r\nEND\r\n"));
  EXPECT_FALSE(identity_from_stats("STAT pid x9\r\nSTAT uptime 5\r\nSTAT time 10\r\n"));
  EXPECT_FALSE(identity_from_stats(""));
}

TEST(LeaseBackendEpoch, IsTheSameInEveryProxy_ForTheSameServerAndProcess) {
  BackendIdentity id{7895, 1795434154};
  EXPECT_EQ(BackendEpoch::of("10.0.0.1:11211", id), BackendEpoch::of("10.0.0.1:11211", id));
}

TEST(LeaseBackendEpoch, Differs_AcrossRestartsAndServers) {
  BackendIdentity id{7895, 1795434154};
  BackendEpoch base = BackendEpoch::of("10.0.0.1:11211", id);
  EXPECT_NE(base, BackendEpoch::of("10.0.0.1:11211", {7896, 1795434154}));
  EXPECT_NE(base, BackendEpoch::of("10.0.0.1:11211", {7895, 1795434155}));
  EXPECT_NE(base, BackendEpoch::of("10.0.0.2:11211", id));
}

TEST(LeaseBackendEpoch, NeverYieldsAReservedTag_OverManyIdentities) {
  for (uint64_t pid = 1; pid < 200000; ++pid) {
    uint16_t tag = BackendEpoch::of("s", {pid, 1'700'000'000}).tag();
    ASSERT_TRUE(BackendEpoch::from_tag(tag)) << pid;
  }
}

}  // namespace
}  // namespace mccache::lease
