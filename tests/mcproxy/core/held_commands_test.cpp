// add/replace/append/prepend/incr/decr wait behind a presence probe: memcached acts on a stale
// copy (or a lease placeholder) as on a live item, so the proxy drops it first and memcached then
// answers as for a missing key. Requests after a held one wait too, so a pipelined client's
// requests still reach memcached in its order.
#include <gtest/gtest.h>

#include <string>

#include "core_shell.h"
#include "tests/lease/captured_replies.h"

namespace mccache::core {
namespace {

using testing::CoreShell;
namespace captured = lease::testing::captured;

Settings settings() {
  Settings s;
  s.leases = lease::LeaseSettings{.lease_ttl_s = 10, .stale_ttl_s = 5};
  return s;
}

TEST(HeldCommands, Incr_OfALiveItem_GoesOutAfterItsProbe_AndWhatFollowsWaitsBehindIt) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings());
  shell.send("incr k4 1\r\nget k4\r\nset j 0 0 1\r\nv\r\n");
  EXPECT_EQ(shell.take_written(0), "mg k4 s c t k\r\n");
  EXPECT_EQ(shell.take_output(), "");
  shell.answer(0, captured::kProbeLive);
  EXPECT_EQ(shell.take_written(0), "incr k4 1\r\nmg k4 v f c t k\r\nset j 0 0 1\r\nv\r\n");
  shell.answer(0, "6\r\nVA 1 f0 c5 t-1 kk4\r\n6\r\nSTORED\r\n");
  EXPECT_EQ(shell.take_output(), "6\r\nVALUE k4 0 1\r\n6\r\nEND\r\nSTORED\r\n");
  EXPECT_EQ(shell.channel_of(0).outstanding(), 0u);
}

TEST(HeldCommands, Add_OfAStaleCopy_DropsItFirst_SoMemcachedStoresAsForAMissingKey) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings());
  shell.send("add k4 0 0 1\r\nv\r\n");
  EXPECT_EQ(shell.take_written(0), "mg k4 s c t k\r\n");
  shell.answer(0, captured::kProbeStaleWin);
  // C2: only the stale copy the probe saw; a value stored meanwhile stays.
  EXPECT_EQ(shell.take_written(0), "md k4 C2\r\nadd k4 0 0 1\r\nv\r\n");
  shell.answer(0, "HD\r\nSTORED\r\n");
  EXPECT_EQ(shell.take_output(), "STORED\r\n");
  EXPECT_EQ(shell.channel_of(0).outstanding(), 0u);
}

TEST(HeldCommands, AppendToAPlaceholder_DropsIt_AndAMissGoesStraightOn) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings());
  shell.send("append k6 0 0 1\r\nx\r\nincr k5 1 noreply\r\n");
  EXPECT_EQ(shell.take_written(0), "mg k6 s c t k\r\n");
  shell.answer(0, captured::kProbePlaceholder);
  EXPECT_EQ(shell.take_written(0), "md k6 C3\r\nappend k6 0 0 1\r\nx\r\nmg k5 s c t k\r\n");
  shell.answer(0, "HD\r\nNOT_STORED\r\n");
  EXPECT_EQ(shell.take_output(), "NOT_STORED\r\n");
  shell.answer(0, captured::kProbeMiss);
  EXPECT_EQ(shell.take_written(0), "incr k5 1\r\n");
  shell.answer(0, "NOT_FOUND\r\n");
  EXPECT_EQ(shell.take_output(), "");  // noreply
  EXPECT_EQ(shell.channel_of(0).outstanding(), 0u);
}

TEST(HeldCommands, TwoHeldCommands_EachWaitsForItsOwnProbe) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings());
  shell.send("incr a 1\r\ndecr b 1\r\nget c\r\n");
  EXPECT_EQ(shell.take_written(0), "mg a s c t k\r\n");
  shell.answer(0, "HD s1 c1 t-1 ka\r\n");
  EXPECT_EQ(shell.take_written(0), "incr a 1\r\nmg b s c t k\r\n");
  shell.answer(0, "2\r\n");
  EXPECT_EQ(shell.take_written(0), "");
  shell.answer(0, "HD s1 c2 t-1 kb\r\n");
  EXPECT_EQ(shell.take_written(0), "decr b 1\r\nmg c v f c t k\r\n");
  shell.answer(0, "0\r\nEN kc\r\n");
  EXPECT_EQ(shell.take_output(), "2\r\n0\r\nEND\r\n");
}

TEST(HeldCommands, ConnectionFailingDuringAHold_FailsWhatWaitsBehindIt_InOrder) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings());
  shell.send("incr a 1\r\nget c\r\n");
  shell.take_written(0);
  shell.fail(0, "backend 127.0.0.1:11211 connection closed");
  const std::string error = "SERVER_ERROR backend 127.0.0.1:11211 connection closed\r\n";
  EXPECT_EQ(shell.take_output(), error + error);
  EXPECT_EQ(shell.session(0).backend_requests(), 0u);
  shell.send("incr a 1\r\n");  // no hold is left over
  EXPECT_EQ(shell.take_written(0), "mg a s c t k\r\n");
}

}  // namespace
}  // namespace mccache::core
