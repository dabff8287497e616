// The real invalidator following a database whose schema changes: partitioned tables, tables
// renamed, dropped and re-created or given a weaker replica identity after start-up, and one huge
// transaction. Real PostgreSQL 15 primary, real memcached, the real build/bin/invalidator; each
// test has its own tables, slot and publication.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include "config/json_reader.h"
#include "pool/ketama.h"
#include "tests/invalidator/support/cache_checks.h"
#include "tests/invalidator/support/pg_cluster.h"
#include "tests/invalidator/support/process_checks.h"
#include "tests/support/servers.h"
#include "tests/support/waiting.h"

namespace mccache::testing {
namespace {

using namespace std::chrono_literals;

class SchemaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pg_ = new PgCluster(MCCACHE_SOURCE_DIR, 0);
    // Slot state files in the cluster's own directory: left in the default /var/lib/mccache,
    // they make the next run's slots (on a new cluster) count as lost.
    setenv("STATE_DIRECTORY", pg_->dir().c_str(), 1);
    mc_[0] = new MemcachedServer();
    mc_[1] = new MemcachedServer();
  }
  static void TearDownTestSuite() {
    delete mc_[0];
    delete mc_[1];
    delete pg_;
  }
  void SetUp() override {
    ++tests_;
    slot_ = "schema_s" + std::to_string(tests_);
    publication_ = "schema_p" + std::to_string(tests_);
  }
  void TearDown() override {
    stop();
    // The walsender may outlive the client by a moment, and an active slot cannot be dropped.
    EXPECT_TRUE(eventually(
        [&] {
          try {
            sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                " WHERE slot_name = '" +
                slot_ + "'");
            return true;
          } catch (const std::exception&) {
            return false;
          }
        },
        5s));
  }

  static std::vector<config::HostPort> servers() {
    return {{"127.0.0.1", mc_[0]->port()}, {"127.0.0.1", mc_[1]->port()}};
  }
  static MemcachedServer& server_for(const std::string& key) {
    pool::KetamaRing ring(servers());
    return *mc_[ring.server_for(key)];
  }
  static void set(const std::string& key) { cache_value(server_for(key), key); }
  static bool invalidated(const std::string& key) { return is_invalidated(server_for(key), key); }
  static std::string sql(const std::string& statement) {
    return Sql(pg_->primary()).query(statement);
  }

  std::string write_config(const std::string& tables_json, const std::string& source_extra = "",
                           const std::string& delivery_extra = "") {
    metrics_port_ = free_tcp_port();
    std::string path = pg_->dir() + "/" + slot_ + ".json";
    std::ofstream(path) << R"({"datacenter": "dc1", "pool": {"servers": [")" << mc_[0]->endpoint()
                        << R"(", ")" << mc_[1]->endpoint() << R"("]},
 "invalidator": {"metrics_listen": "127.0.0.1:)"
                        << metrics_port_ << R"(",
   "source": {"dsn": ")" << pg_->primary()
                        << R"(", "slot": ")" << slot_ << R"(", "publication": ")" << publication_
                        << "\"" << source_extra << R"(},
   "tables": )" << tables_json
                        << R"(,
   "delivery": {"retry_initial_ms": 50, "retry_max_ms": 200)"
                        << delivery_extra << "}}}";
    return path;
  }
  // Starts the binary; true once it streams (start-up checks passed, the catalog's state read).
  bool start(const std::string& config) {
    log_ = pg_->dir() + "/" + slot_ + "-" + std::to_string(++starts_) + ".log";
    pid_ = spawn({std::string(MCCACHE_BIN_DIR) + "/invalidator", "--config", config}, log_);
    return wait_for_port(metrics_port_, 10s) &&
           eventually([&] { return metric("mcinval_active") == 1; }, 10s);
  }
  // Starts the binary expecting it to refuse: its exit code.
  int start_refused(const std::string& config) {
    log_ = pg_->dir() + "/" + slot_ + "-refused.log";
    pid_t pid = spawn({std::string(MCCACHE_BIN_DIR) + "/invalidator", "--config", config}, log_);
    int code = wait_exit(pid, 10s);
    if (code < 0) stop_process(pid, SIGKILL);
    return code;
  }
  void stop() {
    if (pid_ > 0) stop_process(pid_, SIGTERM);
    pid_ = -1;
  }
  std::string log() const { return read_file(log_); }
  double metric(const std::string& series) const { return metric_value(metrics_port_, series); }

  // A partitioned table `name` (id, day, title; primary key (id, day)): partition name_a holds
  // days 0..9, name_b days 10..19 with its columns in another order (attached, not created as a
  // partition), as a migration leaves them.
  static void create_partitioned(const std::string& name) {
    sql("CREATE TABLE " + name +
        " (id bigint, day int, title text, PRIMARY KEY (id, day))"
        " PARTITION BY RANGE (day);"
        "CREATE TABLE " +
        name + "_a PARTITION OF " + name +
        " FOR VALUES FROM (0) TO (10);"
        "CREATE TABLE " +
        name +
        "_b (title text, day int, id bigint, PRIMARY KEY (id, day));"
        "ALTER TABLE " +
        name + " ATTACH PARTITION " + name + "_b FOR VALUES FROM (10) TO (20)");
  }

  static PgCluster* pg_;
  static MemcachedServer* mc_[2];
  static int tests_;
  std::string slot_, publication_;
  uint16_t metrics_port_ = 0;
  pid_t pid_ = -1;
  int starts_ = 0;
  std::string log_;
};

