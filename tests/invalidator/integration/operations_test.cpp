// Operations of the real invalidator binary against a real PostgreSQL 15 primary +
// replica and real memcached: a standby taking over after kill -9 under writes, slot loss (dropped
// or invalidated) under both policies, SIGHUP reload of the key templates, and a bounded SIGTERM
// while the stream is held.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

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
using Clock = std::chrono::steady_clock;

// The daemon's /metrics page and one unlabelled series of it (tests/invalidator/support).
std::string scrape(uint16_t port) { return scrape_metrics(port); }
double metric(uint16_t port, const std::string& name) { return metric_value(port, name); }

class OperationsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pg_ = new PgCluster(MCCACHE_SOURCE_DIR, 1);
    // Where the daemons keep their slot state, as systemd's StateDirectory= tells them.
    setenv("STATE_DIRECTORY", pg_->dir().c_str(), 1);
    mc_[0] = new MemcachedServer();
    mc_[1] = new MemcachedServer();
    Sql sql(pg_->primary());
    sql.query(
        "CREATE TABLE users (id bigint PRIMARY KEY, username text NOT NULL);"
        "ALTER TABLE users REPLICA IDENTITY FULL;");
  }
  static void TearDownTestSuite() {
    delete mc_[0];
    delete mc_[1];
    delete pg_;
  }
  void SetUp() override { daemons_.reserve(16); }  // start() hands out references into it
  void TearDown() override {
    for (auto& d : daemons_)
      if (d.pid > 0) stop_process(d.pid, SIGKILL);
  }

  struct Daemon {
    pid_t pid = -1;
    uint16_t metrics_port = 0;
    std::string log;
  };

  static std::vector<config::HostPort> servers() {
    return {{"127.0.0.1", mc_[0]->port()}, {"127.0.0.1", mc_[1]->port()}};
  }
  static MemcachedServer& server_for(const std::string& key) {
    pool::KetamaRing ring(servers());
    return *mc_[ring.server_for(key)];
  }

  // A config for slot `slot`; `name` tells the files of several daemons apart.
  std::string write_config(const std::string& name, const std::string& slot, uint16_t metrics_port,
                           const std::string& source_extra = "",
                           const std::string& tables = R"({"public.users": ["user:{id}"]})") {
    std::string path = pg_->dir() + "/" + name + ".json";
    std::ofstream(path) << R"({"datacenter": "dc1", "pool": {"servers": [")"
                        << mc_[0]->endpoint() << R"(", ")" << mc_[1]->endpoint() << R"("]},
 "invalidator": {"metrics_listen": "127.0.0.1:)"
                        << metrics_port << R"(",
   "source": {"dsn": ")" << pg_->primary() << R"(", "slot": ")" << slot
                        << R"(", "standby_retry_ms": 200)" << source_extra << R"(},
   "wait_for_replay": ")" << pg_->replica() << R"(",
   "tables": )" << tables << R"(,
   "shutdown_timeout_ms": 1000,
   "delivery": {"retry_initial_ms": 50, "retry_max_ms": 200, "request_timeout_ms": 300}}})";
    return path;
  }

  // Starts the binary with `config` (written for `metrics_port`); waits for its metrics port.
  Daemon& start(const std::string& config, uint16_t metrics_port, const std::string& name) {
    Daemon d;
    d.metrics_port = metrics_port;
    d.log = pg_->dir() + "/" + name + "-" + std::to_string(daemons_.size()) + ".log";
    d.pid = spawn({std::string(MCCACHE_BIN_DIR) + "/invalidator", "--config", config}, d.log);
    daemons_.push_back(d);
    EXPECT_TRUE(wait_for_port(metrics_port, 15s)) << read_file(d.log);
    return daemons_.back();
  }

  static void set(const std::string& key) { cache_value(server_for(key), key); }
  static bool invalidated(const std::string& key) { return is_invalidated(server_for(key), key); }
  // The region's watermark key of `source` holds a value (docs/invalidator.md).
  static bool watermark_present(const std::string& source = "default") {
    return !invalidated("mccache:applied_lsn:" + source);
  }
  static bool all_invalidated(int from, int to) {
    for (int i = from; i <= to; ++i)
      if (!invalidated("user:" + std::to_string(i))) return false;
    return true;
  }
  static bool slot_exists(const std::string& slot) {
    Sql sql(pg_->primary());
    return sql.query("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + slot +
                     "'") == "1";
  }
  static bool slot_active(const std::string& slot) {
    Sql sql(pg_->primary());
    return sql.query("SELECT active FROM pg_replication_slots WHERE slot_name = '" + slot + "'") ==
           "t";
  }
  // pg_drop_replication_slot needs the slot inactive, and the daemon reconnects at once when its
  // walsender ends: so refuse new connections in pg_hba.conf for the moment of the drop (logical
  // replication connections match database lines, not "replication" ones; the daemon retries),
  // end the walsender, wait for it to release the slot, drop, restore the file.
  static bool drop_slot_under_daemon(const std::string& slot) {
    Sql sql(pg_->primary());
    std::string hba = sql.query("SHOW hba_file");
    std::string original = read_file(hba);
    std::ofstream(hba) << "local all all reject\nhost all all all reject\n" << original;
    sql.query("SELECT pg_reload_conf()");
    std::this_thread::sleep_for(300ms);  // the postmaster rereads the file asynchronously
    std::string last_error;
    bool dropped = eventually([&] {
      try {
        sql.query("DO $$ BEGIN PERFORM pg_terminate_backend(active_pid, 3000)"
                  " FROM pg_replication_slots WHERE slot_name = '" + slot +
                  "' AND active_pid IS NOT NULL;"
                  " FOR i IN 1..3000 LOOP"
                  "   EXIT WHEN NOT (SELECT active FROM pg_replication_slots"
                  "                  WHERE slot_name = '" + slot + "');"
                  "   PERFORM pg_sleep(0.001);"
                  " END LOOP;"
                  " PERFORM pg_drop_replication_slot('" + slot + "'); END $$");
        return true;
      } catch (const std::exception& e) {
        last_error = e.what();
        return false;
      }
    }, 10s);
    std::ofstream(hba) << original;
    sql.query("SELECT pg_reload_conf()");
    EXPECT_TRUE(dropped) << last_error;
    return dropped;
  }

  // The other way a slot is lost: it falls further behind than max_slot_wal_keep_size (here while
  // a down memcached server holds the slot's position) and a checkpoint invalidates it (wal_status
  // 'lost').
  // `key_id` is a users row whose key's server is stopped meanwhile.
  static void invalidate_slot_under_daemon(const std::string& slot, uint16_t port, int key_id,
                                           const std::string& log) {
    Sql sql(pg_->primary());
    auto& server = server_for("user:" + std::to_string(key_id));
    server.kill9();
    sql.query("INSERT INTO users VALUES (" + std::to_string(key_id) + ", 'held')");
    ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_stream_held") == 1; }))
        << read_file(log);
    sql.query("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    sql.query("SELECT pg_reload_conf()");
    sql.query("CREATE TEMP TABLE filler (x int)");
    std::string wal_status;
    bool lost = eventually([&] {
      sql.query("INSERT INTO filler SELECT 1; SELECT pg_switch_wal()");
      sql.query("CHECKPOINT");
      wal_status =
          sql.query("SELECT wal_status FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
      return wal_status == "lost";
    }, 20s);
    sql.query("ALTER SYSTEM RESET max_slot_wal_keep_size");
    sql.query("SELECT pg_reload_conf()");
    server.start();
    ASSERT_TRUE(wait_for_port(server.port(), 5s));
    ASSERT_TRUE(lost) << "wal_status " << wal_status;
  }

  static PgCluster* pg_;
  static MemcachedServer* mc_[2];
  std::vector<Daemon> daemons_;
};

PgCluster* OperationsTest::pg_ = nullptr;
MemcachedServer* OperationsTest::mc_[2] = {nullptr, nullptr};

TEST_F(OperationsTest, Standby_TakesOverAfterKill9OfTheActive_UnderWrites_LosingNothing) {
  uint16_t pa = free_tcp_port(), pb = free_tcp_port();
  auto& a = start(write_config("sa", "standby", pa), pa, "standby_a");
  ASSERT_TRUE(eventually([&] { return metric(pa, "mcinval_active") == 1; })) << read_file(a.log);
  auto& b = start(write_config("sb", "standby", pb), pb, "standby_b");
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(metric(pb, "mcinval_active"), 0) << read_file(b.log);
  EXPECT_EQ(metric(pa, "mcinval_active"), 1);
  EXPECT_TRUE(eventually([&] { return metric(pa, "mcinval_applied_lsn") > 0; }));
  EXPECT_EQ(metric(pb, "mcinval_applied_lsn"), 0) << "a standby must never publish the watermark";

  // Writes: set each row's key, then commit the row; its invalidation must arrive whoever streams.
  std::atomic<int> last{1000};
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    Sql sql(pg_->primary());
    auto until = Clock::now() + 4s;
    for (int id = 1001; writing && Clock::now() < until; ++id) {
      set("user:" + std::to_string(id));
      sql.query("INSERT INTO users VALUES (" + std::to_string(id) + ", 'w" + std::to_string(id) +
                "')");
      last = id;
      std::this_thread::sleep_for(5ms);
    }
  });
  std::this_thread::sleep_for(1500ms);
  pid_t active = daemons_[0].pid;
  kill(active, SIGKILL);
  waitpid(active, nullptr, 0);
  daemons_[0].pid = -1;
  auto killed_at = Clock::now();
  EXPECT_TRUE(eventually([&] { return metric(pb, "mcinval_active") == 1; }, 5s))
      << read_file(daemons_[1].log);
  auto takeover = Clock::now() - killed_at;
  EXPECT_LT(takeover, 5s);
  writer.join();
  ASSERT_GT(last.load(), 1010);
  EXPECT_TRUE(eventually([&] { return all_invalidated(1001, last.load()); }, 20s))
      << "rows 1001.." << last.load() << "\n" << read_file(daemons_[1].log);
  EXPECT_TRUE(eventually([&] { return metric(pb, "mcinval_applied_lsn") > 0; }))
      << "the new active one publishes what it confirmed itself";
}

