// Every command and every malformed form of the client protocol, each fed whole, byte by byte and
// split at every byte boundary (the idea of mcrouter's McServerAsciiParserTest).
#include "mcproxy/protocol/request_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mccache::protocol {
namespace {

std::string describe(const Request& r) {
  std::string s(command_name(r.command));
  for (size_t i = 0; i < r.keys.size(); ++i) s += (i == 0 ? " " : ",") + std::string(r.keys[i]);
  if (has_data_block(r.command)) {
    s += " f=" + std::to_string(r.flags) + " e=" + std::to_string(r.exptime) + " d=" +
         std::string(r.data);
  }
  if (r.command == Command::kCas) s += " cas=" + std::to_string(r.cas_unique);
  if (r.command == Command::kIncr || r.command == Command::kDecr)
    s += " delta=" + std::to_string(r.delta);
  if (r.command == Command::kTouch || r.command == Command::kGat || r.command == Command::kGats)
    s += " e=" + std::to_string(r.exptime);
  if (r.command == Command::kLeaseSet) s += " token=" + std::to_string(r.lease_token);
  if (!r.meta_flags.empty()) {
    s += " [";
    for (size_t i = 0; i < r.meta_flags.size(); ++i)
      s += (i == 0 ? "" : " ") + std::string(r.meta_flags[i]);
    s += "]";
  }
  if (r.command == Command::kVerbosity) s += " level=" + std::to_string(r.verbosity);
  if (r.noreply) s += " noreply";
  if (r.quiet) s += " quiet";
  return s;
}

ParserLimits small_limits() {
  ParserLimits l;
  l.max_key_bytes = 250;
  l.max_value_bytes = 100;
  return l;
}

// Feeds the chunks in order and describes everything the parser produced.
std::vector<std::string> run(const std::vector<std::string>& chunks) {
  RequestParser parser(small_limits());
  std::string buffer;
  Request request;
  std::vector<std::string> out;
  for (const auto& chunk : chunks) {
    buffer += chunk;
    for (;;) {
      auto step = parser.next(buffer, request);
      if (step.status == RequestParser::Status::kRequest) out.push_back(describe(request));
      if (step.status == RequestParser::Status::kError) {
        out.push_back(std::string(step.error));
        if (step.close) {
          out.push_back("<close>");
          return out;
        }
      }
      buffer.erase(0, step.consumed);
      if (step.status == RequestParser::Status::kNeedMore) break;
    }
  }
  if (!buffer.empty() || parser.swallowing()) out.push_back("<partial>");
  return out;
}

void expect_everywhere(const std::string& input, const std::vector<std::string>& expected) {
  EXPECT_EQ(run({input}), expected) << "whole: " << input;
  std::vector<std::string> bytes;
  for (char c : input) bytes.emplace_back(1, c);
  EXPECT_EQ(run(bytes), expected) << "byte by byte: " << input;
  for (size_t i = 1; i < input.size(); ++i) {
    EXPECT_EQ(run({input.substr(0, i), input.substr(i)}), expected)
        << "split at " << i << ": " << input;
  }
}

using V = std::vector<std::string>;
using namespace std::string_literals;

TEST(RequestParser, Get_SingleAndMultiKey_AtEverySplit) {
  expect_everywhere("get a\r\n", V{"get a"});
  expect_everywhere("get a bb  ccc\r\n", V{"get a,bb,ccc"});
  expect_everywhere("gets a b\r\n", V{"gets a,b"});
  expect_everywhere("get a\n", V{"get a"});
}

TEST(RequestParser, Gat_TakesExptimeThenKeys) {
  expect_everywhere("gat 10 a b\r\n", V{"gat a,b e=10"});
  expect_everywhere("gats -1 a\r\n", V{"gats a e=-1"});
}

TEST(RequestParser, Get_WithMoreKeysThanTokens_KeepsEveryKey) {
  std::string line = "get";
  std::string expected = "get";
  for (int i = 0; i < 100; ++i) {
    line += " k" + std::to_string(i);
    expected += (i == 0 ? " k" : ",k") + std::to_string(i);
  }
  EXPECT_EQ(run({line + "\r\n"}), (V{expected}));
}

TEST(RequestParser, StorageCommands_CarryTheirDataBlock) {
  expect_everywhere("set k 1 2 3\r\nabc\r\n", V{"set k f=1 e=2 d=abc"});
  expect_everywhere("add k 0 0 0\r\n\r\n", V{"add k f=0 e=0 d="});
  expect_everywhere("replace k 0 0 2 noreply\r\nxy\r\n", V{"replace k f=0 e=0 d=xy noreply"});
  expect_everywhere("append k 0 0 1\r\nz\r\n", V{"append k f=0 e=0 d=z"});
  expect_everywhere("prepend k 0 0 1\r\nz\r\n", V{"prepend k f=0 e=0 d=z"});
  expect_everywhere("cas k 4294967295 -1 2 77\r\nab\r\n",
                    V{"cas k f=4294967295 e=-1 d=ab cas=77"});
}

TEST(RequestParser, DataBlock_MayContainLineBreaks) {
  expect_everywhere("set k 0 0 4\r\n\r\n\r\n\r\n", V{"set k f=0 e=0 d=\r\n\r\n"});
}

TEST(RequestParser, KeyCommands_ParseTheirArguments) {
  expect_everywhere("delete k\r\n", V{"delete k"});
  expect_everywhere("delete k 0\r\n", V{"delete k"});
  expect_everywhere("delete k noreply\r\n", V{"delete k noreply"});
  expect_everywhere("delete k 0 noreply\r\n", V{"delete k noreply"});
  expect_everywhere("incr k 5\r\n", V{"incr k delta=5"});
  expect_everywhere("decr k 18446744073709551615 noreply\r\n",
                    V{"decr k delta=18446744073709551615 noreply"});
  expect_everywhere("touch k 100\r\n", V{"touch k e=100"});
  expect_everywhere("touch k 100 noreply\r\n", V{"touch k e=100 noreply"});
}

TEST(RequestParser, ServerCommands_Parse) {
  expect_everywhere("version\r\n", V{"version"});
  expect_everywhere("stats\r\n", V{"stats"});
  expect_everywhere("stats slabs\r\n", V{"stats"});
  expect_everywhere("quit\r\n", V{"quit"});
  expect_everywhere("flush_all\r\n", V{"flush_all"});
  expect_everywhere("flush_all 10 noreply\r\n", V{"flush_all noreply"});
  expect_everywhere("verbosity 1\r\n", V{"verbosity level=1"});
  expect_everywhere("shutdown\r\n", V{"admin"});
  expect_everywhere("lru_crawler metadump all\r\n", V{"admin"});
}

TEST(RequestParser, MetaCommands_KeepKeyFlagsAndDataBlock) {
  expect_everywhere("mg k v f t\r\n", V{"mg k [v f t]"});
  expect_everywhere("mg k v q\r\n", V{"mg k [v] quiet"});
  expect_everywhere("ms k 3 T10 F5\r\nabc\r\n", V{"ms k f=0 e=0 d=abc [T10 F5]"});
  expect_everywhere("md k I T30 q\r\n", V{"md k [I T30] quiet"});
  expect_everywhere("ma k N0 J13\r\n", V{"ma k [N0 J13]"});
  expect_everywhere("mn\r\n", V{"mn"});
  expect_everywhere("me k\r\n", V{"me k"});
  expect_everywhere("me k b\r\n", V{"me k [b]"});
}

TEST(RequestParser, LeaseCommands_ParseMcrouterAsciiForm) {
  expect_everywhere("lease-get k\r\n", V{"lease_get k"});
  expect_everywhere("lease-get a  b c\r\n", V{"lease_get a,b,c"});
  expect_everywhere("lease-set k 123 5 60 2\r\nhi\r\n", V{"lease_set k f=5 e=60 d=hi token=123"});
  expect_everywhere("lease-set k 9 0 0 1 noreply\r\nx\r\n",
                    V{"lease_set k f=0 e=0 d=x token=9 noreply"});
}

TEST(RequestParser, Pipeline_YieldsEachRequestInOrder) {
  expect_everywhere("get a\r\nset b 0 0 1\r\nx\r\ndelete c\r\nmn\r\n",
                    V{"get a", "set b f=0 e=0 d=x", "delete c", "mn"});
}

TEST(RequestParser, Partial_WaitsForMore) {
  EXPECT_EQ(run({"get a"}), (V{"<partial>"}));
  EXPECT_EQ(run({"set k 0 0 3\r\nab"}), (V{"<partial>"}));
}

TEST(RequestParser, UnknownCommand_IsError) {
  expect_everywhere("bogus a\r\n", V{"ERROR\r\n"});
  expect_everywhere("\r\n", V{"ERROR\r\n"});
  expect_everywhere("GET a\r\n", V{"ERROR\r\n"});
}

TEST(RequestParser, WrongArity_IsError) {
  expect_everywhere("get\r\n", V{"ERROR\r\n"});
  expect_everywhere("gat 10\r\n", V{"ERROR\r\n"});
  expect_everywhere("set k 0 0\r\n", V{"ERROR\r\n"});
  expect_everywhere("incr k\r\n", V{"ERROR\r\n"});
  expect_everywhere("touch k\r\n", V{"ERROR\r\n"});
  expect_everywhere("version now\r\n", V{"ERROR\r\n"});
  expect_everywhere("lease-get\r\n", V{"ERROR\r\n"});
}

TEST(RequestParser, BadNumbers_AreClientErrors) {
  expect_everywhere("set k 0 0 -1\r\n", V{"CLIENT_ERROR bad command line format\r\n"});
  expect_everywhere("set k 0 0 x\r\n", V{"CLIENT_ERROR bad command line format\r\n"});
  expect_everywhere("incr k -1\r\n", V{"CLIENT_ERROR invalid numeric delta argument\r\n"});
  expect_everywhere("touch k soon\r\n", V{"CLIENT_ERROR invalid exptime argument\r\n"});
  expect_everywhere("gat x k\r\n", V{"CLIENT_ERROR invalid exptime argument\r\n"});
  expect_everywhere("verbosity loud\r\n", V{"CLIENT_ERROR bad command line format\r\n"});
  expect_everywhere("ms k x\r\n", V{"CLIENT_ERROR bad command line format\r\n"});
}

// memcached has read noreply by then and stays silent; a noreply client would take a reply for
// its next command's.
TEST(RequestParser, BadIncrOrTouchArguments_WithNoreply_AreSilentErrors) {
  expect_everywhere("incr k -1 noreply\r\nget a\r\n", V{"", "get a"});
  expect_everywhere("decr k x noreply\r\n", V{""});
  expect_everywhere("touch k soon noreply\r\n", V{""});
  expect_everywhere("incr k\x01 1 noreply\r\n", V{""});
  expect_everywhere("incr k -1 later\r\n", V{"ERROR\r\n"});  // not noreply: not silent
}

TEST(RequestParser, BadFlagsWithKnownLength_SwallowsTheDataBlock) {
  expect_everywhere("set k nope 0 3\r\nabc\r\nget a\r\n",
                    V{"CLIENT_ERROR bad command line format\r\n", "get a"});
  expect_everywhere("cas k 0 0 1 x\r\na\r\nget a\r\n",
                    V{"CLIENT_ERROR bad command line format\r\n", "get a"});
  expect_everywhere("set k 0 0 1 maybe\r\na\r\nget a\r\n",
                    V{"CLIENT_ERROR bad command line format\r\n", "get a"});
  expect_everywhere("lease-set k tok 0 0 1\r\na\r\nget a\r\n",
                    V{"CLIENT_ERROR bad command line format\r\n", "get a"});
}

TEST(RequestParser, BadDataChunk_IsClientErrorAndResyncs) {
  expect_everywhere("set k 0 0 3\r\nabcd\r\nget a\r\n",
                    V{"CLIENT_ERROR bad data chunk\r\n", "ERROR\r\n", "get a"});
}

TEST(RequestParser, KeyTooLong_IsRefusedAndItsDataSwallowed) {
  std::string key(251, 'k');
  std::string ok_key(250, 'k');
  EXPECT_EQ(run({"get " + key + "\r\n"}), (V{"CLIENT_ERROR key too long\r\n"}));
  EXPECT_EQ(run({"get a " + key + "\r\n"}), (V{"CLIENT_ERROR key too long\r\n"}));
  EXPECT_EQ(run({"get " + ok_key + "\r\n"}), (V{"get " + ok_key}));
  expect_everywhere("set " + key + " 0 0 1\r\nx\r\nget a\r\n",
                    V{"CLIENT_ERROR key too long\r\n", "get a"});
  expect_everywhere("delete " + key + "\r\n", V{"CLIENT_ERROR key too long\r\n"});
  expect_everywhere("mg " + key + " v\r\n", V{"CLIENT_ERROR key too long\r\n"});
}

TEST(RequestParser, ValueTooLarge_IsRefusedAndSwallowed) {
  std::string value(101, 'v');
  expect_everywhere("set k 0 0 101\r\n" + value + "\r\nget a\r\n",
                    V{"CLIENT_ERROR value too large\r\n", "get a"});
  expect_everywhere("ms k 101\r\n" + value + "\r\nmn\r\n",
                    V{"CLIENT_ERROR value too large\r\n", "mn"});
}

TEST(RequestParser, ValueTooLarge_SwallowsBytesThatArriveLater) {
  std::string value(101, 'v');
  EXPECT_EQ(run({"set k 0 0 101\r\nvv", value.substr(2), "\r\nget a\r\n"}),
            (V{"CLIENT_ERROR value too large\r\n", "get a"}));
}

TEST(RequestParser, BadDelete_GivesUsage) {
  expect_everywhere(
      "delete k 10\r\n",
      V{"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"});
}

TEST(RequestParser, LongLineWithNewline_IsRefusedButConnectionContinues) {
  std::string line = "set " + std::string(3000, 'x') + "\r\nget a\r\n";
  EXPECT_EQ(run({line}), (V{"CLIENT_ERROR line too long\r\n", "get a"}));
}

TEST(RequestParser, GarbageWithoutNewline_ClosesTheConnection) {
  std::string garbage(3000, '\x01');
  EXPECT_EQ(run({garbage}), (V{"CLIENT_ERROR line too long\r\n", "<close>"}));
}

TEST(RequestParser, BinaryGarbageLines_AreErrorsThenParsingGoesOn) {
  expect_everywhere("\x01\x80\x00\x05\r\nget a\r\n"s, V{"ERROR\r\n", "get a"});
}

TEST(RequestParser, BinaryProtocolRequest_IsRefusedAndClosed) {
  std::string binary_get("\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01a", 13);
  EXPECT_EQ(run({binary_get}),
            (V{"CLIENT_ERROR binary protocol is not supported; use the text protocol\r\n",
               "<close>"}));
  EXPECT_EQ(run({"get a\r\n" + binary_get}),
            (V{"get a", "CLIENT_ERROR binary protocol is not supported; use the text protocol\r\n",
               "<close>"}));
}

TEST(RequestParser, MetaFlagThatIsNotALetter_IsClientError) {
  expect_everywhere("mg k 1\r\n", V{"CLIENT_ERROR invalid flag\r\n"});
  expect_everywhere("ms k 1 %\r\nx\r\nmn\r\n", V{"CLIENT_ERROR invalid flag\r\n", "mn"});
}

// protocol.txt "Keys": no control characters or whitespace. memcached itself only splits on
// spaces and would store "a\tb"; mcproxy refuses it, and the connection goes on.
TEST(RequestParser, KeyWithControlByte_IsClientError_AndTheConnectionGoesOn) {
  const std::string kBadKey = "CLIENT_ERROR key has a control character\r\n";
  for (std::string key : {std::string("a\tb"), std::string("a\x01"), std::string("\x7f"),
                          std::string("a\rb"), "a\0b"s, std::string("\x1b[1m")}) {
    expect_everywhere("get " + key + "\r\nmn\r\n", V{kBadKey, "mn"});
    expect_everywhere("get ok " + key + "\r\nmn\r\n", V{kBadKey, "mn"});
    expect_everywhere("set " + key + " 0 0 1\r\nx\r\nmn\r\n", V{kBadKey, "mn"});
    expect_everywhere("delete " + key + "\r\nmn\r\n", V{kBadKey, "mn"});
    expect_everywhere("incr " + key + " 1\r\nmn\r\n", V{kBadKey, "mn"});
    expect_everywhere("touch " + key + " 1\r\nmn\r\n", V{kBadKey, "mn"});
    expect_everywhere("mg " + key + " v\r\nmn\r\n", V{kBadKey, "mn"});
    expect_everywhere("ms " + key + " 1\r\nx\r\nmn\r\n", V{kBadKey, "mn"});
    expect_everywhere("lease-get " + key + "\r\nmn\r\n", V{kBadKey, "mn"});
    expect_everywhere("lease-set " + key + " 5 0 0 1\r\nx\r\nmn\r\n", V{kBadKey, "mn"});
  }
  // Bytes above 0x7f are not control bytes: UTF-8 keys pass.
  expect_everywhere("get caf\xc3\xa9\r\n", V{"get caf\xc3\xa9"});
}

// memcached cuts a line at its NUL: "set a" is an ERROR there and the 11 bytes meant as data run
// as flush_all. mcproxy refuses the line and its data block goes with it.
TEST(RequestParser, NulInALine_IsRefused_AndItsDataNeverBecomesACommand) {
  const std::string smuggle = "set a\0 0 0 11\r\nflush_all\r\n\r\nmn\r\n"s;
  expect_everywhere(smuggle, V{"CLIENT_ERROR key has a control character\r\n", "mn"});
  // Where no key or number holds it, the NUL still refuses the line.
  expect_everywhere("stats x\0y\r\nmn\r\n"s,
                    V{"CLIENT_ERROR NUL byte in command line\r\n", "mn"});
  expect_everywhere("set k 0 0 1 noreply\0\r\nx\r\nmn\r\n"s,
                    V{"CLIENT_ERROR bad command line format\r\n", "mn"});
  expect_everywhere("mg k v O\0x\r\nmn\r\n"s,
                    V{"CLIENT_ERROR invalid flag\r\n", "mn"});
}

// memcached's preparse reads only a flag token's first byte: "q1" and "qq" are quiet there.
TEST(RequestParser, AnyFlagStartingWithQ_IsQuiet_AndIsNotForwarded) {
  expect_everywhere("mg nokey q1 v\r\n", V{"mg nokey [v] quiet"});
  expect_everywhere("mg nokey qq v\r\n", V{"mg nokey [v] quiet"});
  expect_everywhere("ms k 1 quiet\r\nx\r\n", V{"ms k f=0 e=0 d=x quiet"});
  expect_everywhere("md k qxyz\r\n", V{"md k quiet"});
  expect_everywhere("ma k q D3\r\n", V{"ma k [D3] quiet"});
}

TEST(RequestParser, DuplicateMetaFlag_IsRefusedAsMemcachedDoes) {
  expect_everywhere("mg k q qq\r\n", V{"CLIENT_ERROR duplicate flag\r\n"});
  expect_everywhere("mg k v v\r\n", V{"CLIENT_ERROR duplicate flag\r\n"});
  expect_everywhere("ms k 1 T1 T2\r\nx\r\nmn\r\n", V{"CLIENT_ERROR duplicate flag\r\n", "mn"});
  expect_everywhere("md k q q\r\n", V{"CLIENT_ERROR invalid or duplicate flag\r\n"});
  expect_everywhere("mg k \xff\r\n", V{"CLIENT_ERROR duplicate flag\r\n"});
}

// Flags memcached 1.6.18 knows but does not document for the command, or does not know at all,
// are refused: mcproxy forwards nothing it cannot count the replies of.
TEST(RequestParser, MetaFlagNotAcceptedForTheCommand_IsRefused) {
  for (std::string f : {"P", "L", "E1", "x", "S3", "Z", "W"})
    expect_everywhere("mg k " + f + "\r\nmn\r\n", V{"CLIENT_ERROR invalid flag\r\n", "mn"});
  expect_everywhere("ms k 1 v\r\nx\r\nmn\r\n", V{"CLIENT_ERROR invalid flag\r\n", "mn"});
  expect_everywhere("md k v\r\n", V{"CLIENT_ERROR invalid or duplicate flag\r\n"});
  expect_everywhere("ma k f\r\n", V{"CLIENT_ERROR invalid or duplicate flag\r\n"});
  expect_everywhere("me k v\r\n", V{"CLIENT_ERROR invalid flag\r\n"});
  // Every flag protocol.txt lists for each command passes.
  expect_everywhere("mg k b c f h k l Oab q s t u v N30 R5 T9\r\n",
                    V{"mg k [b c f h k l Oab s t u v N30 R5 T9] quiet"});
  expect_everywhere("ms k 1 b c C5 F1 I k O1 q T0 MS\r\nx\r\n",
                    V{"ms k f=0 e=0 d=x [b c C5 F1 I k O1 T0 MS] quiet"});
  expect_everywhere("md k b C1 I k O q T3\r\n", V{"md k [b C1 I k O T3] quiet"});
  expect_everywhere("ma k b C1 N0 J1 D2 T3 MI q t c v O k\r\n",
                    V{"ma k [b C1 N0 J1 D2 T3 MI t c v O k] quiet"});
}

TEST(RequestParser, TooManyMetaFlags_IsRefusedAsMemcachedDoes) {
  std::string line = "mg k";
  for (char c : std::string("bcfhklOstuvNRTbcfh")) line += std::string(" ") + c;  // 20 tokens
  expect_everywhere(line + "\r\nmn\r\n", V{"CLIENT_ERROR options flags too long\r\n", "mn"});
  // An ms has one token less: the gutter may add T, and memcached must still read the length.
  std::string ms = "ms k 1";
  for (char c : std::string("bcCFIkOqTMbcCFIk")) ms += std::string(" ") + c;  // 19 tokens
  expect_everywhere(ms + "\r\nx\r\nmn\r\n", V{"CLIENT_ERROR options flags too long\r\n", "mn"});
}

TEST(RequestParser, TooManyTokens_IsError) {
  std::string line = "set k 0 0 1";
  for (int i = 0; i < 30; ++i) line += " x";
  EXPECT_EQ(run({line + "\r\n"}), (V{"ERROR\r\n"}));
}

TEST(RequestParser, RequestSize_CoversLineAndDataBlock) {
  RequestParser parser;
  Request r;
  std::string input = "set k 0 0 3\r\nabc\r\nget x\r\n";
  auto step = parser.next(input, r);
  EXPECT_EQ(step.consumed, 18u);
  EXPECT_EQ(r.size, 18u);
  EXPECT_EQ(r.line, "set k 0 0 3");
}

}  // namespace
}  // namespace mccache::protocol
