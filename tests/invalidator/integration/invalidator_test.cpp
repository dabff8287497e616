// The real invalidator binary against a real PostgreSQL 15 primary + streaming replica and real
// memcached servers: row changes, explicit keys, replica gating, a down server, kill -9, TRUNCATE,
// and refusal of a template the replica identity cannot serve.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "config/json_reader.h"
#include "invalidator/delivery/memcached_connection.h"
#include "invalidator/delivery/replay_gate.h"
#include "invalidator/pgoutput/stream_frame.h"
#include "pool/ketama.h"
#include "tests/invalidator/support/cache_checks.h"
#include "tests/invalidator/support/old_memcached.h"
#include "tests/invalidator/support/pg_cluster.h"
#include "tests/support/servers.h"
#include "tests/support/waiting.h"

namespace mccache::testing {
namespace {

using namespace std::chrono_literals;
using Gate = invalidator::delivery::ReplayGate::Outcome;

class InvalidatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Two replicas: the first is every test's gate; the second joins it in a multi-host gate DSN.
    pg_ = new PgCluster(MCCACHE_SOURCE_DIR, 2);
    // Where the daemons keep their slot state, as systemd's StateDirectory= tells them.
    setenv("STATE_DIRECTORY", pg_->dir().c_str(), 1);
    mc_[0] = new MemcachedServer();
    mc_[1] = new MemcachedServer();
    Sql sql(pg_->primary());
    sql.query(
        "CREATE TABLE users (id bigint PRIMARY KEY, username text NOT NULL, bio text);"
        "ALTER TABLE users REPLICA IDENTITY FULL;"
        "CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint NOT NULL, title text);"
        "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);");
  }
  static void TearDownTestSuite() {
    delete mc_[0];
    delete mc_[1];
    delete pg_;
  }
  void TearDown() override {
    stop_invalidator();
    // A test that failed half-way must not leave the next one without a server.
    for (auto* mc : mc_)
      if (!mc->running()) mc->start();
  }

  static std::vector<config::HostPort> servers() {
    return {{"127.0.0.1", mc_[0]->port()}, {"127.0.0.1", mc_[1]->port()}};
  }
  static MemcachedServer& server_for(const std::string& key) {
    pool::KetamaRing ring(servers());
    return *mc_[ring.server_for(key)];
  }

  static constexpr const char* kDelivery =
      R"("retry_initial_ms": 50, "retry_max_ms": 200, "request_timeout_ms": 500)";
  std::string write_config(const std::string& tables_json, const std::string& extra = "",
                           const std::string& delivery = kDelivery) {
    return write_custom_config(
        R"(")" + mc_[0]->endpoint() + R"(", ")" + mc_[1]->endpoint() + R"(")",
        R"("source": {"dsn": ")" + pg_->primary() + R"(", "slot": "it"},
   "wait_for_replay": ")" +
            pg_->replica() + R"(",)",
        tables_json + extra, delivery);
  }
  // A config with other pool servers (`servers`: the quoted list) or another source section.
  std::string write_custom_config(const std::string& servers, const std::string& source,
                                  const std::string& tables_json,
                                  const std::string& delivery = kDelivery) {
    metrics_port_ = free_tcp_port();
    std::string path = pg_->dir() + "/dc1.json";
    std::ofstream(path) << R"({"datacenter": "dc1", "pool": {"servers": [)" << servers << R"(]},
 "invalidator": {"metrics_listen": "127.0.0.1:)"
                        << metrics_port_ << R"(",
   )" << source << R"(
   "tables": )" << tables_json
                        << R"(,
   "delivery": {)" << delivery
                        << R"(}}})";
    return path;
  }

  static std::string default_tables() {
    return R"({"public.users": ["user:{id}", "user_by_name:{username}"],
               "public.posts": ["post:{id}"]})";
  }

  // Starts the binary; true once its metrics port is open (start-up checks passed).
  bool start_invalidator(const std::string& config) {
    log_ = pg_->dir() + "/invalidator.log";
    pid_ = spawn({std::string(MCCACHE_BIN_DIR) + "/invalidator", "--config", config}, log_);
    return wait_for_port(metrics_port_, 10s);
  }
  void stop_invalidator(int signal = SIGTERM) {
    if (pid_ > 0) stop_process(pid_, signal);
    pid_ = -1;
  }

  static void set(const std::string& key) { cache_value(server_for(key), key); }
  static bool invalidated(const std::string& key) { return is_invalidated(server_for(key), key); }

  // The first id from `from` on whose users row the key user:<id> lives on another server.
  static int user_on_another_server(const MemcachedServer& server, int from) {
    while (&server_for("user:" + std::to_string(from)) == &server) ++from;
    return from;
  }

  static std::string slot_confirmed_lsn() {
    Sql sql(pg_->primary());
    return sql.query("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'it'");
  }
  static bool lsn_at_least(const std::string& a, const std::string& b) {
    Sql sql(pg_->primary());
    return sql.query("SELECT '" + a + "'::pg_lsn >= '" + b + "'::pg_lsn") == "t";
  }

  static PgCluster* pg_;
  static MemcachedServer* mc_[2];
  uint16_t metrics_port_ = 0;
  pid_t pid_ = -1;
  std::string log_;
};

