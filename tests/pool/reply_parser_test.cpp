// Backend replies (shapes captured from memcached 1.6.18 on this machine), each fed whole and
// split at every byte boundary, and the meta flags read from them.
#include "pool/reply_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/lease/captured_replies.h"

namespace mccache::pool {
namespace {

namespace captured = lease::testing::captured;

std::string status_name(ReplyStatus s) {
  switch (s) {
    case ReplyStatus::kValue:
      return "VA";
    case ReplyStatus::kHeader:
      return "HD";
    case ReplyStatus::kMiss:
      return "EN";
    case ReplyStatus::kNotFound:
      return "NF";
    case ReplyStatus::kNotStored:
      return "NS";
    case ReplyStatus::kExists:
      return "EX";
    case ReplyStatus::kNoop:
      return "MN";
    case ReplyStatus::kTextValues:
      return "VALUES";
    case ReplyStatus::kStats:
      return "STATS";
    case ReplyStatus::kText:
      return "TEXT";
    case ReplyStatus::kError:
      return "ERROR";
    case ReplyStatus::kClientError:
      return "CLIENT_ERROR";
    case ReplyStatus::kServerError:
      return "SERVER_ERROR";
  }
  return "?";
}

// Each reply as "status|flags|value|message|raw size".
std::vector<std::string> run(const std::vector<std::string>& chunks) {
  ReplyParser parser;
  std::string buffer;
  Reply reply;
  std::vector<std::string> out;
  for (const auto& chunk : chunks) {
    buffer += chunk;
    for (;;) {
      auto step = parser.next(buffer, reply);
      if (step.status == ReplyParser::Status::kError) {
        out.push_back("<error>");
        return out;
      }
      if (step.status == ReplyParser::Status::kNeedMore) break;
      out.push_back(status_name(reply.status) + "|" + std::string(reply.flags) + "|" +
                    std::string(reply.value) + "|" + std::string(reply.message) + "|" +
                    std::to_string(reply.raw.size()));
      buffer.erase(0, step.consumed);
    }
  }
  if (!buffer.empty()) out.push_back("<partial>");
  return out;
}

void expect_everywhere(const std::string& input, const std::vector<std::string>& expected) {
  EXPECT_EQ(run({input}), expected) << input;
  for (size_t i = 1; i < input.size(); ++i)
    EXPECT_EQ(run({input.substr(0, i), input.substr(i)}), expected) << "split at " << i;
}

// The one complete reply in `bytes`.
Reply parse_one(std::string_view bytes) {
  Reply r;
  auto step = ReplyParser().next(bytes, r);
  EXPECT_EQ(step.status, ReplyParser::Status::kReply) << bytes;
  EXPECT_EQ(step.consumed, bytes.size()) << bytes;
  return r;
}

using V = std::vector<std::string>;

TEST(ReplyParser, MetaValue_CarriesFlagsAndData) {
  expect_everywhere("VA 5 f3 c99 kfoo\r\nhello\r\n", V{"VA|f3 c99 kfoo|hello||25"});
  expect_everywhere("VA 2 W X\r\n\r\n\r\n", V{"VA|W X|\r\n||14"});
}

TEST(ReplyParser, MetaStatusCodes_AreRecognised) {
  expect_everywhere("HD c5\r\nEN\r\nNF\r\nNS\r\nEX\r\nMN\r\n",
                    V{"HD|c5|||7", "EN||||4", "NF||||4", "NS||||4", "EX||||4", "MN||||4"});
}

TEST(ReplyParser, TextValues_RunUntilEnd) {
  expect_everywhere("VALUE a 0 1\r\nx\r\nVALUE b 5 2 7\r\nEN\r\nEND\r\n", V{"VALUES||||40"});
  expect_everywhere("END\r\n", V{"VALUES||||5"});
}

TEST(ReplyParser, TextStatusAndErrors_AreSingleLines_ErrorsKeepTheirMessage) {
  expect_everywhere(
      "STORED\r\n42\r\nERROR\r\nSERVER_ERROR out of memory\r\nCLIENT_ERROR bad command line "
      "format\r\n",
      V{"TEXT||||8", "TEXT||||4", "ERROR||||7", "SERVER_ERROR|||out of memory|28",
        "CLIENT_ERROR|||bad command line format|38"});
}

TEST(ReplyParser, StatsBlock_IsOneReplyUpToEnd) {
  expect_everywhere("STAT pid 7\r\nSTAT uptime 3\r\nEND\r\nHD\r\n", V{"STATS||||32", "HD||||4"});
  EXPECT_EQ(run({"STAT pid 7\r\nSTORED\r\n"}), V{"<error>"});
}

TEST(ReplyParser, BrokenDataBlock_IsAProtocolError) {
  EXPECT_EQ(run({"VA 1\r\nxyz\r\n"}), V{"<error>"});
  EXPECT_EQ(run({"VA x\r\n"}), V{"<error>"});
  EXPECT_EQ(run({"VALUE a 0 1\r\nx\r\nSTORED\r\n"}), V{"<error>"});
}

TEST(ReplyParser, MalformedNumericFlags_AreProtocolErrors) {
  EXPECT_EQ(run({"VA 1 cX\r\nx\r\n"}), V{"<error>"});
  EXPECT_EQ(run({"HD f99999999999\r\n"}), V{"<error>"});
  EXPECT_EQ(run({"EN t\r\n"}), V{"<error>"});
}

// Found by fuzz_reply_parser: sizes near 2^64 wrapped the block-end arithmetic and read before
// the buffer or handed out a value running past the reply.
TEST(ReplyParser, HugeValueSizes_AreProtocolErrors) {
  ReplyParser parser;
  Reply r;
  for (std::string input : {"VA 18446744073709551590\r\n", "VA 18446744073709551614\r\nEN\r\n",
                            "VALUE k 0 18446744073709551583\r\n", "VA 1073741825\r\n"}) {
    EXPECT_EQ(parser.next(input, r).status, ReplyParser::Status::kError) << input;
  }
  EXPECT_EQ(parser.next("VA 1073741824\r\n", r).status, ReplyParser::Status::kNeedMore);
}

TEST(ReplyParserMetaFlags, VivifiedPlaceholder_CarriesWinCasAndEmptyValue) {
  Reply r = parse_one(captured::kVivifiedWin);
  EXPECT_EQ(r.status, ReplyStatus::kValue);
  EXPECT_TRUE(r.meta.win);
  EXPECT_FALSE(r.meta.win_sent);
  EXPECT_FALSE(r.meta.stale);
  EXPECT_EQ(r.meta.cas, 1u);
  EXPECT_EQ(r.meta.client_flags, 0u);
  EXPECT_EQ(r.meta.ttl, -1);
  EXPECT_EQ(r.value, "");
}

TEST(ReplyParserMetaFlags, StaleCopyHeldByAnother_IsZAndX_WithTheOldValue) {
  Reply r = parse_one(captured::kStaleHeld);
  EXPECT_TRUE(r.meta.stale);
  EXPECT_TRUE(r.meta.win_sent);
  EXPECT_FALSE(r.meta.win);
  EXPECT_EQ(r.meta.client_flags, 7u);
  EXPECT_EQ(r.meta.ttl, 29);
  EXPECT_EQ(r.value, "hello");
}

TEST(ReplyParserMetaFlags, KeyIsEchoed_UnknownFlagsAreSkipped) {
  Reply r = parse_one("VA 2 kfoo s2 Oabc b c5\r\nhi\r\n");
  EXPECT_EQ(r.meta.key, "foo");
  EXPECT_EQ(r.meta.cas, 5u);
  EXPECT_EQ(parse_one("HD c9 Z\r\n").meta.cas, 9u);
  EXPECT_FALSE(parse_one("EN\r\n").meta.cas);
}

TEST(ReplyParserMetaFlags, OnlyMetaRepliesCarryFlags) {
  Reply r = parse_one("VALUE k 5 1 77\r\nx\r\nEND\r\n");
  EXPECT_EQ(r.status, ReplyStatus::kTextValues);
  EXPECT_FALSE(r.meta.cas);
  EXPECT_FALSE(r.meta.client_flags);
  EXPECT_TRUE(r.flags.empty());
  EXPECT_TRUE(parse_one("SERVER_ERROR c5 W\r\n").flags.empty());
}

}  // namespace
}  // namespace mccache::pool