TEST_F(OperationsTest, SlotDroppedUnderHalt_StopsStreaming_SaysSo_AndNeverRecreatesIt) {
  uint16_t port = free_tcp_port();
  std::string state = pg_->dir() + "/halt.state";
  auto config = write_config("halt", "halted", port, R"(, "state_file": ")" + state + "\"");
  auto& d = start(config, port, "halt");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  ASSERT_TRUE(eventually([] { return watermark_present(); }));
  ASSERT_TRUE(drop_slot_under_daemon("halted"));
  EXPECT_TRUE(eventually([&] { return metric(port, "mcinval_slot_lost") == 1; }))
      << read_file(d.log);
  EXPECT_EQ(metric(port, "mcinval_active"), 0);
  // Withdrawn at once, well before its TTL (at least 2 s) would end it: what the lost slot
  // dropped is unknown.
  EXPECT_TRUE(eventually([] { return !watermark_present(); }, 1s));
  EXPECT_EQ(metric(port, "mcinval_applied_lsn"), 0);
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(slot_exists("halted")) << "a lost slot was silently replaced";
  auto log = read_file(d.log);
  EXPECT_NE(log.find("replication slot halted is lost"), std::string::npos) << log;

  // A restart finds the state file and does not create a slot either.
  stop_process(d.pid, SIGTERM);
  d.pid = -1;
  auto& again = start(config, port, "halt");
  EXPECT_TRUE(eventually([&] { return metric(port, "mcinval_slot_lost") == 1; }))
      << read_file(again.log);
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(slot_exists("halted"));
}

