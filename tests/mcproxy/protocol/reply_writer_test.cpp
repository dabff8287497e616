// Text reply builders. (VALUE blocks and the stale/placeholder rules of plain gets are lease/'s,
// tested in tests/lease/.)
#include "mcproxy/protocol/reply_writer.h"

#include <gtest/gtest.h>

namespace mccache::protocol {
namespace {

TEST(ReplyWriter, Stat) {
  std::string out;
  append_stat(out, "pid", "1");
  EXPECT_EQ(out, "STAT pid 1\r\n");
}

}  // namespace
}  // namespace mccache::protocol
