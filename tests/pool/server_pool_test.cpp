// Server health, backoff, pool membership across reloads, and key placement.
#include "pool/server_pool.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "pool/placement.h"
#include "pool/server_health.h"

namespace mccache::pool {
namespace {

using std::chrono::milliseconds;

TEST(ServerHealth, GoesDown_OnlyAfterConsecutiveFailures) {
  ServerHealth h(3);
  EXPECT_FALSE(h.record_failure());
  EXPECT_FALSE(h.record_failure());
  EXPECT_FALSE(h.down());
  EXPECT_TRUE(h.record_failure());
  EXPECT_TRUE(h.down());
  EXPECT_FALSE(h.record_failure());  // already down: reported once
}

TEST(ServerHealth, SuccessResetsTheCount) {
  ServerHealth h(2);
  h.record_failure();
  EXPECT_FALSE(h.record_success());
  EXPECT_FALSE(h.record_failure());
  EXPECT_FALSE(h.down());
}

TEST(ServerHealth, SuccessBringsADownServerBack) {
  ServerHealth h(1);
  EXPECT_TRUE(h.record_failure());
  EXPECT_TRUE(h.record_success());
  EXPECT_FALSE(h.down());
  EXPECT_FALSE(h.record_success());
}

TEST(Backoff, DoublesUpToTheMaximum_AndIsExhaustedThere) {
  Backoff b(milliseconds(100), milliseconds(500));
  EXPECT_EQ(b.next(), milliseconds(100));
  EXPECT_FALSE(b.exhausted());
  EXPECT_EQ(b.next(), milliseconds(200));
  EXPECT_EQ(b.next(), milliseconds(400));
  EXPECT_TRUE(b.exhausted());
  EXPECT_EQ(b.next(), milliseconds(500));
  EXPECT_EQ(b.next(), milliseconds(500));
  b.reset();
  EXPECT_EQ(b.next(), milliseconds(100));
}

TEST(Backoff, Climb_IsTheWaitsBeforeTheFirstMaximumOne) {
  EXPECT_EQ(Backoff(milliseconds(100), milliseconds(500)).climb(), milliseconds(100 + 200 + 400));
  EXPECT_EQ(Backoff(milliseconds(100), milliseconds(400)).climb(), milliseconds(100 + 200));
  EXPECT_EQ(Backoff(milliseconds(500), milliseconds(500)).climb(), milliseconds(0));
}

const std::vector<config::HostPort> kThree{
    {"127.0.0.1", 11211}, {"127.0.0.1", 11212}, {"127.0.0.1", 11213}};
const std::vector<config::HostPort> kGutter{{"127.0.0.1", 11311}, {"127.0.0.1", 11312}};

TEST(Placement, PlacesEveryKeyOnAServer_AndSpreadsThem) {
  config::PoolConfig pc;
  pc.servers = kThree;
  Placement placement(pc);
  EXPECT_FALSE(placement.has_gutter());
  std::array<int, 3> count{};
  for (int i = 0; i < 3000; ++i) {
    size_t s = placement.server_for("key:" + std::to_string(i));
    ASSERT_LT(s, 3u);
    ++count[s];
    EXPECT_EQ(placement.server_for("key:" + std::to_string(i)), s);
  }
  for (int c : count) EXPECT_GT(c, 500);
}

TEST(Placement, IsLibmemcachedsKetama_OverEachPool) {
  Placement placement(kThree, kGutter, HashMode::kKetama);
  KetamaRing pool(kThree), gutter(kGutter);
  for (int i = 0; i < 200; ++i) {
    std::string k = "key:" + std::to_string(i);
    EXPECT_EQ(placement.server_for(k), pool.server_for(k));
    EXPECT_EQ(placement.gutter_for(k), gutter.server_for(k));
  }
}

TEST(Placement, RoutesToTheGutter_OnlyWhileTheKeysServerIsDown) {
  Placement placement(kThree, kGutter, HashMode::kKetama);
  std::array<bool, 3> down{false, true, false};
  auto is_down = [&](size_t s) { return down[s]; };
  int to_gutter = 0;
  for (int i = 0; i < 300; ++i) {
    std::string k = "key:" + std::to_string(i);
    Target t = placement.route(k, is_down);
    if (placement.server_for(k) == 1) {
      EXPECT_EQ(t, (Target{placement.gutter_for(k), true})) << k;
      ++to_gutter;
    } else {
      EXPECT_EQ(t, (Target{placement.server_for(k), false})) << k;
    }
  }
  EXPECT_GT(to_gutter, 0);
  // Without a gutter a down server's keys stay where they are (never rehashed over the pool).
  Placement no_gutter(kThree, {}, HashMode::kKetama);
  for (int i = 0; i < 300; ++i) {
    std::string k = "key:" + std::to_string(i);
    EXPECT_EQ(no_gutter.route(k, is_down), (Target{no_gutter.server_for(k), false}));
  }
}

TEST(ServerPool, Rebuilt_KeepsTheHealthOfServersItStillLists) {
  std::vector<config::HostPort> before{{"127.0.0.1", 11211}, {"127.0.0.1", 11212}};
  ServerPool old(before, 1);
  old.health(1).record_failure();
  ASSERT_TRUE(old.health(1).down());
  std::vector<config::HostPort> after{{"127.0.0.1", 11212}, {"127.0.0.1", 11213}};
  ServerPool next(after, 1, {&old});
  EXPECT_TRUE(next.health(0).down());  // 11212 stays down until a probe succeeds
  EXPECT_FALSE(next.health(1).down());
  EXPECT_EQ(next.shared(0), old.shared(1));
  EXPECT_EQ(next.find("127.0.0.1:11211"), nullptr);
  EXPECT_EQ(next.name(1), "127.0.0.1:11213");
}

}  // namespace
}  // namespace mccache::pool