PgCluster* SchemaTest::pg_ = nullptr;
MemcachedServer* SchemaTest::mc_[2] = {nullptr, nullptr};
int SchemaTest::tests_ = 0;

// --- Partitioned tables -------------------------------------------------------------------------

TEST_F(SchemaTest, PartitionedTable_ChangesInEveryPartition_AreInvalidated) {
  create_partitioned("ev1");
  ASSERT_TRUE(start(write_config(R"({"public.ev1": ["ev1:{id}"]})"))) << log();
  for (auto k : {"ev1:1", "ev1:2"}) set(k);
  sql("INSERT INTO ev1 VALUES (1, 5, 'a'), (2, 15, 'b')");
  EXPECT_TRUE(eventually([] { return invalidated("ev1:1") && invalidated("ev1:2"); }, 5s)) << log();
  set("ev1:2");
  sql("UPDATE ev1 SET day = 6 WHERE id = 2");  // moves the row from ev1_b to ev1_a
  EXPECT_TRUE(eventually([] { return invalidated("ev1:2"); }, 5s)) << log();
  set("ev1:1");
  sql("DELETE FROM ev1 WHERE id = 1");
  EXPECT_TRUE(eventually([] { return invalidated("ev1:1"); }, 5s)) << log();
}

TEST_F(SchemaTest, PartitionedTable_RestartFindsItInThePublication) {
  create_partitioned("ev2");
  auto config = write_config(R"({"public.ev2": ["ev2:{id}"]})");
  ASSERT_TRUE(start(config)) << log();
  stop();
  ASSERT_TRUE(start(config)) << "the restart refused its own publication: " << log();
  set("ev2:1");
  sql("INSERT INTO ev2 VALUES (1, 15, 'a')");
  EXPECT_TRUE(eventually([] { return invalidated("ev2:1"); }, 5s)) << log();
}

TEST_F(SchemaTest, PartitionedTable_TruncateOfOnePartition_FlushesTheRegion) {
  create_partitioned("ev3");
  ASSERT_TRUE(start(write_config(R"({"public.ev3": ["ev3:{id}"]})"))) << log();
  sql("INSERT INTO ev3 VALUES (1, 5, 'a')");
  set("ev3:1");
  set("unrelated:3");
  sql("TRUNCATE ev3_a");
  EXPECT_TRUE(eventually([] { return invalidated("ev3:1") && invalidated("unrelated:3"); }, 5s))
      << log();
}

TEST_F(SchemaTest, PartitionedTable_PartitionCreatedAfterStart_IsInvalidated) {
  create_partitioned("ev4");
  ASSERT_TRUE(start(write_config(R"({"public.ev4": ["ev4:{id}"]})"))) << log();
  sql("CREATE TABLE ev4_c PARTITION OF ev4 FOR VALUES FROM (20) TO (30)");
  set("ev4:1");
  sql("INSERT INTO ev4 VALUES (1, 25, 'new partition')");
  EXPECT_TRUE(eventually([] { return invalidated("ev4:1"); }, 5s)) << log();
}

