// Exact bytes of the meta commands lease/ asks the proxy to send.
#include "pool/meta_commands.h"

#include <gtest/gtest.h>

#include "lease/lease_get.h"
#include "lease/lease_set.h"
#include "lease/plain_ops.h"

namespace mccache::lease {
namespace {

TEST(LeaseMetaCommands, LeaseGet_VivifiesWithTheLeaseTtl_AndAsksValueFlagsCasTtl) {
  std::string out;
  append_lease_get_command(out, "user:1", LeaseSettings{.lease_ttl_s = 10});
  EXPECT_EQ(out, "mg user:1 v f c t N10 k\r\n");
}

TEST(LeaseMetaCommands, PlainGet_NeverVivifies) {
  std::string out;
  append_plain_get_command(out, "k");
  EXPECT_EQ(out, "mg k v f c t k\r\n");
}

TEST(LeaseMetaCommands, TouchGet_TouchesWithoutVivifying) {
  std::string out;
  append_touch_get_command(out, "k", 60);
  EXPECT_EQ(out, "mg k v f c t T60 k\r\n");
}

TEST(LeaseMetaCommands, LeaseSet_ComparesTheCas_AndCarriesFlagsExptimeAndValue) {
  std::string out;
  append_lease_set_command(out, "k", 42, 7, 300, "hello");
  EXPECT_EQ(out, "ms k 5 C42 F7 T300\r\nhello\r\n");
  out.clear();
  append_lease_set_command(out, "k", 1, 0, -1, "");
  EXPECT_EQ(out, "ms k 0 C1 F0 T-1\r\n\r\n");
}

TEST(LeaseMetaCommands, Delete_InvalidateKeepsAStaleCopy_RemoveDoesNot) {
  std::string out;
  append_delete_command(out, "k", DeleteMode::Invalidate, 10);
  EXPECT_EQ(out, "md k I T10\r\n");
  out.clear();
  append_delete_command(out, "k", DeleteMode::Remove, 10);
  EXPECT_EQ(out, "md k\r\n");
}

TEST(LeaseMetaCommands, QuietDelete_ForTheInvalidatorsBatches) {
  std::string out;
  append_delete_command(out, "a", DeleteMode::Invalidate, 10, true);
  append_delete_command(out, "b", DeleteMode::Remove, 10, true);
  pool::append_noop(out);
  EXPECT_EQ(out, "md a I T10 q\r\nmd b q\r\nmn\r\n");
}

TEST(LeaseMetaCommands, StaleTtlZero_RemovesInsteadOfMakingAnImmortalStaleCopy) {
  std::string out;
  append_delete_command(out, "k", DeleteMode::Invalidate, 0);
  append_give_back_command(out, "k", 3, 0);
  EXPECT_EQ(out, "md k\r\nmd k I T1 C3\r\n");
}

TEST(LeaseMetaCommands, GiveBack_IsConditionalOnTheCasWeSaw) {
  std::string out;
  append_give_back_command(out, "k", 17, 29);
  EXPECT_EQ(out, "md k I T29 C17\r\n");
}

}  // namespace
}  // namespace mccache::lease
