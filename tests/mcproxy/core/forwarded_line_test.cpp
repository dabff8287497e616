// Forwarded command lines: noreply/q dropped, and for the gutter pool, memcached's expiry rules
// and the rewritten lines.
#include "mcproxy/core/forwarded_line.h"

#include <gtest/gtest.h>

#include <string>

namespace mccache::core {
namespace {

constexpr int64_t kNow = 1'800'000'000;  // an absolute unix time, well above 30 days

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

TEST(ForwardedLine, NoreplyAndQ_AreDropped_ButNeverTheCommandOrTheKey) {
  std::string out;
  append_line_without(out, "set k 0 0 1 noreply", "noreply");
  append_line_without(out, "mg  q v q  k", "q");
  append_line_without(out, "incr noreply 1", "noreply");
  EXPECT_EQ(out, "set k 0 0 1\r\nmg q v k\r\nincr noreply 1\r\n");
}

TEST(GutterText, SetLine_HasItsExptimeCapped_AndNoreplyDropped) {
  std::string out = "prefix\r\n";
  append_text_for_gutter(out, "set k 5 0 3 noreply", 3, true, 10, kNow);
  EXPECT_EQ(out, "prefix\r\nset k 5 10 3\r\n");
  out.clear();
  append_text_for_gutter(out, "cas k 0 3600 2 77", 3, false, 10, kNow);
  EXPECT_EQ(out, "cas k 0 10 2 77\r\n");
  out.clear();
  append_text_for_gutter(out, "touch k 0", 2, false, 7, kNow);
  EXPECT_EQ(out, "touch k 7\r\n");
}

TEST(GutterText, KeyNamedNoreply_IsKept) {
  std::string out;
  append_text_for_gutter(out, "set noreply 0 4 1", 3, false, 10, kNow);
  EXPECT_EQ(out, "set noreply 0 4 1\r\n");
}

TEST(GutterMeta, MsWithoutTtl_GetsOne) {
  std::string out;
  append_meta_for_gutter(out, "ms k 2 F5", true, false, 10, kNow);
  EXPECT_EQ(out, "ms k 2 F5 T10\r\n");
}

TEST(GutterMeta, TtlAndVivifyFlags_AreCapped_QuietDropped) {
  std::string out;
  append_meta_for_gutter(out, "ms k 2 T0 q", true, true, 10, kNow);
  EXPECT_EQ(out, "ms k 2 T10\r\n");
  out.clear();
  append_meta_for_gutter(out, "mg k v N30 T5 t", false, false, 10, kNow);
  EXPECT_EQ(out, "mg k v N10 T5 t\r\n");
  out.clear();
  append_meta_for_gutter(out, "md k I T600 q", false, true, 10, kNow);
  EXPECT_EQ(out, "md k I T10\r\n");
  out.clear();
  // A key spelled like a flag is the key, not a flag.
  append_meta_for_gutter(out, "mg T99 v", false, false, 10, kNow);
  EXPECT_EQ(out, "mg T99 v\r\n");
}

}  // namespace
}  // namespace mccache::core