TEST_F(OperationsTest, SlotInvalidatedUnderHalt_IsReported_AndNotReplaced) {
  uint16_t port = free_tcp_port();
  auto& d = start(write_config("keep", "kept", port), port, "keep");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  invalidate_slot_under_daemon("kept", port, 5001, d.log);
  EXPECT_TRUE(eventually([&] { return metric(port, "mcinval_slot_lost") == 1; }))
      << read_file(d.log);
  EXPECT_EQ(metric(port, "mcinval_active"), 0);
  auto log = read_file(d.log);
  EXPECT_NE(log.find("replication slot kept is lost"), std::string::npos) << log;
  std::this_thread::sleep_for(500ms);
  Sql sql(pg_->primary());
  EXPECT_EQ(sql.query("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'kept'"),
            "lost")
      << "an invalidated slot was silently replaced";
  stop_process(d.pid, SIGKILL);
  d.pid = -1;
  sql.query("SELECT pg_drop_replication_slot('kept')");
}

TEST_F(OperationsTest, SlotInvalidatedUnderFlushRegion_FlushesThePool_ThenStreamsFromANewSlot) {
  uint16_t port = free_tcp_port();
  auto config = write_config("keepflush", "keptflush", port, R"(, "on_slot_lost": "flush_region")");
  auto& d = start(config, port, "keepflush");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  // Values on the server that stays up, cached before the loss: the flush must remove them (the
  // stopped server comes back empty anyway). The daemon keeps reading while that server is down,
  // so it may see the loss and flush as soon as the server is back.
  auto& stopped = server_for("user:5101");
  std::vector<std::string> cached;
  for (int i = 0; cached.size() < 2; ++i)
    if (auto k = "unrelated:" + std::to_string(i); &server_for(k) != &stopped) cached.push_back(k);
  for (const auto& k : cached) set(k);
  invalidate_slot_under_daemon("keptflush", port, 5101, d.log);
  EXPECT_TRUE(eventually([&] { return invalidated(cached[0]) && invalidated(cached[1]); }, 15s))
      << read_file(d.log);
  Sql sql(pg_->primary());
  EXPECT_TRUE(eventually([&] {
    return sql.query("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'keptflush'") ==
           "reserved";
  })) << read_file(d.log);
  set("user:5102");
  sql.query("INSERT INTO users VALUES (5102, 'after')");
  EXPECT_TRUE(eventually([] { return invalidated("user:5102"); })) << read_file(d.log);
}

