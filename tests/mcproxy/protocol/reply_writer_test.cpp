// Text replies built from meta replies: hits, misses, and the stale/placeholder rules that keep
// invalidated values and lease placeholders out of plain gets.
#include "mcproxy/protocol/reply_writer.h"

#include <gtest/gtest.h>

namespace mccache::protocol {
namespace {

Reply parse(const std::string& bytes) {
  static std::string keep;
  keep = bytes;
  Reply r;
  ReplyParser().next(keep, r);
  return r;
}

TEST(MetaGetTranslation, Hit_BecomesValueBlock) {
  std::string out;
  auto t = translate_meta_get(parse("VA 2 f7 c42 kfoo\r\nhi\r\n"), "foo", false, out);
  EXPECT_EQ(t.result, GetResult::kHit);
  EXPECT_EQ(out, "VALUE foo 7 2\r\nhi\r\n");
}

TEST(MetaGetTranslation, Gets_AddsCas) {
  std::string out;
  translate_meta_get(parse("VA 2 f7 c42 kfoo\r\nhi\r\n"), "foo", true, out);
  EXPECT_EQ(out, "VALUE foo 7 2 42\r\nhi\r\n");
}

TEST(MetaGetTranslation, Miss_WritesNothing) {
  std::string out;
  EXPECT_EQ(translate_meta_get(parse("EN\r\n"), "foo", false, out).result, GetResult::kMiss);
  EXPECT_EQ(out, "");
}

TEST(MetaGetTranslation, StaleItem_IsAMiss) {
  std::string out;
  auto t = translate_meta_get(parse("VA 2 f0 c1 kfoo X Z\r\nhi\r\n"), "foo", false, out);
  EXPECT_EQ(t.result, GetResult::kMiss);
  EXPECT_FALSE(t.give_back_win);
  EXPECT_EQ(out, "");
}

TEST(MetaGetTranslation, LeasePlaceholder_IsAMiss) {
  std::string out;
  auto t = translate_meta_get(parse("VA 0 f0 c1 kfoo Z\r\n\r\n"), "foo", false, out);
  EXPECT_EQ(t.result, GetResult::kMiss);
  EXPECT_EQ(out, "");
}

TEST(MetaGetTranslation, WinOnStaleItem_IsGivenBack) {
  std::string out;
  auto t = translate_meta_get(parse("VA 2 f0 c1 kfoo W X\r\nhi\r\n"), "foo", false, out);
  EXPECT_EQ(t.result, GetResult::kMiss);
  EXPECT_TRUE(t.give_back_win);
  std::string md;
  append_give_back_win(md, "foo", 10);
  EXPECT_EQ(md, "md foo I T10\r\n");
}

TEST(MetaGetTranslation, BackendError_PassesThrough) {
  std::string out;
  auto t = translate_meta_get(parse("SERVER_ERROR out of memory\r\n"), "foo", false, out);
  EXPECT_EQ(t.result, GetResult::kError);
  EXPECT_EQ(out, "SERVER_ERROR out of memory\r\n");
}

TEST(MetaGetRequest, GatCarriesTtl) {
  std::string out;
  append_meta_get(out, "k", Command::kGet, 0);
  append_meta_get(out, "k", Command::kGats, 30);
  EXPECT_EQ(out, "mg k v f c k\r\nmg k v f c k T30\r\n");
}

TEST(InvalidateTranslation, MapsMetaCodesToDeleteReplies) {
  std::string out;
  translate_invalidate(parse("HD\r\n"), out);
  translate_invalidate(parse("NF\r\n"), out);
  EXPECT_EQ(out, "DELETED\r\nNOT_FOUND\r\n");
  std::string md;
  append_invalidate(md, "k", 5);
  EXPECT_EQ(md, "md k I T5\r\n");
}

}  // namespace
}  // namespace mccache::protocol