PgCluster* InvalidatorTest::pg_ = nullptr;
MemcachedServer* InvalidatorTest::mc_[2] = {nullptr, nullptr};

TEST_F(InvalidatorTest, InsertUpdateDelete_InvalidateTheRowsKeys_AndRenameInvalidatesBothNames) {
  ASSERT_TRUE(start_invalidator(write_config(default_tables()))) << read_file(log_);
  Sql sql(pg_->primary());
  for (auto k : {"user:101", "user_by_name:ann"}) set(k);
  sql.query("INSERT INTO users VALUES (101, 'ann', NULL)");
  EXPECT_TRUE(
      eventually([] { return invalidated("user:101") && invalidated("user_by_name:ann"); }));

  for (auto k : {"user:101", "user_by_name:ann", "user_by_name:anna", "user:102"}) set(k);
  sql.query("UPDATE users SET username = 'anna' WHERE id = 101");
  EXPECT_TRUE(eventually([] {
    return invalidated("user:101") && invalidated("user_by_name:ann") &&
           invalidated("user_by_name:anna");
  }));
  EXPECT_FALSE(invalidated("user:102"));

  set("post:7");
  sql.query("INSERT INTO posts VALUES (7, 101, 'hi')");
  EXPECT_TRUE(eventually([] { return invalidated("post:7"); }));
  set("post:7");
  set("user:101");
  sql.query("BEGIN; DELETE FROM posts WHERE id = 7; DELETE FROM users WHERE id = 101; COMMIT");
  EXPECT_TRUE(eventually([] { return invalidated("post:7") && invalidated("user:101"); }));
}

TEST_F(InvalidatorTest, ExplicitKeysInALogicalMessage_AreInvalidatedAtCommit) {
  ASSERT_TRUE(start_invalidator(write_config(default_tables()))) << read_file(log_);
  for (auto k : {"feed:1", "count:1", "feed:2"}) set(k);
  Sql sql(pg_->primary());
  sql.query("BEGIN");
  sql.query("SELECT pg_logical_emit_message(true, 'mcinval', 'feed:1 count:1')");
  sql.query("SELECT pg_logical_emit_message(true, 'other', 'feed:2')");
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(invalidated("feed:1")) << "invalidated before the transaction committed";
  sql.query("COMMIT");
  EXPECT_TRUE(eventually([] { return invalidated("feed:1") && invalidated("count:1"); }));
  EXPECT_FALSE(invalidated("feed:2"));
}

TEST_F(InvalidatorTest, PausedReplica_HoldsDeletesUntilItReplays) {
  ASSERT_TRUE(start_invalidator(write_config(default_tables()))) << read_file(log_);
  Sql replica(pg_->replica());
  Sql sql(pg_->primary());
  set("user:201");
  replica.query("SELECT pg_wal_replay_pause()");
  sql.query("INSERT INTO users VALUES (201, 'gated', NULL)");
  std::this_thread::sleep_for(800ms);
  EXPECT_FALSE(invalidated("user:201")) << "deleted before the local replica replayed the commit";
  replica.query("SELECT pg_wal_replay_resume()");
  EXPECT_TRUE(eventually([] { return invalidated("user:201"); }));
}