TEST_F(OperationsTest, SlotDroppedUnderFlushRegion_FlushesThePool_ThenStreamsFromANewSlot) {
  uint16_t port = free_tcp_port();
  auto config = write_config("flush", "flushed", port, R"(, "on_slot_lost": "flush_region")");
  auto& d = start(config, port, "flush");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  set("unrelated:a");
  set("unrelated:b");
  ASSERT_TRUE(drop_slot_under_daemon("flushed"));
  EXPECT_TRUE(eventually([&] { return invalidated("unrelated:a") && invalidated("unrelated:b"); }))
      << read_file(d.log);
  EXPECT_TRUE(eventually([&] { return slot_active("flushed"); })) << read_file(d.log);
  EXPECT_EQ(metric(port, "mcinval_slot_lost"), 0);
  set("user:2001");
  Sql(pg_->primary()).query("INSERT INTO users VALUES (2001, 'after')");
  EXPECT_TRUE(eventually([] { return invalidated("user:2001"); })) << read_file(d.log);
}

TEST_F(OperationsTest, Sighup_SwapsTemplates_AndABrokenFileIsRefusedWhileTheOldKeepsRunning) {
  uint16_t port = free_tcp_port();
  auto config = write_config("reload", "reloaded", port);
  auto& d = start(config, port, "reload");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  Sql sql(pg_->primary());
  write_config("reload", "reloaded", port, "",
               R"({"public.users": ["user:{id}", "user_by_name:{username}"]})");
  kill(d.pid, SIGHUP);
  ASSERT_TRUE(eventually([&] { return read_file(d.log).find("reloaded ") != std::string::npos; }))
      << read_file(d.log);
  set("user_by_name:hup");
  sql.query("INSERT INTO users VALUES (3001, 'hup')");
  EXPECT_TRUE(eventually([] { return invalidated("user_by_name:hup"); })) << read_file(d.log);

  std::ofstream(config) << R"({"datacenter": "dc1", "pool": {"servers": []}})";
  kill(d.pid, SIGHUP);
  ASSERT_TRUE(eventually([&] {
    return read_file(d.log).find("reload refused, the running config stays") != std::string::npos;
  })) << read_file(d.log);
  EXPECT_NE(read_file(d.log).find("pool.servers: needs at least one memcached server"),
            std::string::npos);
  set("user_by_name:still");
  sql.query("INSERT INTO users VALUES (3002, 'still')");
  EXPECT_TRUE(eventually([] { return invalidated("user_by_name:still"); })) << read_file(d.log);
}

TEST_F(OperationsTest, SigtermWhileHeldByADownServer_ExitsInBoundedTime_AndRestartLosesNothing) {
  uint16_t port = free_tcp_port();
  auto config = write_config("held", "held", port);
  auto& d = start(config, port, "held");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  auto& server = server_for("user:4001");
  server.kill9();
  Sql(pg_->primary()).query("INSERT INTO users SELECT g, 'h' || g FROM generate_series(4001, 4040) g");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_stream_held") == 1; }))
      << read_file(d.log);
  auto t0 = Clock::now();
  kill(d.pid, SIGTERM);
  int status = wait_exit(d.pid, 6s);  // shutdown_timeout_ms 1000 + a request timeout + slack
  auto took = Clock::now() - t0;
  d.pid = -1;
  EXPECT_EQ(status, 0) << read_file(d.log);
  EXPECT_LT(took, 3s) << read_file(d.log);

  server.start();
  ASSERT_TRUE(wait_for_port(server.port(), 5s));
  for (int i = 4001; i <= 4040; ++i) set("user:" + std::to_string(i));
  auto& again = start(config, port, "held");
  EXPECT_TRUE(eventually([] { return all_invalidated(4001, 4040); }, 15s)) << read_file(again.log);
}

TEST_F(OperationsTest, SigtermWhenIdle_ExitsPromptly) {
  uint16_t port = free_tcp_port();
  auto& d = start(write_config("idle", "idle", port), port, "idle");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  auto t0 = Clock::now();
  kill(d.pid, SIGTERM);
  EXPECT_EQ(wait_exit(d.pid, 5s), 0);
  d.pid = -1;
  EXPECT_LT(Clock::now() - t0, 700ms);
}

