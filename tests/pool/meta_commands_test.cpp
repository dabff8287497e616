// Exact bytes of meta requests and of the one tokenizer.
#include "pool/meta_commands.h"

#include <gtest/gtest.h>

#include <vector>

#include "pool/tokens.h"

namespace mccache::pool {
namespace {

TEST(MetaRequest, FlagsNumbersAndTokens_AreSpelledInOrder) {
  std::string out;
  MetaRequest::get(out, "user:1").flag('v').flag('N', 10u).flag('T', int64_t{-1}).end();
  MetaRequest::get(out, "a").flags("vfc").end();
  MetaRequest::del(out, "k").flag('I').flag('O', "abc").flag('q').end();
  MetaRequest::arithmetic(out, "n").flag('D', uint64_t{18446744073709551615u}).end();
  EXPECT_EQ(out,
            "mg user:1 v N10 T-1\r\nmg a v f c\r\nmd k I Oabc q\r\nma n D18446744073709551615\r\n");
}

TEST(MetaRequest, Set_CarriesTheDataLengthAndTheBlock) {
  std::string out;
  MetaRequest::set(out, "k", 5).flag('C', 42).end_with_data("hello");
  MetaRequest::set(out, "e", 0).end_with_data("");
  EXPECT_EQ(out, "ms k 5 C42\r\nhello\r\nms e 0\r\n\r\n");
}

TEST(MetaRequest, Noop_ClosesAPipeline) {
  std::string out;
  append_noop(out);
  EXPECT_EQ(out, "mn\r\n");
}

std::vector<std::string_view> all(std::string_view line) {
  std::vector<std::string_view> out;
  for_each_token(line, [&](size_t i, std::string_view t) {
    EXPECT_EQ(i, out.size());
    out.push_back(t);
  });
  return out;
}

TEST(Tokens, SplitOnSpaces_RunsCountAsOne_NoEmptyTokens) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(all("set k 0 0 1"), (V{"set", "k", "0", "0", "1"}));
  EXPECT_EQ(all("  get   a  b "), (V{"get", "a", "b"}));
  EXPECT_EQ(all(""), V{});
  EXPECT_EQ(all("   "), V{});
  // Only the space separates (memcached's tokenize_command): a tab is part of a token.
  EXPECT_EQ(all("a\tb c"), (V{"a\tb", "c"}));
}

TEST(Tokens, Rest_IsWhatFollowsWithoutLeadingSpaces) {
  Tokens t("VA 5  f3 c9 ");
  EXPECT_EQ(t.next(), "VA");
  EXPECT_EQ(t.next(), "5");
  EXPECT_EQ(t.rest(), "f3 c9 ");
  EXPECT_FALSE(t.done());
  t.next();
  t.next();
  EXPECT_TRUE(t.done());
  EXPECT_EQ(t.next(), "");
}

TEST(Tokens, AreViewsIntoTheLine) {
  std::string_view line = "mg key v";
  Tokens t(line);
  t.next();
  std::string_view key = t.next();
  EXPECT_EQ(key.data(), line.data() + 3);
}

}  // namespace
}  // namespace mccache::pool
