// Backend replies (shapes captured from memcached 1.6.18 on this machine), each fed whole and
// split at every byte boundary.
#include "mcproxy/protocol/reply_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mccache::protocol {
namespace {

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
      std::string s = std::to_string(static_cast<int>(reply.code)) + "|" +
                      std::string(reply.flags) + "|" + std::string(reply.value) + "|" +
                      std::to_string(reply.raw.size());
      out.push_back(s);
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

std::string code(ReplyCode c) { return std::to_string(static_cast<int>(c)); }
using V = std::vector<std::string>;

TEST(ReplyParser, MetaValue_CarriesFlagsAndData) {
  expect_everywhere("VA 5 f3 c99 kfoo\r\nhello\r\n",
                    V{code(ReplyCode::kValue) + "|f3 c99 kfoo|hello|25"});
  expect_everywhere("VA 2 W X\r\n\r\n\r\n", V{code(ReplyCode::kValue) + "|W X|\r\n|14"});
}

TEST(ReplyParser, MetaStatusCodes_AreRecognised) {
  expect_everywhere("HD c5\r\nEN\r\nNF\r\nNS\r\nEX\r\nMN\r\n",
                    V{code(ReplyCode::kHeader) + "|c5||7", code(ReplyCode::kMiss) + "|||4",
                      code(ReplyCode::kNotFound) + "|||4", code(ReplyCode::kNotStored) + "|||4",
                      code(ReplyCode::kExists) + "|||4", code(ReplyCode::kNoop) + "|||4"});
}

TEST(ReplyParser, TextValues_RunUntilEnd) {
  expect_everywhere("VALUE a 0 1\r\nx\r\nVALUE b 5 2 7\r\nEN\r\nEND\r\n",
                    V{code(ReplyCode::kTextValues) + "|||40"});
  expect_everywhere("END\r\n", V{code(ReplyCode::kTextValues) + "|||5"});
}

TEST(ReplyParser, TextStatusAndErrors_AreSingleLines) {
  expect_everywhere("STORED\r\n42\r\nERROR\r\nSERVER_ERROR out of memory\r\n",
                    V{code(ReplyCode::kText) + "|||8", code(ReplyCode::kText) + "|||4",
                      code(ReplyCode::kError) + "|||7", code(ReplyCode::kError) + "|||28"});
}

TEST(ReplyParser, StatsBlock_IsOneReplyUpToEnd) {
  expect_everywhere("STAT pid 7\r\nSTAT uptime 3\r\nEND\r\nHD\r\n",
                    V{code(ReplyCode::kText) + "|||32", code(ReplyCode::kHeader) + "|||4"});
  EXPECT_EQ(run({"STAT pid 7\r\nSTORED\r\n"}), V{"<error>"});
}

TEST(ReplyParser, BrokenDataBlock_IsAProtocolError) {
  EXPECT_EQ(run({"VA 1\r\nxyz\r\n"}), V{"<error>"});
  EXPECT_EQ(run({"VA x\r\n"}), V{"<error>"});
  EXPECT_EQ(run({"VALUE a 0 1\r\nx\r\nSTORED\r\n"}), V{"<error>"});
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

TEST(ReplyParser, Flags_AreFoundByLetter) {
  Reply r;
  r.flags = "f30 c123 W X kkey";
  EXPECT_TRUE(r.has_flag('W'));
  EXPECT_TRUE(r.has_flag('X'));
  EXPECT_FALSE(r.has_flag('Z'));
  EXPECT_EQ(r.flag('f'), "30");
  EXPECT_EQ(r.flag('c'), "123");
  EXPECT_EQ(r.flag('k'), "key");
  EXPECT_EQ(r.flag('t'), "");
}

}  // namespace
}  // namespace mccache::protocol