// Publishing via the root hides a partition's TRUNCATE and its replica identity from the stream.
TEST_F(SchemaTest, PublicationViaPartitionRoot_IsRefusedWithTheFix_OrAlteredWhenOwned) {
  create_partitioned("ev5");
  sql("CREATE PUBLICATION " + publication_ +
      " FOR TABLE ev5 WITH (publish_via_partition_root = true)");
  auto tables = R"({"public.ev5": ["ev5:{id}"]})";
  EXPECT_EQ(start_refused(write_config(tables, R"(, "create_publication": false)")), 1) << log();
  EXPECT_NE(log().find("publish_via_partition_root"), std::string::npos) << log();
  EXPECT_NE(
      log().find("ALTER PUBLICATION " + publication_ + " SET (publish_via_partition_root = false)"),
      std::string::npos)
      << log();

  ASSERT_TRUE(start(write_config(tables))) << log();
  EXPECT_EQ(sql("SELECT pubviaroot FROM pg_publication WHERE pubname = '" + publication_ + "'"),
            "f");
  set("unrelated:5");
  sql("INSERT INTO ev5 VALUES (1, 5, 'a')");
  sql("TRUNCATE ev5_a");
  EXPECT_TRUE(eventually([] { return invalidated("unrelated:5"); }, 5s)) << log();
}

// REPLICA IDENTITY is per partition: ALTER TABLE on the parent does not reach them.
TEST_F(SchemaTest, PartitionWithoutTheIdentityATemplateNeeds_IsRefusedAtStart) {
  create_partitioned("ev6");
  sql("ALTER TABLE ev6 REPLICA IDENTITY FULL; ALTER TABLE ev6_b REPLICA IDENTITY FULL");
  EXPECT_EQ(start_refused(write_config(R"({"public.ev6": ["ev6:{id}", "ev6_by_title:{title}"]})")),
            1);
  auto text = log();
  EXPECT_NE(text.find("partition public.ev6_a"), std::string::npos) << text;
  EXPECT_NE(text.find("ALTER TABLE public.ev6_a REPLICA IDENTITY FULL"), std::string::npos) << text;
}

// The rows of a detached partition leave the table without a DELETE: only a flush removes them.
TEST_F(SchemaTest, PartitionDetached_FlushesTheRegion) {
  create_partitioned("ev12");
  sql("INSERT INTO ev12 VALUES (1, 15, 'in b')");
  ASSERT_TRUE(start(write_config(R"({"public.ev12": ["ev12:{id}"]})"))) << log();
  set("ev12:1");
  sql("ALTER TABLE ev12 DETACH PARTITION ev12_b");
  EXPECT_TRUE(eventually([] { return invalidated("ev12:1"); }, 5s)) << log();
  EXPECT_GE(metric(R"(mcinval_schema_changes_total{change="partitions"})"), 1) << log();
}

// --- Tables changed after start-up --------------------------------------------------------------

TEST_F(SchemaTest, RenamedTable_KeepsBeingInvalidated_AndTheLogSaysSo) {
  sql("CREATE TABLE t7 (id bigint PRIMARY KEY, name text)");
  ASSERT_TRUE(start(write_config(R"({"public.t7": ["t7:{id}"]})"))) << log();
  sql("ALTER TABLE t7 RENAME TO t7_renamed");
  set("t7:1");
  sql("INSERT INTO t7_renamed VALUES (1, 'a')");
  EXPECT_TRUE(eventually([] { return invalidated("t7:1"); }, 5s)) << log();
  EXPECT_NE(log().find("public.t7 is now public.t7_renamed"), std::string::npos) << log();
}

TEST_F(SchemaTest, DroppedAndRecreatedTable_IsPublishedAgain_AndTheRegionFlushed) {
  sql("CREATE TABLE t8 (id bigint PRIMARY KEY, name text); INSERT INTO t8 VALUES (1, 'a')");
  ASSERT_TRUE(start(write_config(R"({"public.t8": ["t8:{id}"]})"))) << log();
  set("t8:1");
  set("unrelated:8");
  sql("DROP TABLE t8; CREATE TABLE t8 (id bigint PRIMARY KEY, name text)");
  // The old rows vanished without a DELETE: only a flush can remove their keys.
  EXPECT_TRUE(eventually([] { return invalidated("t8:1") && invalidated("unrelated:8"); }, 8s))
      << log();
  EXPECT_TRUE(eventually(
      [&] {
        return sql("SELECT count(*) FROM pg_publication_tables WHERE pubname = '" + publication_ +
                   "' AND tablename = 't8'") == "1";
      },
      5s))
      << log();
  set("t8:2");
  sql("INSERT INTO t8 VALUES (2, 'b')");
  EXPECT_TRUE(eventually([] { return invalidated("t8:2"); }, 5s)) << log();
  EXPECT_GE(metric(R"(mcinval_schema_changes_total{change="dropped"})"), 1) << log();
}