// The primary streams a commit a moment before the transaction is visible to new snapshots; the
// gate must see a transaction that is still running as not shown, whatever its LSN.
TEST_F(InvalidatorTest, ReadGateOnThePrimary_HoldsUntilTheTransactionIsVisible) {
  Sql writer(pg_->primary());
  writer.query("BEGIN");
  auto xid = static_cast<uint32_t>(std::stoull(writer.query("SELECT txid_current() % 4294967296")));
  invalidator::delivery::ReplayGate gate(pg_->primary());
  auto give_up_at = std::chrono::steady_clock::now() + 300ms;
  auto until_deadline = [&] { return std::chrono::steady_clock::now() < give_up_at; };
  EXPECT_EQ(gate.wait_for(0, {xid}, until_deadline, [] {}), Gate::kStopped)
      << "running xid " << xid;
  EXPECT_EQ(gate.wait_for(
                0, {xid - 1}, [] { return false; }, [] {}),
            Gate::kShown)
      << "an older, finished xid is visible";
  writer.query("COMMIT");
  EXPECT_EQ(gate.wait_for(
                0, {xid}, [] { return false; }, [] {}),
            Gate::kShown);
  // A transaction id the server has not handed out yet is not visible either.
  EXPECT_EQ(gate.wait_for(
                0, {xid + 1000}, [] { return false; }, [] {}),
            Gate::kStopped);
}

// On a replica the replay position is the test: an LSN it has not replayed holds the gate.
TEST_F(InvalidatorTest, ReadGateOnAReplica_HoldsUntilItReplaysTheLsn) {
  Sql replica(pg_->replica());
  Sql sql(pg_->primary());
  invalidator::delivery::ReplayGate gate(pg_->replica());
  replica.query("SELECT pg_wal_replay_pause()");
  sql.query("CREATE TABLE IF NOT EXISTS gate_probe (x int); INSERT INTO gate_probe VALUES (1)");
  invalidator::pgoutput::Lsn lsn = 0;
  ASSERT_TRUE(
      invalidator::pgoutput::parse_lsn(sql.query("SELECT pg_current_wal_insert_lsn()::text"), lsn));
  auto give_up_at = std::chrono::steady_clock::now() + 300ms;
  EXPECT_EQ(gate.wait_for(
                lsn, {}, [&] { return std::chrono::steady_clock::now() < give_up_at; }, [] {}),
            Gate::kStopped);
  replica.query("SELECT pg_wal_replay_resume()");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  EXPECT_EQ(gate.wait_for(
                lsn, {}, [&] { return std::chrono::steady_clock::now() < deadline; }, [] {}),
            Gate::kShown);
}