// Postgres over TLS with a password that lives only in a passfile: the invalidator's connections
// (replication stream, catalog, read gate) all use TLS, and the password never reaches its log;
// an inline password is warned about and not logged either.
TEST_F(OperationsTest, TlsAndPassfile_StreamOverTls_AndThePasswordIsNeverLogged) {
  Sql sql(pg_->primary());
  std::string dir = pg_->dir();
  // A self-signed server certificate; the key must belong to postgres and be private.
  std::string cmd = "openssl req -new -x509 -days 1 -nodes -subj /CN=127.0.0.1 -keyout " + dir +
                    "/server.key -out " + dir + "/server.crt >/dev/null 2>&1 && chmod 600 " +
                    dir + "/server.key" +
                    (geteuid() == 0 ? " && chown postgres " + dir + "/server.key " + dir +
                                          "/server.crt"
                                    : "");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const std::string password = "s3cret-Pa55word";
  sql.query("CREATE ROLE inval LOGIN SUPERUSER PASSWORD '" + password + "'");
  sql.query("ALTER SYSTEM SET ssl = on");
  sql.query("ALTER SYSTEM SET ssl_cert_file = '" + dir + "/server.crt'");
  sql.query("ALTER SYSTEM SET ssl_key_file = '" + dir + "/server.key'");
  std::string hba = sql.query("SHOW hba_file");
  std::string original = read_file(hba);
  std::ofstream(hba) << "hostssl all inval all scram-sha-256\nhost all inval all reject\n"
                     << original;
  sql.query("SELECT pg_reload_conf()");
  std::this_thread::sleep_for(500ms);
  std::string passfile = dir + "/pgpass";
  std::ofstream(passfile) << "*:*:*:inval:" << password << "\n";
  ::chmod(passfile.c_str(), 0600);

  // DSN of the primary with the tls user: "host=... port=... dbname=app user=postgres".
  std::string dsn = pg_->primary();
  dsn.replace(dsn.find("user=postgres"), 13, "user=inval");
  uint16_t port = free_tcp_port();
  std::string path = dir + "/tls.json";
  auto write = [&](const std::string& source_dsn) {
    std::ofstream(path) << R"({"datacenter": "dc1", "pool": {"servers": [")"
                        << mc_[0]->endpoint() << R"(", ")" << mc_[1]->endpoint() << R"("]},
 "invalidator": {"metrics_listen": "127.0.0.1:)" << port << R"(",
   "source": {"dsn": ")" << source_dsn << R"(", "slot": "tls"},
   "tables": {"public.users": ["user:{id}"]}}})";
  };
  write(dsn + " sslmode=require passfile=" + passfile);
  auto& d = start(path, port, "tls");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  set("user:8001");
  sql.query("INSERT INTO users VALUES (8001, 'tls')");
  EXPECT_TRUE(eventually([] { return invalidated("user:8001"); })) << read_file(d.log);
  EXPECT_EQ(sql.query("SELECT bool_and(s.ssl)::text || count(*) FROM pg_stat_ssl s JOIN "
                      "pg_stat_activity a USING (pid) WHERE a.usename = 'inval'"),
            "true3")
      << "the replication stream, the read gate and the schema check must all use TLS";
  EXPECT_EQ(read_file(d.log).find(password), std::string::npos);
  stop_process(d.pid, SIGTERM);
  d.pid = -1;

  // An inline (and here wrong) password: a warning, retries, and still no password in the log.
  write(dsn + " sslmode=require password=wrong-" + password);
  auto& bad = start(path, port, "tls-inline");
  ASSERT_TRUE(eventually([&] {
    return read_file(bad.log).find("password authentication failed") != std::string::npos;
  })) << read_file(bad.log);
  auto log = read_file(bad.log);
  EXPECT_NE(log.find("carries its password inline"), std::string::npos) << log;
  EXPECT_EQ(log.find(password), std::string::npos) << log;
  stop_process(bad.pid, SIGKILL);
  bad.pid = -1;

  std::ofstream(hba) << original;
  sql.query("ALTER SYSTEM RESET ssl");
  sql.query("SELECT pg_reload_conf()");
}

// Sharded Postgres: one invalidator follows two primaries, shard "a" gated on its replica and
// shard "b" (no replica) on the primary's visibility; a held or down shard does not hold the other.
class ShardedTest : public OperationsTest {
 protected:
  static void SetUpTestSuite() {
    OperationsTest::SetUpTestSuite();
    shard_b_ = new PgCluster(MCCACHE_SOURCE_DIR, 0);
    Sql(shard_b_->primary())
        .query("CREATE TABLE users (id bigint PRIMARY KEY, username text NOT NULL);"
               "ALTER TABLE users REPLICA IDENTITY FULL;");
  }
  static void TearDownTestSuite() {
    delete shard_b_;
    OperationsTest::TearDownTestSuite();
  }

  std::string write_sharded_config(uint16_t metrics_port) {
    std::string path = pg_->dir() + "/sharded.json";
    std::ofstream(path) << R"({"datacenter": "dc1", "pool": {"servers": [")"
                        << mc_[0]->endpoint() << R"(", ")" << mc_[1]->endpoint() << R"("]},
 "invalidator": {"metrics_listen": "127.0.0.1:)" << metrics_port << R"(",
   "sources": [
     {"name": "a", "dsn": ")" << pg_->primary() << R"(", "wait_for_replay": ")"
                        << pg_->replica() << R"("},
     {"name": "b", "dsn": ")" << shard_b_->primary() << R"("}],
   "tables": {"public.users": ["user:{id}"]},
   "delivery": {"retry_initial_ms": 50, "retry_max_ms": 200, "request_timeout_ms": 300}}})";
    return path;
  }

  static double labelled(uint16_t port, const std::string& name, const std::string& source) {
    auto text = scrape(port);
    auto series = "\n" + name + "{source=\"" + source + "\"} ";
    auto at = text.find(series);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size()));
  }

  static PgCluster* shard_b_;
};