TEST_F(SchemaTest, ReplicaIdentityFullToDefault_FlushesTheRegion_CountsAndLogsIt) {
  sql("CREATE TABLE t9 (id bigint PRIMARY KEY, username text);"
      "ALTER TABLE t9 REPLICA IDENTITY FULL; INSERT INTO t9 VALUES (1, 'ann')");
  ASSERT_TRUE(start(write_config(R"({"public.t9": ["t9:{id}", "t9_by_name:{username}"]})")))
      << log();
  sql("ALTER TABLE t9 REPLICA IDENTITY DEFAULT");
  set("t9_by_name:ann");
  set("unrelated:9");
  sql("UPDATE t9 SET username = 'bob' WHERE id = 1");
  EXPECT_TRUE(eventually([] { return invalidated("t9_by_name:ann"); }, 5s))
      << "the old name's key stayed cached: " << log();
  EXPECT_TRUE(invalidated("unrelated:9")) << "expected a region flush";
  EXPECT_GE(metric(R"(mcinval_schema_changes_total{change="replica_identity"})"), 1) << log();
  EXPECT_GE(metric("mcinval_unnamed_changes_total"), 1) << log();
  auto text = log();
  EXPECT_NE(text.find(" error [invalidator dc1] schema change: public.t9"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ALTER TABLE public.t9 REPLICA IDENTITY FULL"), std::string::npos) << text;
}

TEST_F(SchemaTest, TemplateColumnDropped_FlushesAndKeepsInvalidatingTheOtherTables) {
  sql("CREATE TABLE t10 (id bigint PRIMARY KEY, email text); ALTER TABLE t10 REPLICA IDENTITY FULL;"
      "CREATE TABLE o10 (id bigint PRIMARY KEY)");
  ASSERT_TRUE(start(write_config(
      R"({"public.t10": ["t10:{id}", "t10_by_email:{email}"], "public.o10": ["o10:{id}"]})")))
      << log();
  sql("ALTER TABLE t10 DROP COLUMN email");
  set("t10_by_email:a@example.com");
  sql("INSERT INTO t10 VALUES (1)");
  EXPECT_TRUE(eventually([] { return invalidated("t10_by_email:a@example.com"); }, 5s)) << log();
  set("o10:1");
  sql("INSERT INTO o10 VALUES (1)");
  EXPECT_TRUE(eventually([] { return invalidated("o10:1"); }, 5s)) << log();
  EXPECT_GE(metric(R"(mcinval_schema_changes_total{change="columns"})"), 1) << log();
}

// --- One huge transaction -----------------------------------------------------------------------

// 200K rows, each naming its key twice (old and new image): removing duplicates by a linear
// search took minutes here; in O(1) per key it takes well under a second.
TEST_F(SchemaTest, HugeTransaction_TwoHundredThousandRows_AreInvalidatedInSeconds) {
  constexpr int kRows = 200000;
  sql("CREATE TABLE t11 (id bigint PRIMARY KEY, n int); ALTER TABLE t11 REPLICA IDENTITY FULL;"
      "INSERT INTO t11 SELECT g, 0 FROM generate_series(1, " +
      std::to_string(kRows) + ") g");
  ASSERT_TRUE(start(
      write_config(R"({"public.t11": ["t11:{id}"]})", "", R"(, "request_timeout_ms": 30000)")))
      << log();
  std::vector<std::string> sample;
  for (int id = 1; id <= kRows; id += kRows / 100) sample.push_back("t11:" + std::to_string(id));
  sample.push_back("t11:" + std::to_string(kRows));
  for (const auto& k : sample) set(k);
  sql("UPDATE t11 SET n = n + 1");
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& k : sample)
          if (!invalidated(k)) return false;
        return true;
      },
      30s))
      << log();
}

}  // namespace
}  // namespace mccache::testing