// A primary that cannot be queried is reported within 100 ms, not shown: the daemon holds the
// batch and lets go of its stream (a stopping primary's walsender waits for it). A replica that
// cannot be queried holds the gate until told to stop: it may lag once it is back.
TEST(ReadGate, UnreachablePrimary_IsReportedAtOnce_UnreachableReplica_Holds) {
  std::string nowhere =
      "host=127.0.0.1 port=" + std::to_string(free_tcp_port()) + " dbname=x user=x";
  invalidator::delivery::ReplayGate primary(nowhere, /*on_primary=*/true);
  auto start = std::chrono::steady_clock::now();
  auto give_up_at = start + 3s;
  auto until_deadline = [&] { return std::chrono::steady_clock::now() < give_up_at; };
  EXPECT_EQ(primary.wait_for(1, {1}, until_deadline, [] {}), Gate::kPrimaryUnreachable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  invalidator::delivery::ReplayGate replica(nowhere, /*on_primary=*/false);
  give_up_at = std::chrono::steady_clock::now() + 600ms;
  EXPECT_EQ(replica.wait_for(1, {}, until_deadline, [] {}), Gate::kStopped);
}

TEST_F(InvalidatorTest, DownMemcached_HoldsTheSlot_ThenDeliversAfterRestart) {
  ASSERT_TRUE(start_invalidator(write_config(default_tables()))) << read_file(log_);
  Sql sql(pg_->primary());
  auto& server = server_for("user:301");
  server.kill9();
  sql.query("INSERT INTO users VALUES (301, 'held', NULL)");
  auto commit_lsn = sql.query("SELECT pg_current_wal_insert_lsn()");
  std::this_thread::sleep_for(800ms);
  EXPECT_FALSE(lsn_at_least(slot_confirmed_lsn(), commit_lsn))
      << "slot confirmed past a transaction whose keys were not acknowledged";
  server.start();
  ASSERT_TRUE(wait_for_port(server.port(), 5s));
  EXPECT_TRUE(eventually([&] { return lsn_at_least(slot_confirmed_lsn(), commit_lsn); }, 15s));
}

TEST_F(InvalidatorTest, DownMemcached_OnlyItsKeysWait_TheOtherServersKeysAreStillInvalidated) {
  ASSERT_TRUE(start_invalidator(write_config(default_tables()))) << read_file(log_);
  Sql sql(pg_->primary());
  auto& down = server_for("user:311");
  int other = user_on_another_server(down, 1100);
  std::string healthy_key = "user:" + std::to_string(other);
  set(healthy_key);
  down.kill9();
  sql.query("INSERT INTO users VALUES (311, 'waits', NULL)");
  auto first_lsn = sql.query("SELECT pg_current_wal_insert_lsn()");
  sql.query("INSERT INTO users VALUES (" + std::to_string(other) + ", 'goes', NULL)");
  auto second_lsn = sql.query("SELECT pg_current_wal_insert_lsn()");
  EXPECT_TRUE(eventually([&] { return invalidated(healthy_key); }, 3s))
      << "a later transaction's key on a healthy server waited for the down server";
  EXPECT_FALSE(lsn_at_least(slot_confirmed_lsn(), first_lsn))
      << "slot confirmed past a transaction the down server has not acknowledged";
  down.start();
  ASSERT_TRUE(wait_for_port(down.port(), 5s));
  EXPECT_TRUE(eventually([&] { return lsn_at_least(slot_confirmed_lsn(), second_lsn); }, 15s));
}

// A hung server accepts and never answers: retrying it must not stall the healthy servers' keys
// for request_timeout_ms (500 ms here) each time.
TEST_F(InvalidatorTest, HungMemcached_RetriesStayShort_SoTheOtherServersKeysKeepFlowing) {
  ASSERT_TRUE(start_invalidator(write_config(default_tables()))) << read_file(log_);
  Sql sql(pg_->primary());
  auto& hung = server_for("user:341");
  struct Resume {
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{hung.pid()};
  stop_and_wait(hung.pid());
  sql.query("INSERT INTO users VALUES (341, 'hung', NULL)");
  std::this_thread::sleep_for(700ms);  // the first exchange times out; the server waits now
  std::vector<double> waits_ms;
  int id = 1300;  // ids of their own: where they end depends on the servers' ports
  for (int i = 0; i < 12; ++i) {
    id = user_on_another_server(hung, id + 1);
    auto key = "user:" + std::to_string(id);
    set(key);
    auto start = std::chrono::steady_clock::now();
    sql.query("INSERT INTO users VALUES (" + std::to_string(id) + ", 'flows" + std::to_string(id) +
              "', NULL)");
    ASSERT_TRUE(eventually([&] { return invalidated(key); }, 5s)) << read_file(log_);
    waits_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    std::this_thread::sleep_for(std::chrono::milliseconds(37 * (i % 4)));
  }
  // Probed retries block ≤ 100 ms (waits ≤ ~110 ms here); a 500 ms exchange per retry left
  // 4 of 12 waits at 370-520 ms. One slow wait is allowed for a busy machine.
  auto slow = std::count_if(waits_ms.begin(), waits_ms.end(), [](double w) { return w > 300; });
  EXPECT_LE(slow, 1) << ::testing::PrintToString(waits_ms);
}

// A restarted server refuses connects while it is down: cheap to retry, so its keys go out
// within the first backoff step once it is back, however long it was down.
TEST_F(InvalidatorTest, DownMemcached_BackAfterALongOutage_GetsItsKeysWithinTheFirstRetryStep) {
  ASSERT_TRUE(start_invalidator(
      write_config(default_tables(), "",
                   R"("retry_initial_ms": 50, "retry_max_ms": 3000, "request_timeout_ms": 500)")))
      << read_file(log_);
  Sql sql(pg_->primary());
  auto& down = server_for("user:361");
  down.kill9();
  sql.query("INSERT INTO users VALUES (361, 'outage', NULL)");
  auto commit_lsn = sql.query("SELECT pg_current_wal_insert_lsn()");
  std::this_thread::sleep_for(2s);  // a climbing ladder would wait 1.6 s, then 3 s, by now
  ASSERT_FALSE(lsn_at_least(slot_confirmed_lsn(), commit_lsn));
  down.start();
  ASSERT_TRUE(wait_for_port(down.port(), 5s));
  // A row on the same server written once it is back: its delete waits behind the held ones,
  // until the next retry.
  int id = 1400;
  while (&server_for("user:" + std::to_string(id)) != &down) ++id;
  auto key = "user:" + std::to_string(id);
  set(key);
  auto back = std::chrono::steady_clock::now();
  sql.query("INSERT INTO users VALUES (" + std::to_string(id) + ", 'back', NULL)");
  ASSERT_TRUE(eventually([&] { return invalidated(key); }, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - back, 600ms);
  EXPECT_TRUE(eventually([&] { return lsn_at_least(slot_confirmed_lsn(), commit_lsn); }, 10s));
}

TEST_F(InvalidatorTest, DownMemcached_UnderSkip_ItsKeysAreDroppedAfterTheLadder_AndTheSlotMovesOn) {
  ASSERT_TRUE(start_invalidator(
      write_config(default_tables(), "", std::string(kDelivery) + R"(, "on_server_down": "skip")")))
      << read_file(log_);
  Sql sql(pg_->primary());
  auto& down = server_for("user:371");
  down.kill9();
  sql.query("INSERT INTO users VALUES (371, 'skipped', NULL)");
  auto commit_lsn = sql.query("SELECT pg_current_wal_insert_lsn()");
  EXPECT_TRUE(eventually([&] { return lsn_at_least(slot_confirmed_lsn(), commit_lsn); }, 5s))
      << "the slot still waits for a server the policy gives up on";
  auto log = read_file(log_);
  EXPECT_NE(log.find("still down after retries; skipping"), std::string::npos) << log;
  down.start();
  ASSERT_TRUE(wait_for_port(down.port(), 5s));
}

TEST_F(InvalidatorTest, DownMemcached_AtMaxHeldKeys_ReadingPausesUntilItAnswers) {
  ASSERT_TRUE(start_invalidator(
      write_config(default_tables(), "", std::string(kDelivery) + R"(, "max_held_keys": 2)")))
      << read_file(log_);
  Sql sql(pg_->primary());
  auto& down = server_for("user:321");
  int other = user_on_another_server(down, 1200);
  std::string healthy_key = "user:" + std::to_string(other);
  set(healthy_key);
  down.kill9();
  // Two keys (user:321, user_by_name:paused) reach the bound while the server is down...
  sql.query("INSERT INTO users VALUES (321, 'paused', NULL)");
  std::this_thread::sleep_for(500ms);
  sql.query("INSERT INTO users VALUES (" + std::to_string(other) + ", 'after', NULL)");
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(invalidated(healthy_key)) << "read past max_held_keys";
  // ...and reading resumes once it answers.
  down.start();
  ASSERT_TRUE(wait_for_port(down.port(), 5s));
  EXPECT_TRUE(eventually([&] { return invalidated(healthy_key); }, 10s));
  EXPECT_NE(read_file(log_).find("reading the stream pauses"), std::string::npos)
      << read_file(log_);
}

// A host that is gone never answers the SYN. Here a listener whose accept queue is full drops
// them the same way; the retry must give up on the connect long before request_timeout_ms.
TEST(MemcachedConnection, HostThatNeverAnswersTheConnect_GivesUpWithinTheConnectTimeout) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    fillers.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    ::connect(fillers.back(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  std::this_thread::sleep_for(100ms);
  invalidator::delivery::MemcachedConnection conn({"127.0.0.1", ntohs(addr.sin_port)}, 5s);
  invalidator::delivery::MetaReplyScanner replies;
  auto start = std::chrono::steady_clock::now();
  auto done = conn.exchange("mn\r\n", replies);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().message, "connect: timed out");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  for (int fd : fillers) ::close(fd);
  ::close(listener);
}

TEST_F(InvalidatorTest, Kill9MidStream_ThenRestart_LosesNothing) {
  ASSERT_TRUE(start_invalidator(write_config(default_tables()))) << read_file(log_);
  Sql sql(pg_->primary());
  // Hold the stream on a dead server so the next commits are read but never confirmed...
  auto& server = server_for("user:401");
  server.kill9();
  sql.query("INSERT INTO users SELECT g, 'bulk' || g, NULL FROM generate_series(401, 450) g");
  std::this_thread::sleep_for(500ms);
  stop_invalidator(SIGKILL);  // ...then crash.
  server.start();
  ASSERT_TRUE(wait_for_port(server.port(), 5s));
  for (int i = 401; i <= 450; ++i) set("user:" + std::to_string(i));
  ASSERT_TRUE(start_invalidator(write_config(default_tables()))) << read_file(log_);
  EXPECT_TRUE(eventually(
      [] {
        for (int i = 401; i <= 450; ++i)
          if (!invalidated("user:" + std::to_string(i))) return false;
        return true;
      },
      15s));
}

TEST_F(InvalidatorTest, TruncateUnderFlushRegion_FlushesEveryServer) {
  ASSERT_TRUE(start_invalidator(write_config(default_tables()))) << read_file(log_);
  Sql sql(pg_->primary());
  sql.query("INSERT INTO posts VALUES (501, 1, 'x')");
  set("post:501");
  set("unrelated:1");
  sql.query("TRUNCATE posts");
  EXPECT_TRUE(eventually([] { return invalidated("post:501") && invalidated("unrelated:1"); }));
}

TEST_F(InvalidatorTest, TemplateOutsideReplicaIdentity_IsRefusedAtStartWithTheFix) {
  auto config =
      write_config(R"({"public.accounts": ["account:{id}", "account_by_email:{email}"]})");
  log_ = pg_->dir() + "/refused.log";
  pid_t pid = spawn({std::string(MCCACHE_BIN_DIR) + "/invalidator", "--config", config}, log_);
  int status = 0;
  bool exited = eventually([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 10s);
  ASSERT_TRUE(exited);
  EXPECT_EQ(WEXITSTATUS(status), 1);
  auto log = read_file(log_);
  EXPECT_NE(log.find("invalidator.tables.\"public.accounts\"[1]"), std::string::npos) << log;
  EXPECT_NE(log.find("column \"email\" is not in the replica identity"), std::string::npos) << log;
  EXPECT_NE(log.find("REPLICA IDENTITY FULL or drop the template"), std::string::npos) << log;
}

// The port of a "host=... port=N ..." DSN.
std::string dsn_port(const std::string& dsn) {
  auto at = dsn.find("port=") + 5;
  return dsn.substr(at, dsn.find(' ', at) - at);
}

// "host=H port=P dbname=D user=U" (what scripts/pgcluster prints) as "postgresql://U@H:P/D".
std::string as_uri(const std::string& dsn) {
  std::istringstream words(dsn);
  std::map<std::string, std::string> kv;
  for (std::string w; words >> w;) kv[w.substr(0, w.find('='))] = w.substr(w.find('=') + 1);
  return "postgresql://" + kv["user"] + "@" + kv["host"] + ":" + kv["port"] + "/" + kv["dbname"];
}

std::string pool_json(const std::vector<config::HostPort>& servers) {
  std::string out;
  for (const auto& s : servers) out += (out.empty() ? "\"" : ", \"") + s.str() + "\"";
  return out;
}

// libpq options used to be appended to the DSN as " key=value", which turns a URI into garbage.
TEST_F(InvalidatorTest, PostgresUriDsns_ForTheSourceAndTheReplica_StreamAndGate) {
  auto config = write_custom_config(pool_json(servers()),
                                    R"("source": {"dsn": ")" + as_uri(pg_->primary()) +
                                        R"(", "slot": "it"}, "wait_for_replay": ")" +
                                        as_uri(pg_->replica()) + R"(",)",
                                    default_tables());
  ASSERT_TRUE(start_invalidator(config)) << read_file(log_);
  set("user:2101");
  Sql(pg_->primary()).query("INSERT INTO users VALUES (2101, 'uri', NULL)");
  EXPECT_TRUE(eventually([] { return invalidated("user:2101"); })) << read_file(log_);
}

// A server that answers the invalidator's `md ... I T` with CLIENT_ERROR would drop every
// invalidation sent to it; it used to count as delivered ("rejected") and the slot moved on.
TEST_F(InvalidatorTest, ServerThatRefusesMdInvalidate_HoldsItsKeysLikeADownOne_AndSaysWhy) {
  OldMemcached old;
  std::vector<config::HostPort> pool{{"127.0.0.1", old.port()}, {"127.0.0.1", mc_[0]->port()}};
  pool::KetamaRing ring(pool);
  int refused = 2200, healthy = 2200;
  while (ring.server_for("post:" + std::to_string(refused)) != 0) ++refused;
  while (ring.server_for("post:" + std::to_string(healthy)) != 1) ++healthy;
  auto config = write_custom_config(pool_json(pool),
                                    R"("source": {"dsn": ")" + pg_->primary() +
                                        R"(", "slot": "it"}, "wait_for_replay": ")" +
                                        pg_->replica() + R"(",)",
                                    R"({"public.posts": ["post:{id}"]}, "status_interval_ms": 50)");
  ASSERT_TRUE(start_invalidator(config)) << read_file(log_);
  auto healthy_key = "post:" + std::to_string(healthy);
  cache_value(*mc_[0], healthy_key);
  Sql sql(pg_->primary());
  sql.query("INSERT INTO posts VALUES (" + std::to_string(refused) + ", 1, 'old server')");
  auto refused_lsn = sql.query("SELECT pg_current_wal_insert_lsn()");
  sql.query("INSERT INTO posts VALUES (" + std::to_string(healthy) + ", 1, 'new server')");
  EXPECT_TRUE(eventually([&] { return is_invalidated(*mc_[0], healthy_key); })) << read_file(log_);
  std::this_thread::sleep_for(800ms);
  EXPECT_FALSE(lsn_at_least(slot_confirmed_lsn(), refused_lsn))
      << "confirmed past a delete the server refused\n"
      << read_file(log_);
  EXPECT_NE(read_file(log_).find("refuses `md <key> I T`"), std::string::npos) << read_file(log_);
  stop_invalidator(SIGKILL);  // a SIGTERM would give the held keys shutdown_timeout_ms more
}

