// The region's watermark W from the real invalidator binary, against a real PostgreSQL 15 primary
// + streaming replica and two real memcached servers: W reaches a commit's LSN; on an idle
// database it moves on keepalives; it never passes a commit whose keys wait for a stopped server
// (and passes it once the server answers again); a restarted memcached gets it back, and no value
// read is ever above what the replica has replayed.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "config/json_reader.h"
#include "invalidator/pgoutput/stream_frame.h"
#include "pool/ketama.h"
#include "tests/invalidator/support/cache_checks.h"
#include "tests/invalidator/support/pg_cluster.h"
#include "tests/support/servers.h"
#include "tests/support/waiting.h"

namespace mccache::testing {
namespace {

using namespace std::chrono_literals;
using invalidator::pgoutput::Lsn;

constexpr const char* kKey = "mccache:applied_lsn:default";

class WatermarkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pg_ = new PgCluster(MCCACHE_SOURCE_DIR, 1);
    setenv("STATE_DIRECTORY", pg_->dir().c_str(), 1);
    mc_[0] = new MemcachedServer();
    mc_[1] = new MemcachedServer();
    Sql sql(pg_->primary());
    sql.query(
        "CREATE TABLE users (id bigint PRIMARY KEY, username text NOT NULL);"
        "CREATE TABLE unrelated (id bigserial PRIMARY KEY, note text);");
  }
  static void TearDownTestSuite() {
    delete mc_[0];
    delete mc_[1];
    delete pg_;
  }
  void SetUp() override {
    metrics_port_ = free_tcp_port();
    std::string config = pg_->dir() + "/wm.json";
    std::ofstream(config) << R"({"datacenter": "dc2", "pool": {"servers": [")" << mc_[0]->endpoint()
                          << R"(", ")" << mc_[1]->endpoint() << R"("]},
 "invalidator": {"metrics_listen": "127.0.0.1:)"
                          << metrics_port_ << R"(", "status_interval_ms": 100,
   "source": {"dsn": ")" << pg_->primary() << R"(", "slot": "wm"},
   "wait_for_replay": ")" << pg_->replica() << R"(",
   "tables": {"public.users": ["user:{id}"]},
   "delivery": {"retry_initial_ms": 50, "retry_max_ms": 200, "request_timeout_ms": 500}}})";
    log_ = pg_->dir() + "/wm.log";
    pid_ = spawn({std::string(MCCACHE_BIN_DIR) + "/invalidator", "--config", config}, log_);
    ASSERT_TRUE(wait_for_port(metrics_port_, 10s)) << read_file(log_);
  }
  void TearDown() override {
    if (pid_ > 0) stop_process(pid_, SIGTERM);
    for (auto* mc : mc_)
      if (!mc->running()) mc->start();
  }

  static MemcachedServer& server_for(const std::string& key) {
    pool::KetamaRing ring({{"127.0.0.1", mc_[0]->port()}, {"127.0.0.1", mc_[1]->port()}});
    return *mc_[ring.server_for(key)];
  }
  static MemcachedServer& other_than(const MemcachedServer& s) {
    return &s == mc_[0] ? *mc_[1] : *mc_[0];
  }
  // The first users id from `from` whose key user:<id> lives on `server`.
  static int user_on(const MemcachedServer& server, int from) {
    while (&server_for("user:" + std::to_string(from)) != &server) ++from;
    return from;
  }
  // W as a reader finds it on the server ketama places the key on; 0: absent.
  static Lsn watermark() {
    LineClient c(server_for(kKey).port());
    auto r = c.call(std::string("mg ") + kKey + " v\r\n");
    if (r.rfind("VA", 0) != 0) return 0;
    auto value = c.read_until("\r\n");
    Lsn lsn = 0;
    EXPECT_TRUE(invalidator::pgoutput::parse_lsn(value.substr(0, value.size() - 2), lsn))
        << "not an LSN: " << value;
    return lsn;
  }
  static Lsn lsn_of(const std::string& text) {
    Lsn lsn = 0;
    EXPECT_TRUE(invalidator::pgoutput::parse_lsn(text, lsn)) << text;
    return lsn;
  }
  // Commits a row whose key lives on `server`; its insert LSN right after the commit (a token).
  static Lsn commit_on(const MemcachedServer& server, int from) {
    Sql sql(pg_->primary());
    sql.query("INSERT INTO users VALUES (" + std::to_string(user_on(server, from)) + ", 'x')");
    return lsn_of(sql.query("SELECT pg_current_wal_insert_lsn()"));
  }
  std::string metrics() {
    LineClient c(metrics_port_);
    c.send("GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
    return c.read_until("\r\n\r\n# never");
  }

  static PgCluster* pg_;
  static MemcachedServer* mc_[2];
  uint16_t metrics_port_ = 0;
  pid_t pid_ = -1;
  std::string log_;
};