PgCluster* ShardedTest::shard_b_ = nullptr;

TEST_F(ShardedTest, TwoPrimaries_EachStreamsItsOwnSlot_AndOneHeldOrDownShardDoesNotHoldTheOther) {
  uint16_t port = free_tcp_port();
  auto& d = start(write_sharded_config(port), port, "sharded");
  ASSERT_TRUE(eventually([&] {
    return labelled(port, "mcinval_active", "a") == 1 && labelled(port, "mcinval_active", "b") == 1;
  })) << read_file(d.log);
  Sql a(pg_->primary());
  Sql b(shard_b_->primary());
  EXPECT_EQ(a.query("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'mcinval_dc1_a'"),
            "1");
  EXPECT_EQ(b.query("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'mcinval_dc1_b'"),
            "1");

  // A change on each shard invalidates its keys.
  set("user:6001");
  set("user:6002");
  a.query("INSERT INTO users VALUES (6001, 'on a')");
  b.query("INSERT INTO users VALUES (6002, 'on b')");
  EXPECT_TRUE(eventually([] { return invalidated("user:6001") && invalidated("user:6002"); }))
      << read_file(d.log);
  // One watermark per shard, named after its source.
  EXPECT_TRUE(eventually([] { return watermark_present("a") && watermark_present("b"); }));
  EXPECT_GT(labelled(port, "mcinval_applied_lsn", "a"), 0);
  EXPECT_FALSE(watermark_present()) << "named sources have no `default` watermark";

  // Shard a is held (its replica stops replaying): shard b's changes still go through.
  Sql replica(pg_->replica());
  replica.query("SELECT pg_wal_replay_pause()");
  set("user:6011");
  set("user:6012");
  a.query("INSERT INTO users VALUES (6011, 'held on a')");
  b.query("INSERT INTO users VALUES (6012, 'free on b')");
  EXPECT_TRUE(eventually([] { return invalidated("user:6012"); })) << read_file(d.log);
  EXPECT_FALSE(invalidated("user:6011")) << "deleted before shard a's replica replayed it";
  replica.query("SELECT pg_wal_replay_resume()");
  EXPECT_TRUE(eventually([] { return invalidated("user:6011"); })) << read_file(d.log);

  // Shard b's primary goes down: shard a keeps streaming; b resumes when its primary is back.
  shard_b_->stop_primary();
  EXPECT_TRUE(eventually([&] { return labelled(port, "mcinval_active", "b") == 0; }))
      << read_file(d.log);
  set("user:6021");
  a.query("INSERT INTO users VALUES (6021, 'a while b is down')");
  EXPECT_TRUE(eventually([] { return invalidated("user:6021"); })) << read_file(d.log);
  shard_b_->restart();
  Sql b2(shard_b_->primary());
  set("user:6022");
  b2.query("INSERT INTO users VALUES (6022, 'b is back')");
  EXPECT_TRUE(eventually([] { return invalidated("user:6022"); }, 20s)) << read_file(d.log);
  EXPECT_EQ(labelled(port, "mcinval_active", "b"), 1);
}