// With a multi-host replica DSN the gate fails over from one replica to the next. It used to keep
// the highest replay position any of them reported, so after failing over to a slower replica
// batches passed on the strength of the faster one.
TEST_F(InvalidatorTest, MultiHostReplicaDsn_AfterFailingOverToASlowerReplica_GatesOnThatOne) {
  const auto& slow = pg_->replicas()[0];
  const auto& fast = pg_->replicas()[1];
  struct Restore {  // the slow replica is every other test's gate; the fast one stops here
    PgCluster* pg;
    std::string slow;
    ~Restore() {
      try {
        Sql(slow).query("SELECT pg_wal_replay_resume()");
      } catch (...) {
      }
      pg->restart();
    }
  } restore{pg_, slow};
  std::string gate = "host=127.0.0.1,127.0.0.1 port=" + dsn_port(fast) + "," + dsn_port(slow) +
                     " dbname=app user=postgres";
  auto config =
      write_custom_config(pool_json(servers()),
                          R"("source": {"dsn": ")" + pg_->primary() +
                              R"(", "slot": "it"}, "wait_for_replay": ")" + gate + R"(",)",
                          R"({"public.posts": ["post:{id}"]})",
                          std::string(kDelivery) + R"(, "batch_max_keys": 1, "max_held_keys": 1)");
  ASSERT_TRUE(start_invalidator(config)) << read_file(log_);
  auto key = [](int id) { return "post:" + std::to_string(id); };
  int first = 2300;
  auto& held = server_for(key(first));
  int second = first + 1;
  while (&server_for(key(second)) == &held) ++second;
  Sql(slow).query("SELECT pg_wal_replay_pause()");
  held.kill9();
  // Both commits are read after the fast replica has replayed them both: the first one's gate
  // query sees the fast replica past the second one.
  kill(pid_, SIGSTOP);
  Sql sql(pg_->primary());
  sql.query("INSERT INTO posts VALUES (" + std::to_string(first) + ", 1, 'first')");
  sql.query("INSERT INTO posts VALUES (" + std::to_string(second) + ", 1, 'second')");
  auto second_lsn = sql.query("SELECT pg_current_wal_insert_lsn()");
  Sql fast_sql(fast);
  ASSERT_TRUE(eventually([&] {
    return fast_sql.query("SELECT pg_last_wal_replay_lsn() >= '" + second_lsn + "'") == "t";
  }));
  set(key(second));
  kill(pid_, SIGCONT);
  // The first batch passes the gate on the fast replica and waits for the down server; with
  // max_held_keys 1 reading pauses there.
  ASSERT_TRUE(eventually([&] {
    return read_file(log_).find("reading the stream pauses") != std::string::npos;
  })) << read_file(log_);
  pg_->stop_replica(1);  // the fast one
  held.start();
  ASSERT_TRUE(wait_for_port(held.port(), 5s));
  // The second batch is gated on the slow replica now, which has not replayed it.
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(invalidated(key(second)))
      << "delivered on the strength of a replica the gate is no longer connected to\n"
      << read_file(log_);
  Sql(slow).query("SELECT pg_wal_replay_resume()");
  EXPECT_TRUE(eventually([&] { return invalidated(key(second)); })) << read_file(log_);
}

