// In-order delivery when replies complete out of order (the pipelined multi-server case).
#include <gtest/gtest.h>

#include "mcproxy/core/session.h"

namespace mccache::core {
namespace {

void finish(ReplyQueue& q, uint64_t seq, const std::string& text) {
  q.buffer_for(seq).append(text);
  q.complete(seq);
}

TEST(ReplyQueue, InOrderReplies_GoStraightToOutput) {
  ReplyQueue q;
  auto a = q.reserve(10);
  finish(q, a, "A");
  auto b = q.reserve(5);
  finish(q, b, "B");
  EXPECT_EQ(q.output(), "AB");
  EXPECT_EQ(q.unanswered_bytes(), 0u);
}

TEST(ReplyQueue, LaterReplyWaits_UntilEarlierOneCompletes) {
  ReplyQueue q;
  auto a = q.reserve(1), b = q.reserve(2), c = q.reserve(3);
  finish(q, c, "C");
  finish(q, b, "B");
  EXPECT_EQ(q.output(), "");
  EXPECT_EQ(q.unanswered_bytes(), 6u);
  finish(q, a, "A");
  EXPECT_EQ(q.output(), "ABC");
  EXPECT_EQ(q.open_slots(), 0u);
}

TEST(ReplyQueue, EmptyReplies_KeepTheirPlace) {
  ReplyQueue q;
  auto a = q.reserve(1), b = q.reserve(1), c = q.reserve(1);
  finish(q, b, "");
  finish(q, c, "END");
  finish(q, a, "V");
  EXPECT_EQ(q.output(), "VEND");
}

TEST(ReplyQueue, ManyOutstanding_GrowsAndKeepsOrder) {
  ReplyQueue q;
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 1000; ++i) seqs.push_back(q.reserve(1));
  std::string expected;
  for (int i = 999; i >= 0; --i) finish(q, seqs[i], std::to_string(i) + ",");
  for (int i = 0; i < 1000; ++i) expected += std::to_string(i) + ",";
  EXPECT_EQ(q.output(), expected);
}

TEST(ReplyQueue, GrowthWithWrappedRing_KeepsOrder) {
  ReplyQueue q;
  for (int round = 0; round < 3; ++round) {
    std::vector<uint64_t> seqs;
    for (int i = 0; i < 10; ++i) seqs.push_back(q.reserve(1));
    for (int i = 0; i < 10; ++i) finish(q, seqs[i], "x");
  }
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 40; ++i) seqs.push_back(q.reserve(1));
  for (int i = 39; i >= 0; --i) finish(q, seqs[i], std::string(1, static_cast<char>('a' + i % 26)));
  std::string expected(30, 'x');
  for (int i = 0; i < 40; ++i) expected += static_cast<char>('a' + i % 26);
  EXPECT_EQ(q.output(), expected);
}

}  // namespace
}  // namespace mccache::core