// A pool server is down and mcproxy keeps its keys in the gutter pool: the invalidator must delete
// them there too (at once, while the down server still holds the stream), so no stale value
// survives an invalidation in the gutter.
TEST_F(OperationsTest, GutterOn_DownServersKeyInTheGutter_IsInvalidatedThere) {
  MemcachedServer gutter;
  uint16_t port = free_tcp_port(), proxy_port = free_tcp_port();
  std::string path = pg_->dir() + "/gutter.json";
  std::ofstream(path) << R"({"datacenter": "dc1",
 "pool": {"servers": [")" << mc_[0]->endpoint() << R"(", ")" << mc_[1]->endpoint() << R"("],
          "gutter": {"servers": [")" << gutter.endpoint() << R"("], "ttl_s": 60}},
 "mcproxy": {"listen": "127.0.0.1:)" << proxy_port << R"(",
             "backend": {"failures_until_down": 1, "request_timeout_ms": 300,
                         "connect_timeout_ms": 300, "probe_interval_ms": 200}},
 "invalidator": {"metrics_listen": "127.0.0.1:)" << port << R"(",
   "source": {"dsn": ")" << pg_->primary() << R"(", "slot": "guttered"},
   "tables": {"public.users": ["user:{id}"]},
   "delivery": {"retry_initial_ms": 50, "retry_max_ms": 200, "request_timeout_ms": 300}}})";
  auto& d = start(path, port, "gutter");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  std::string proxy_log = pg_->dir() + "/gutter-mcproxy.log";
  pid_t proxy = spawn({std::string(MCCACHE_BIN_DIR) + "/mcproxy", "--config", path}, proxy_log);
  daemons_.push_back({proxy, 0, proxy_log});
  ASSERT_TRUE(wait_for_port(proxy_port, 10s)) << read_file(proxy_log);

  const std::string key = "user:7001";
  auto& owner = server_for(key);
  owner.kill9();
  // Once mcproxy marks the owner down, the set lands in the gutter.
  ASSERT_TRUE(eventually([&] {
    LineClient c(proxy_port);
    return c.call("set " + key + " 0 0 3\r\nold\r\n") == "STORED\r\n";
  })) << read_file(proxy_log);
  {
    LineClient g(gutter.port());
    ASSERT_EQ(g.call("mg " + key + " v\r\n").rfind("VA 3", 0), 0u) << "not in the gutter";
  }
  Sql(pg_->primary()).query("INSERT INTO users VALUES (7001, 'gutter')");
  EXPECT_TRUE(eventually([&] {
    LineClient g(gutter.port());
    auto r = g.call("mg " + key + " v\r\n");
    if (r.rfind("EN", 0) == 0) return true;
    r += g.read_until("\r\n");
    return r.find(" X") != std::string::npos;
  })) << "the gutter copy survived the invalidation\n" << read_file(d.log);
  {
    LineClient c(proxy_port);
    EXPECT_EQ(c.call("get " + key + "\r\n"), "END\r\n") << "mcproxy served the old value";
  }
  EXPECT_EQ(metric(port, "mcinval_stream_held"), 1) << "the down owner must still hold the stream";
  owner.start();
  ASSERT_TRUE(wait_for_port(owner.port(), 5s));
  EXPECT_TRUE(eventually([&] { return metric(port, "mcinval_stream_held") == 0; }))
      << read_file(d.log);
}

// A slot dropped and created again between two runs streams from its new start, after changes
// nobody saw: the state file's last confirmed position catches it (the slot exists, the system
// identifier matches, so the file used to accept it).
TEST_F(OperationsTest, SlotReplacedWhileStopped_StartsAfterTheRecordedPosition_IsSlotLoss) {
  uint16_t port = free_tcp_port();
  std::string state = pg_->dir() + "/replaced.state";
  auto config = write_config("replaced", "replaced", port, R"(, "state_file": ")" + state + "\"");
  auto& d = start(config, port, "replaced");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  Sql sql(pg_->primary());
  sql.query("INSERT INTO users VALUES (9001, 'before')");
  auto lsn = sql.query("SELECT pg_current_wal_insert_lsn()");
  ASSERT_TRUE(eventually([&] {
    return sql.query("SELECT confirmed_flush_lsn >= '" + lsn +
                     "' FROM pg_replication_slots WHERE slot_name = 'replaced'") == "t";
  })) << read_file(d.log);
  stop_process(d.pid, SIGTERM);
  d.pid = -1;
  // Dropped; a change the region never sees; created again.
  sql.query("SELECT pg_drop_replication_slot('replaced')");
  set("user:9002");
  sql.query("INSERT INTO users VALUES (9002, 'lost')");
  sql.query("SELECT pg_create_logical_replication_slot('replaced', 'pgoutput')");
  auto& again = start(config, port, "replaced");
  EXPECT_TRUE(eventually([&] { return metric(port, "mcinval_slot_lost") == 1; }))
      << read_file(again.log);
  EXPECT_EQ(metric(port, "mcinval_active"), 0);
  auto log = read_file(again.log);
  EXPECT_NE(log.find("after the last position this invalidator confirmed"), std::string::npos)
      << log;
  EXPECT_FALSE(invalidated("user:9002")) << "halt streams nothing";
}

// The safe setting is the default: without source.state_file the state lives under the state
// directory ($STATE_DIRECTORY here, as systemd's StateDirectory= sets it), so a slot dropped while
// the daemon was stopped is slot loss after a restart, not a silent new slot.
TEST_F(OperationsTest, DefaultStateFile_UnderTheStateDirectory_MakesADroppedSlotSlotLoss) {
  uint16_t port = free_tcp_port();
  auto config = write_config("defaultstate", "defaultstate", port);
  auto& d = start(config, port, "defaultstate");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  std::this_thread::sleep_for(300ms);
  stop_process(d.pid, SIGTERM);
  d.pid = -1;
  EXPECT_NE(read_file(pg_->dir() + "/defaultstate.state").find("slot defaultstate"),
            std::string::npos);
  Sql sql(pg_->primary());
  sql.query("SELECT pg_drop_replication_slot('defaultstate')");
  auto& again = start(config, port, "defaultstate");
  EXPECT_TRUE(eventually([&] { return metric(port, "mcinval_slot_lost") == 1; }))
      << read_file(again.log);
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(slot_exists("defaultstate")) << "a lost slot was silently replaced";
}