// The primary gate (no local replica) used to pass after 100 ms without a connection, whatever
// the reason, even "too many clients" on a primary that is up. It holds now; and a fast shutdown
// of the primary, whose walsender waits for everything it sent to be confirmed, still ends: the
// invalidator lets go of the stream while the gate cannot reach the primary (commit 81b548b).
TEST_F(InvalidatorTest, PrimaryGateWithoutAConnection_HoldsTheBatch_AndTheFastShutdownStillEnds) {
  auto config = write_custom_config(
      pool_json(servers()), R"("source": {"dsn": ")" + pg_->primary() + R"(", "slot": "it"},)",
      R"({"public.posts": ["post:{id}"]})");
  ASSERT_TRUE(start_invalidator(config)) << read_file(log_);
  Sql sql(pg_->primary());
  set("post:2401");
  sql.query("INSERT INTO posts VALUES (2401, 1, 'gate connects')");
  ASSERT_TRUE(eventually([] { return invalidated("post:2401"); })) << read_file(log_);
  // End the gate's connection, then take every connection slot: it cannot connect again.
  sql.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
      " WHERE application_name = 'mcinval_gate'");
  std::vector<std::unique_ptr<Sql>> fillers;
  while (fillers.size() < 200) {
    try {
      fillers.push_back(std::make_unique<Sql>(pg_->primary()));
    } catch (const std::exception&) {
      break;
    }
  }
  ASSERT_LT(fillers.size(), 200u);
  set("post:2402");
  sql.query("INSERT INTO posts VALUES (2402, 1, 'held at the gate')");
  std::this_thread::sleep_for(800ms);
  EXPECT_FALSE(invalidated("post:2402")) << "delivered without the visibility check\n"
                                         << read_file(log_);
  auto t0 = std::chrono::steady_clock::now();
  pg_->stop_primary();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "the walsender waited for us";
  fillers.clear();
  pg_->restart();
  EXPECT_TRUE(eventually([] { return invalidated("post:2402"); }, 20s)) << read_file(log_);
}

