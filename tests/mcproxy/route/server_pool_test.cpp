// Server health transitions and pool placement.
#include "mcproxy/route/server_pool.h"

#include <gtest/gtest.h>

namespace mccache::route {
namespace {

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

TEST(ServerPool, PlacesEveryKeyOnAServer_AndSpreadsThem) {
  config::PoolConfig pc;
  pc.servers = {{"127.0.0.1", 11211}, {"127.0.0.1", 11212}, {"127.0.0.1", 11213}};
  ServerPool pool(pc, 3);
  std::array<int, 3> count{};
  for (int i = 0; i < 3000; ++i) {
    size_t s = pool.server_for("key:" + std::to_string(i));
    ASSERT_LT(s, 3u);
    ++count[s];
    EXPECT_EQ(pool.server_for("key:" + std::to_string(i)), s);
  }
  for (int c : count) EXPECT_GT(c, 500);
  EXPECT_EQ(pool.name(1), "127.0.0.1:11212");
}

TEST(ServerPool, Rebuilt_KeepsTheHealthOfServersItStillLists) {
  std::vector<config::HostPort> before{{"127.0.0.1", 11211}, {"127.0.0.1", 11212}};
  ServerPool old(before, HashMode::kKetama, 1);
  old.health(1).record_failure();
  ASSERT_TRUE(old.health(1).down());
  std::vector<config::HostPort> after{{"127.0.0.1", 11212}, {"127.0.0.1", 11213}};
  ServerPool next(after, HashMode::kKetama, 1, {&old});
  EXPECT_TRUE(next.health(0).down());  // 11212 stays down until a probe succeeds
  EXPECT_FALSE(next.health(1).down());
  EXPECT_EQ(next.shared(0), old.shared(1));
  EXPECT_EQ(next.find("127.0.0.1:11211"), nullptr);
}

}  // namespace
}  // namespace mccache::route
