// Forwarded requests: rebuilt from the parsed form, noreply/q dropped, and for the gutter pool,
// memcached's expiry rules and the rewritten lines.
#include "mcproxy/core/forwarded_line.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "mcproxy/protocol/request_parser.h"

namespace mccache::core {
namespace {

constexpr int64_t kNow = 1'800'000'000;  // an absolute unix time, well above 30 days

// What mcproxy sends for the one request in `client` (asserted to parse), optionally capped.
std::string forwarded(const std::string& client, std::optional<GutterCap> cap = std::nullopt) {
  protocol::RequestParser parser;
  protocol::Request r;
  auto step = parser.next(client, r);
  EXPECT_EQ(step.status, protocol::RequestParser::Status::kRequest) << client;
  EXPECT_EQ(step.consumed, client.size()) << client;
  std::string out;
  append_forwarded_request(out, r, cap);
  return out;
}

std::optional<GutterCap> gutter(uint32_t ttl) { return GutterCap{ttl, kNow}; }

TEST(GutterExptime, NeverExpiring_BecomesTtl) { EXPECT_EQ(gutter_exptime(0, 10, kNow), 10); }

TEST(GutterExptime, RelativeSeconds_AreCapped) {
  EXPECT_EQ(gutter_exptime(5, 10, kNow), 5);
  EXPECT_EQ(gutter_exptime(10, 10, kNow), 10);
  EXPECT_EQ(gutter_exptime(3600, 10, kNow), 10);
  EXPECT_EQ(gutter_exptime(kMaxRelativeExptime, 10, kNow), 10);
}

TEST(GutterExptime, AbsoluteTime_BecomesSecondsLeft_Capped) {
  EXPECT_EQ(gutter_exptime(kNow + 3, 10, kNow), 3);
  EXPECT_EQ(gutter_exptime(kNow + 86400, 10, kNow), 10);
  // 30 days + 1 is an absolute time long past: memcached expires it at once; so do we.
  EXPECT_EQ(gutter_exptime(kMaxRelativeExptime + 1, 10, kNow), kMaxRelativeExptime + 1);
  EXPECT_EQ(gutter_exptime(kNow, 10, kNow), kNow);
}

TEST(GutterExptime, AlreadyExpired_StaysExpired) { EXPECT_EQ(gutter_exptime(-1, 10, kNow), -1); }

TEST(ForwardedRequest, NoreplyAndQ_AreDropped_ButNeverTheCommandOrTheKey) {
  EXPECT_EQ(forwarded("set k 0 0 1 noreply\r\nv\r\n"), "set k 0 0 1\r\nv\r\n");
  EXPECT_EQ(forwarded("mg  q v q  k\r\n"), "mg q v k\r\n");
  EXPECT_EQ(forwarded("incr noreply 1\r\n"), "incr noreply 1\r\n");
  EXPECT_EQ(forwarded("set noreply 0 4 1\r\nx\r\n"), "set noreply 0 4 1\r\nx\r\n");
}

// memcached reads any flag token starting with q as quiet; none reaches it.
TEST(ForwardedRequest, EveryQuietToken_IsDropped) {
  EXPECT_EQ(forwarded("mg nokey q1 v\r\n"), "mg nokey v\r\n");
  EXPECT_EQ(forwarded("mg nokey qq v\r\n"), "mg nokey v\r\n");
  EXPECT_EQ(forwarded("ms k 1 quiet T5\r\nx\r\n"), "ms k 1 T5\r\nx\r\n");
  EXPECT_EQ(forwarded("ma k qx D2\r\n"), "ma k D2\r\n");
}

// The line is written from the parsed numbers and tokens, not copied: runs of spaces, a bare
// "\n" and leading zeros do not reach memcached.
TEST(ForwardedRequest, IsRebuiltFromTheParsedForm) {
  EXPECT_EQ(forwarded("set   k  007 0  3\nabc\r\n"), "set k 7 0 3\r\nabc\r\n");
  EXPECT_EQ(forwarded("cas k 1 -1 2 0099\r\nab\r\n"), "cas k 1 -1 2 99\r\nab\r\n");
  EXPECT_EQ(forwarded("append k 0 0 1\r\nx\r\n"), "append k 0 0 1\r\nx\r\n");
  EXPECT_EQ(forwarded("decr k 01\r\n"), "decr k 1\r\n");
  EXPECT_EQ(forwarded("touch k 10 noreply\r\n"), "touch k 10\r\n");
  EXPECT_EQ(forwarded("ms  k  3   T1 F2\r\nabc\r\n"), "ms k 3 T1 F2\r\nabc\r\n");
  EXPECT_EQ(forwarded("md k\r\n"), "md k\r\n");
  EXPECT_EQ(forwarded("me k b\r\n"), "me k b\r\n");
}

// memcached answers nothing to `flush_all noreply`; the backend gets the form that answers.
TEST(ForwardedRequest, AdminCommands_AreSentInTheirAnsweringForm) {
  EXPECT_EQ(forwarded("flush_all noreply\r\n"), "flush_all\r\n");
  EXPECT_EQ(forwarded("flush_all\r\n"), "flush_all\r\n");
  EXPECT_EQ(forwarded("flush_all 30 noreply\r\n"), "flush_all 30\r\n");
  EXPECT_EQ(forwarded("verbosity 1 noreply\r\n"), "verbosity 1\r\n");
}

TEST(GutterText, SetLine_HasItsExptimeCapped_AndNoreplyDropped) {
  EXPECT_EQ(forwarded("set k 5 0 3 noreply\r\nabc\r\n", gutter(10)), "set k 5 10 3\r\nabc\r\n");
  EXPECT_EQ(forwarded("cas k 0 3600 2 77\r\nab\r\n", gutter(10)), "cas k 0 10 2 77\r\nab\r\n");
  EXPECT_EQ(forwarded("touch k 0\r\n", gutter(7)), "touch k 7\r\n");
}

TEST(GutterText, KeyNamedNoreply_IsKept) {
  EXPECT_EQ(forwarded("set noreply 0 4 1\r\nx\r\n", gutter(10)), "set noreply 0 4 1\r\nx\r\n");
}

TEST(GutterMeta, MsWithoutTtl_GetsOne) {
  EXPECT_EQ(forwarded("ms k 2 F5\r\nab\r\n", gutter(10)), "ms k 2 F5 T10\r\nab\r\n");
}

TEST(GutterMeta, TtlAndVivifyFlags_AreCapped_QuietDropped) {
  EXPECT_EQ(forwarded("ms k 2 T0 q\r\nab\r\n", gutter(10)), "ms k 2 T10\r\nab\r\n");
  EXPECT_EQ(forwarded("mg k v N30 T5 t\r\n", gutter(10)), "mg k v N10 T5 t\r\n");
  EXPECT_EQ(forwarded("md k I T600 q\r\n", gutter(10)), "md k I T10\r\n");
  // A key spelled like a flag is the key, not a flag.
  EXPECT_EQ(forwarded("mg T99 v\r\n", gutter(10)), "mg T99 v\r\n");
}

}  // namespace
}  // namespace mccache::core