// One transaction of 200K rows, 1,000 keys per batch and a 200 ms request timeout: it used to go
// out as one 200K-key exchange that timed out on every retry (and its keys were deduplicated by
// a linear search, in minutes).
TEST_F(InvalidatorTest, TransactionOf200kRows_InSmallBatchesWithAShortTimeout_IsFullyInvalidated) {
  ASSERT_TRUE(start_invalidator(
      write_config(R"({"public.posts": ["post:{id}"]})", "",
                   R"("retry_initial_ms": 50, "retry_max_ms": 200, "request_timeout_ms": 200,
         "batch_max_keys": 1000)")))
      << read_file(log_);
  const int from = 300000, to = 499999;
  std::vector<std::string> sample;
  for (int id = from; id <= to; id += 9973) sample.push_back("post:" + std::to_string(id));
  sample.push_back("post:" + std::to_string(to));
  for (const auto& k : sample) set(k);
  Sql sql(pg_->primary());
  sql.query("INSERT INTO posts SELECT g, 1, 'bulk' FROM generate_series(" + std::to_string(from) +
            ", " + std::to_string(to) + ") g");
  auto lsn = sql.query("SELECT pg_current_wal_insert_lsn()");
  EXPECT_TRUE(eventually([&] { return lsn_at_least(slot_confirmed_lsn(), lsn); }, 60s))
      << read_file(log_);
  for (const auto& k : sample) EXPECT_TRUE(invalidated(k)) << k;
}

}  // namespace
}  // namespace mccache::testing
