// The slot's state file: its position round-trips, an older file without one still reads, a
// damaged one is refused with the fix; and where the file lives by default.
#include "invalidator/replication/slot_record.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "invalidator/source/slot_lifecycle.h"

namespace mccache::invalidator {
namespace {

class SlotRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mcinval_state_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(SlotRecordTest, ThePositionRoundTrips_AndTheDirectoryIsCreated) {
  auto path = dir_ + "/new/dc1/mcinval_dc1.state";
  replication::write_slot_record(path, {"mcinval_dc1", "7301", 0x16B3748});
  auto r = replication::read_slot_record(path);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->slot, "mcinval_dc1");
  EXPECT_EQ(r->system_identifier, "7301");
  EXPECT_EQ(r->confirmed, pgoutput::Lsn{0x16B3748});
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("confirmed_lsn 0/16B3748\n"), std::string::npos) << text;
}

TEST_F(SlotRecordTest, AFileWithoutAPosition_ReadsWithNone_AndAMissingOneIsNullopt) {
  std::ofstream(dir_ + "/old.state") << "slot s\nsystem_identifier 1\n";
  auto r = replication::read_slot_record(dir_ + "/old.state");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->confirmed.has_value());
  EXPECT_FALSE(replication::read_slot_record(dir_ + "/absent.state").has_value());
}

TEST_F(SlotRecordTest, ADamagedFile_IsRefusedWithTheFix) {
  std::ofstream(dir_ + "/bad.state") << "slot s\nsystem_identifier 1\nconfirmed_lsn nonsense\n";
  try {
    replication::read_slot_record(dir_ + "/bad.state");
    FAIL() << "accepted a damaged state file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("treat the slot as lost"), std::string::npos) << e.what();
  }
}

TEST(StateFilePath, DefaultsUnderTheStateDirectory_NamedSourcesApart_RelativeUnderIt) {
  config::InvalidatorConfig inv;
  config::SourceConfig src;
  src.slot = "mcinval_dc1";
  inv.state_dir = "/srv/state";
  EXPECT_EQ(source::state_file_path(inv, src), "/srv/state/mcinval_dc1.state");
  src.name = "shard1";
  EXPECT_EQ(source::state_file_path(inv, src), "/srv/state/shard1-mcinval_dc1.state");
  src.state_file = "mine.state";
  EXPECT_EQ(source::state_file_path(inv, src), "/srv/state/mine.state");
  src.state_file = "/elsewhere/mine.state";
  EXPECT_EQ(source::state_file_path(inv, src), "/elsewhere/mine.state");
}

TEST(StateFilePath, WithoutStateDir_TakesSystemdsStateDirectory_ElseVarLibMccache) {
  config::InvalidatorConfig inv;
  config::SourceConfig src;
  src.slot = "s";
  const char* saved = std::getenv("STATE_DIRECTORY");
  std::string keep = saved ? saved : "";
  setenv("STATE_DIRECTORY", "/var/lib/mccache-dc1:/var/lib/other", 1);
  EXPECT_EQ(source::state_file_path(inv, src), "/var/lib/mccache-dc1/s.state");
  unsetenv("STATE_DIRECTORY");
  EXPECT_EQ(source::state_file_path(inv, src), "/var/lib/mccache/s.state");
  if (saved) setenv("STATE_DIRECTORY", keep.c_str(), 1);
}

}  // namespace
}  // namespace mccache::invalidator
