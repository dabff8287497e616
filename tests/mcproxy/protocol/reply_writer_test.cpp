// Text reply builders. (The stale/placeholder rules of plain gets are lease/'s, tested in
// tests/lease/plain_ops_test.cpp.)
#include "mcproxy/protocol/reply_writer.h"

#include <gtest/gtest.h>

namespace mccache::protocol {
namespace {

TEST(ReplyWriter, ValueBlock_WithAndWithoutCas) {
  std::string out;
  append_value(out, "foo", "7", "hi", "");
  append_value(out, "foo", "", "hi", "42");
  EXPECT_EQ(out, "VALUE foo 7 2\r\nhi\r\nVALUE foo 0 2 42\r\nhi\r\n");
}

TEST(ReplyWriter, ServerErrorAndStat) {
  std::string out;
  append_server_error(out, "backend down");
  append_stat(out, "pid", "1");
  EXPECT_EQ(out, "SERVER_ERROR backend down\r\nSTAT pid 1\r\n");
}

}  // namespace
}  // namespace mccache::protocol