// A slot that exists but that no state file records (created by hand, or the file was lost) may
// start after changes this region never saw: slot loss, under the policy ("flush_region" here:
// the pool is flushed, then the slot streams). invalidator.state_dir names the directory.
TEST_F(OperationsTest, ExistingSlotThatNoStateFileRecords_IsSlotLoss_AndFlushRegionRecovers) {
  uint16_t port = free_tcp_port();
  std::string dir = pg_->dir() + "/state-by-field";
  Sql sql(pg_->primary());
  sql.query("SELECT pg_create_logical_replication_slot('unrecorded', 'pgoutput')");
  set("unrelated:u1");
  auto config =
      write_config("unrecorded", "unrecorded", port, R"(, "on_slot_lost": "flush_region")");
  // The state directory from the config instead of the environment.
  auto text = read_file(config);
  text.replace(text.find(R"("invalidator": {)"), 16,
               R"("invalidator": {"state_dir": ")" + dir + R"(", )");
  std::ofstream(config) << text;
  auto& d = start(config, port, "unrecorded");
  EXPECT_TRUE(eventually([] { return invalidated("unrelated:u1"); })) << read_file(d.log);
  EXPECT_NE(read_file(d.log).find("no state file records it"), std::string::npos)
      << read_file(d.log);
  EXPECT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  EXPECT_NE(read_file(dir + "/unrecorded.state").find("confirmed_lsn"), std::string::npos);
  set("user:9101");
  sql.query("INSERT INTO users VALUES (9101, 'after')");
  EXPECT_TRUE(eventually([] { return invalidated("user:9101"); })) << read_file(d.log);
}

// SIGHUP with another pool: mcproxy routes by it at once, so the invalidator must too. A key that
// moved to a server added to the pool is deleted there; a key held for a server that left the
// pool (down) is placed over the new pool and delivered, so that server no longer holds the slot.
TEST_F(OperationsTest, SighupWithAnotherPool_DeletesKeysWhereTheNewPoolPlacesThem) {
  MemcachedServer leaving;
  uint16_t port = free_tcp_port();
  auto pool = [&](const std::vector<const MemcachedServer*>& servers) {
    std::string out;
    for (const auto* m : servers) out += (out.empty() ? "\"" : ", \"") + m->endpoint() + "\"";
    return out;
  };
  std::string path = pg_->dir() + "/repool.json";
  auto write = [&](const std::string& servers) {
    std::ofstream(path) << R"({"datacenter": "dc1", "pool": {"servers": [)" << servers << R"(]},
 "invalidator": {"metrics_listen": "127.0.0.1:)"
                        << port << R"(",
   "source": {"dsn": ")" << pg_->primary()
                        << R"(", "slot": "repool"},
   "wait_for_replay": ")"
                        << pg_->replica() << R"(",
   "tables": {"public.users": ["user:{id}"]},
   "delivery": {"retry_initial_ms": 50, "retry_max_ms": 200, "request_timeout_ms": 300}}})";
  };
  write(pool({mc_[0], &leaving}));
  auto& d = start(path, port, "repool");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_active") == 1; })) << read_file(d.log);
  std::vector<config::HostPort> before{{"127.0.0.1", mc_[0]->port()},
                                       {"127.0.0.1", leaving.port()}};
  pool::KetamaRing old_ring(before);
  // A row whose key lives on the leaving server, which is down: its key is held.
  int held = 9200;
  while (old_ring.server_for("user:" + std::to_string(held)) != 1) ++held;
  leaving.kill9();
  Sql sql(pg_->primary());
  sql.query("INSERT INTO users VALUES (" + std::to_string(held) + ", 'held')");
  auto held_lsn = sql.query("SELECT pg_current_wal_insert_lsn()");
  ASSERT_TRUE(eventually([&] { return metric(port, "mcinval_stream_held") == 1; }))
      << read_file(d.log);

  write(pool({mc_[0], mc_[1]}));
  kill(d.pid, SIGHUP);
  ASSERT_TRUE(eventually([&] { return read_file(d.log).find("reloaded ") != std::string::npos; }))
      << read_file(d.log);
  EXPECT_TRUE(eventually([&] { return metric(port, "mcinval_stream_held") == 0; }))
      << "a server that left the pool still holds the slot\n"
      << read_file(d.log);
  EXPECT_TRUE(eventually([&] {
    return sql.query("SELECT confirmed_flush_lsn >= '" + held_lsn +
                     "' FROM pg_replication_slots WHERE slot_name = 'repool'") == "t";
  })) << read_file(d.log);
  // A key that the new pool places on the added server is deleted there.
  int moved = 9300;
  while (&server_for("user:" + std::to_string(moved)) != mc_[1]) ++moved;
  set("user:" + std::to_string(moved));
  sql.query("INSERT INTO users VALUES (" + std::to_string(moved) + ", 'moved')");
  EXPECT_TRUE(eventually([&] { return invalidated("user:" + std::to_string(moved)); }))
      << read_file(d.log);
}

}  // namespace
}  // namespace mccache::testing