PgCluster* WatermarkTest::pg_ = nullptr;
MemcachedServer* WatermarkTest::mc_[2] = {nullptr, nullptr};

TEST_F(WatermarkTest, Commit_WatermarkReachesItsLsn_AndTheMetricShowsIt) {
  auto token = commit_on(*mc_[0], 100);
  auto reached = [&] { return watermark() >= token; };
  EXPECT_TRUE(eventually(reached, 3s)) << "W " << watermark() << " < " << token << "\n"
                                       << read_file(log_);
  auto m = metrics();
  auto at = m.find("\nmcinval_applied_lsn ");
  ASSERT_NE(at, std::string::npos) << m;
  EXPECT_GE(std::stod(m.substr(at + 21)), static_cast<double>(token));
}

TEST_F(WatermarkTest, IdleDatabase_WatermarkMovesOnKeepalives) {
  // A table outside the publication: nothing is streamed, only the walsender's keepalives move.
  Sql sql(pg_->primary());
  sql.query("INSERT INTO unrelated (note) VALUES ('idle')");
  auto token = lsn_of(sql.query("SELECT pg_current_wal_insert_lsn()"));
  EXPECT_TRUE(eventually([&] { return watermark() >= token; }, 5s))
      << "W " << watermark() << " < " << token;
}

TEST_F(WatermarkTest, StoppedServer_WatermarkDoesNotPassItsHeldKeys_ThenPassesThemOnceBack) {
  auto& owner = server_for(kKey);  // W's own server keeps working
  auto& stopped = other_than(owner);
  ASSERT_TRUE(eventually([] { return watermark() > 0; }, 3s));
  stop_and_wait(stopped.pid());
  struct Resume {
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{stopped.pid()};
  auto held = commit_on(stopped, 200);
  int healthy_id = user_on(owner, 300);
  std::string healthy_key = "user:" + std::to_string(healthy_id);
  cache_value(owner, healthy_key);
  auto later = commit_on(owner, healthy_id);
  EXPECT_TRUE(eventually([&] { return is_invalidated(owner, healthy_key); }, 3s))
      << "the healthy server's key waited";
  // Keepalives and refreshes keep coming meanwhile: W must stay below the held commit throughout.
  for (auto until = std::chrono::steady_clock::now() + 1500ms;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(50ms))
    ASSERT_LT(watermark(), held) << "W passed a commit whose key waits for a stopped server";
  ::kill(stopped.pid(), SIGCONT);
  EXPECT_TRUE(eventually([&] { return watermark() >= later; }, 10s))
      << "W " << watermark() << " < " << later;
}

TEST_F(WatermarkTest, MemcachedRestart_LosesTheKey_ThenItIsBack_NeverAboveTheReplica) {
  auto& owner = server_for(kKey);
  ASSERT_TRUE(eventually([] { return watermark() > 0; }, 3s));
  owner.kill9();
  owner.start();  // empty: whatever it holds next, the invalidator wrote after the restart
  ASSERT_TRUE(wait_for_port(owner.port(), 5s));
  EXPECT_TRUE(eventually([] { return watermark() > 0; }, 2s))
      << "an unchanged W was not written again after the restart";
  Sql replica(pg_->replica());
  Lsn seen = 0;
  auto token = commit_on(other_than(owner), 400);
  for (auto until = std::chrono::steady_clock::now() + 3s;
       std::chrono::steady_clock::now() < until && seen < token;
       std::this_thread::sleep_for(10ms)) {
    auto w = watermark();
    auto replayed = lsn_of(replica.query("SELECT pg_last_wal_replay_lsn()"));
    ASSERT_LE(w, replayed) << "W is past what the replica has replayed";
    seen = std::max(seen, w);
  }
  EXPECT_GE(seen, token) << "W did not reach a later commit after the restart";
}

}  // namespace
}  // namespace mccache::testing
