// mcproxy end to end: two real memcached servers, the real binary, real clients (libmemcached,
// pylibmc, pymemcache, raw sockets).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libmemcached/memcached.h>
#include <sys/wait.h>

#include <csignal>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>
#include <string>

#include "pool/ketama.h"
#include "tests/mcproxy/net/proxy_fixture.h"

namespace mccache::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class Proxy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    m1_ = new MemcachedServer();
    m2_ = new MemcachedServer();
    proxy_ = new ProxyProcess({m1_, m2_});
  }
  static void TearDownTestSuite() {
    delete proxy_;
    delete m2_;
    delete m1_;
  }
  static MemcachedServer* m1_;
  static MemcachedServer* m2_;
  static ProxyProcess* proxy_;

  // Which of the two servers (0 or 1) owns `key`, by libmemcached's own ketama.
  static size_t owner(const std::string& key) {
    pool::KetamaRing ring({{"127.0.0.1", m1_->port()}, {"127.0.0.1", m2_->port()}});
    return ring.server_for(key);
  }
  static std::string key_on(size_t server, const std::string& prefix) {
    for (int i = 0;; ++i) {
      std::string k = prefix + std::to_string(i);
      if (owner(k) == server) return k;
    }
  }
};
MemcachedServer* Proxy::m1_ = nullptr;
MemcachedServer* Proxy::m2_ = nullptr;
ProxyProcess* Proxy::proxy_ = nullptr;

struct Memc {
  explicit Memc(const std::vector<uint16_t>& ports, bool ketama) : m(memcached_create(nullptr)) {
    if (ketama) memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA, 1);
    for (auto p : ports) memcached_server_add(m, "127.0.0.1", p);
  }
  ~Memc() { memcached_free(m); }
  memcached_return_t set(const std::string& k, const std::string& v) {
    return memcached_set(m, k.data(), k.size(), v.data(), v.size(), 0, 0);
  }
  std::optional<std::string> get(const std::string& k) {
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char* v = memcached_get(m, k.data(), k.size(), &len, &flags, &rc);
    if (v == nullptr) return std::nullopt;
    std::string out(v, len);
    free(v);
    return out;
  }
  memcached_st* m;
};

TEST_F(Proxy, Libmemcached_KetamaWritesStraightToMemcached_AreReadThroughProxy) {
  Memc direct({m1_->port(), m2_->port()}, true);
  Memc via({proxy_->port()}, false);
  for (int i = 0; i < 300; ++i)
    ASSERT_EQ(direct.set("lm:d" + std::to_string(i), "v" + std::to_string(i)), MEMCACHED_SUCCESS);
  for (int i = 0; i < 300; ++i)
    EXPECT_EQ(via.get("lm:d" + std::to_string(i)), "v" + std::to_string(i)) << i;
}

TEST_F(Proxy, Libmemcached_WritesThroughProxy_LandWhereKetamaClientsLook) {
  Memc direct({m1_->port(), m2_->port()}, true);
  Memc via({proxy_->port()}, false);
  Memc only1({m1_->port()}, false);
  int on_first = 0;
  for (int i = 0; i < 300; ++i)
    ASSERT_EQ(via.set("lm:p" + std::to_string(i), "w" + std::to_string(i)), MEMCACHED_SUCCESS);
  for (int i = 0; i < 300; ++i) {
    std::string k = "lm:p" + std::to_string(i);
    EXPECT_EQ(direct.get(k), "w" + std::to_string(i)) << k;
    if (only1.get(k)) ++on_first;
  }
  // Both servers hold a fair share, so the check above really spans two servers.
  EXPECT_GT(on_first, 50);
  EXPECT_LT(on_first, 250);
}

TEST_F(Proxy, PythonClients_PylibmcAndPymemcache_WorkThroughProxy) {
  std::string cmd = std::string("/usr/bin/python3 ") + MCCACHE_SOURCE_DIR +
                    "/tests/mcproxy/net/python_clients.py " + std::to_string(proxy_->port()) +
                    " " + std::to_string(m1_->port()) + " " + std::to_string(m2_->port()) +
                    " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_EQ(out, "ok\n");
}

TEST_F(Proxy, Pipeline_RepliesComeBackInRequestOrder) {
  LineClient c(proxy_->port());
  std::string batch;
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    std::string k = "pipe:" + std::to_string(i);
    std::string v = std::to_string(i * 7);
    batch += "set " + k + " " + std::to_string(i) + " 0 " + std::to_string(v.size()) + "\r\n" +
             v + "\r\nget " + k + "\r\n";
    expected += "STORED\r\nVALUE " + k + " " + std::to_string(i) + " " +
                std::to_string(v.size()) + "\r\n" + v + "\r\nEND\r\n";
  }
  batch += "mn\r\n";
  expected += "MN\r\n";
  c.send(batch);
  EXPECT_EQ(c.read_until("MN\r\n"), expected);
}

TEST_F(Proxy, MultiGet_AcrossServers_MergesInRequestOrder) {
  std::string a = key_on(0, "mg:a"), b = key_on(1, "mg:b"), c = key_on(0, "mg:c"),
              d = key_on(1, "mg:d");
  LineClient cl(proxy_->port());
  for (const auto& k : {a, b, d})
    ASSERT_EQ(cl.call("set " + k + " 1 0 2\r\n" + k.substr(3, 2) + "\r\n"), "STORED\r\n");
  EXPECT_EQ(cl.call("get " + d + " " + c + " " + a + " " + b + "\r\n", "END\r\n"),
            "VALUE " + d + " 1 2\r\n" + d.substr(3, 2) + "\r\nVALUE " + a + " 1 2\r\n" +
                a.substr(3, 2) + "\r\nVALUE " + b + " 1 2\r\n" + b.substr(3, 2) + "\r\nEND\r\n");
}

TEST_F(Proxy, MalformedInput_GetsErrors_AndConnectionStaysUsable) {
  LineClient c(proxy_->port());
  EXPECT_EQ(c.call("bogus\r\n"), "ERROR\r\n");
  EXPECT_EQ(c.call("set k 0 0 x\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(c.call("set k 0 0 3\r\nabcdef\r\n"), "CLIENT_ERROR bad data chunk\r\n");
  EXPECT_EQ(c.read_until("\r\n"), "ERROR\r\n");  // the "\r\n" after the overlong chunk
  EXPECT_EQ(c.call("get " + std::string(251, 'k') + "\r\n"), "CLIENT_ERROR key too long\r\n");
  std::string big(2 * 1024 * 1024, 'v');
  EXPECT_EQ(c.call("set big 0 0 " + std::to_string(big.size()) + "\r\n" + big + "\r\n"),
            "CLIENT_ERROR value too large\r\n");
  c.send(std::string("\x00\x01\x02\xff garbage\r\n", 14));
  EXPECT_EQ(c.read_until("\r\n"), "ERROR\r\n");
  EXPECT_EQ(c.call("set ok 0 0 2\r\nhi\r\n"), "STORED\r\n");
  EXPECT_EQ(c.call("get ok\r\n", "END\r\n"), "VALUE ok 0 2\r\nhi\r\nEND\r\n");
}

TEST_F(Proxy, EndlessLineWithoutNewline_IsCutOff_OthersUnaffected) {
  LineClient bad(proxy_->port());
  LineClient good(proxy_->port());
  bad.send(std::string(4096, 'x'));
  EXPECT_EQ(bad.read_until("\r\n"), "CLIENT_ERROR line too long\r\n");
  EXPECT_TRUE(bad.closed_by_peer());
  EXPECT_EQ(good.call("version\r\n"), "VERSION mcproxy-0.1.0\r\n");
}

TEST_F(Proxy, BinaryProtocolClient_IsToldAndClosed) {
  LineClient c(proxy_->port());
  c.send(std::string("\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00"
                     "\x00\x00\x00\x00\x00\x00\x00\x00a",
                     25));
  EXPECT_EQ(c.read_until("\r\n"),
            "CLIENT_ERROR binary protocol is not supported; use the text protocol\r\n");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(Proxy, AdminCommands_AreRefusedByDefault) {
  LineClient c(proxy_->port());
  EXPECT_EQ(c.call("flush_all\r\n"), "CLIENT_ERROR admin commands are disabled\r\n");
  EXPECT_EQ(c.call("verbosity 1\r\n"), "CLIENT_ERROR admin commands are disabled\r\n");
  EXPECT_EQ(c.call("shutdown\r\n"), "CLIENT_ERROR admin commands are disabled\r\n");
  EXPECT_EQ(c.call("version\r\n"), "VERSION mcproxy-0.1.0\r\n");
}

TEST_F(Proxy, NoreplyAndQuietMeta_SendNothingBack_ButStillApply) {
  LineClient c(proxy_->port());
  c.send("set nr 0 0 1 noreply\r\nx\r\ndelete nothing noreply\r\nmg nothing v q\r\n"
         "ms qm 1 q\r\ny\r\nmn\r\n");
  EXPECT_EQ(c.read_until("MN\r\n"), "MN\r\n");
  EXPECT_EQ(c.call("get nr qm\r\n", "END\r\n"), "VALUE nr 0 1\r\nx\r\nVALUE qm 0 1\r\ny\r\nEND\r\n");
}

TEST_F(Proxy, StaleItem_IsAMissForPlainGet_AndItsWinIsGivenBack) {
  std::string k = key_on(1, "stale:");
  LineClient direct(m2_->port());
  ASSERT_EQ(direct.call("set " + k + " 0 0 3\r\nold\r\n"), "STORED\r\n");
  ASSERT_EQ(direct.call("md " + k + " I T30\r\n"), "HD\r\n");
  LineClient c(proxy_->port());
  EXPECT_EQ(c.call("get " + k + "\r\n", "END\r\n"), "END\r\n");
  // The win goes back (mcproxy sends that md after answering): the next lease-aware reader gets
  // it. Until it lands, a reader sees Z (and takes nothing), so poll.
  std::string seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  do {
    seen = direct.call("mg " + k + " v c\r\n", "old\r\n");
    if (seen.find(" W") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_THAT(seen, HasSubstr(" W"));
}

TEST_F(Proxy, Delete_InvalidateMode_KeepsAStaleCopyButReadsMiss) {
  std::string k = key_on(0, "inv:");
  LineClient c(proxy_->port());
  ASSERT_EQ(c.call("set " + k + " 0 0 1\r\nz\r\n"), "STORED\r\n");
  EXPECT_EQ(c.call("delete " + k + "\r\n"), "DELETED\r\n");
  EXPECT_EQ(c.call("get " + k + "\r\n", "END\r\n"), "END\r\n");
  EXPECT_EQ(c.call("delete never-set\r\n"), "NOT_FOUND\r\n");
  LineClient direct(m1_->port());
  EXPECT_THAT(direct.call("mg " + k + " v\r\n", "z\r\n"), HasSubstr(" X"));
}

TEST_F(Proxy, LeaseCommands_AreAnsweredOnEveryServer) {
  LineClient c(proxy_->port());
  for (size_t s = 0; s < 2; ++s) {
    std::string k = key_on(s, "lease:");
    EXPECT_THAT(c.call("lease-get " + k + "\r\n", "END\r\n"), StartsWith("LVALUE " + k + " "));
  }
  EXPECT_EQ(c.call("lease-set k 5 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
}

TEST_F(Proxy, Quit_ClosesAfterEarlierReplies) {
  LineClient c(proxy_->port());
  c.send("version\r\nquit\r\nversion\r\n");
  EXPECT_EQ(c.read_until("\r\n"), "VERSION mcproxy-0.1.0\r\n");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(Proxy, Metrics_AreServedInPrometheusFormat) {
  LineClient c(proxy_->port());
  c.call("get metric-probe\r\n", "END\r\n");
  LineClient http(proxy_->metrics_port());
  http.send("GET /metrics HTTP/1.0\r\n\r\n");
  std::string body = http.read_until("mcproxy_backend_latency_seconds_count");
  body += http.read_until("\n");
  EXPECT_THAT(body, HasSubstr("mcproxy_requests_total{command=\"get\",result=\"miss\"}"));
  EXPECT_THAT(body, HasSubstr("mcproxy_server_up{server=\"" + m1_->endpoint() + "\"} 1"));
  EXPECT_THAT(body, HasSubstr("mcproxy_connections "));
  EXPECT_THAT(body, HasSubstr("mcproxy_client_bytes_in_total"));
}

// A server crash mid-test: its keys fail fast, the other server's keys keep working, and it
// comes back once it is restarted.
TEST(ProxyFailover, BackendKilledAndRestarted_ItsKeysFailFast_ThenRecover) {
  MemcachedServer m1, m2;
  ProxyProcess proxy({&m1, &m2},
                     R"("backend": {"failures_until_down": 2, "probe_interval_ms": 100,
                                    "request_timeout_ms": 500},)");
  pool::KetamaRing ring({{"127.0.0.1", m1.port()}, {"127.0.0.1", m2.port()}});
  auto key_on = [&](size_t s) {
    for (int i = 0;; ++i)
      if (ring.server_for("f:" + std::to_string(i)) == s) return "f:" + std::to_string(i);
  };
  std::string dead_key = key_on(1), live_key = key_on(0);
  LineClient c(proxy.port(), std::chrono::seconds(3));
  ASSERT_EQ(c.call("set " + dead_key + " 0 0 1\r\na\r\n"), "STORED\r\n");
  ASSERT_EQ(c.call("set " + live_key + " 0 0 1\r\nb\r\n"), "STORED\r\n");

  m2.kill9();
  // The first requests may see the dropped connection; after that the server is down and its
  // keys are answered at once.
  std::string reply;
  for (int i = 0; i < 50; ++i) {
    reply = c.call("get " + dead_key + "\r\n");
    if (reply.find("is down") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_THAT(reply, StartsWith("SERVER_ERROR backend " + m2.endpoint() + " is down"));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(c.call("get " + dead_key + "\r\n"), StartsWith("SERVER_ERROR"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(400));
  EXPECT_EQ(c.call("get " + live_key + "\r\n", "END\r\n"), "VALUE " + live_key + " 0 1\r\nb\r\nEND\r\n");
  EXPECT_EQ(c.call("get " + live_key + " " + dead_key + "\r\n", "END\r\n"),
            "VALUE " + live_key + " 0 1\r\nb\r\nEND\r\n");

  m2.start();
  for (int i = 0; i < 100; ++i) {
    reply = c.call("set " + dead_key + " 0 0 1\r\nc\r\n");
    if (reply == "STORED\r\n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(reply, "STORED\r\n");
  EXPECT_EQ(c.call("get " + dead_key + "\r\n", "END\r\n"), "VALUE " + dead_key + " 0 1\r\nc\r\nEND\r\n");
}

TEST(ProxyLimits, MaxConnections_RefusesTheExtraClient) {
  MemcachedServer m1;
  ProxyProcess proxy({&m1}, R"("limits": {"max_connections": 2},)");
  // The start-up fixture's port probe was a connection too; let the proxy see it close.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  LineClient a(proxy.port()), b(proxy.port());
  EXPECT_EQ(a.call("version\r\n"), "VERSION mcproxy-0.1.0\r\n");
  EXPECT_EQ(b.call("version\r\n"), "VERSION mcproxy-0.1.0\r\n");
  LineClient c(proxy.port());
  EXPECT_EQ(c.read_until("\r\n"), "SERVER_ERROR too many open connections\r\n");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(ProxyLimits, PipelineLimit_PausesReading_ButLosesNothing) {
  MemcachedServer m1;
  ProxyProcess proxy({&m1}, R"("limits": {"max_pipeline_bytes": 4096, "max_value_bytes": 4096},)");
  LineClient c(proxy.port());
  ASSERT_EQ(c.call("set pl 0 0 2\r\nok\r\n"), "STORED\r\n");
  std::string batch, expected;
  for (int i = 0; i < 3000; ++i) {
    batch += "get pl\r\n";
    expected += "VALUE pl 0 2\r\nok\r\nEND\r\n";
  }
  batch += "mn\r\n";
  expected += "MN\r\n";
  c.send(batch);  // 24 KB of requests, six times the limit
  EXPECT_EQ(c.read_until("MN\r\n"), expected);
}

TEST(ProxyFailover, HungBackend_RequestsTimeOutWithServerError) {
  MemcachedServer m1;
  ProxyProcess proxy({&m1}, R"("backend": {"request_timeout_ms": 300, "failures_until_down": 5},)");
  LineClient c(proxy.port(), std::chrono::seconds(5));
  ASSERT_EQ(c.call("set h 0 0 1\r\nx\r\n"), "STORED\r\n");
  stop_and_wait(m1.pid());
  EXPECT_EQ(c.call("get h\r\n"),
            "SERVER_ERROR backend " + m1.endpoint() + " request timed out\r\n");
  ::kill(m1.pid(), SIGCONT);
  std::string reply;
  for (int i = 0; i < 50; ++i) {
    reply = c.call("get h\r\n", "\r\n");
    if (reply.starts_with("VALUE")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(reply + c.read_until("END\r\n"), "VALUE h 0 1\r\nx\r\nEND\r\n");
}

TEST(ProxyLimits, IdleClient_IsClosedAfterIdleTimeout) {
  MemcachedServer m1;
  ProxyProcess proxy({&m1}, R"("limits": {"idle_timeout_s": 1},)");
  LineClient c(proxy.port(), std::chrono::seconds(4));
  EXPECT_EQ(c.call("version\r\n"), "VERSION mcproxy-0.1.0\r\n");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(ProxyProcessLifecycle, Sigterm_StopsCleanlyWithExitZero) {
  MemcachedServer m1;
  uint16_t port = free_tcp_port();
  std::string cfg = "/tmp/mcproxy_sigterm_" + std::to_string(::getpid()) + ".json";
  std::ofstream(cfg) << R"({"datacenter": "t", "pool": {"servers": [")" << m1.endpoint()
                     << R"("]}, "mcproxy": {"listen": "127.0.0.1:)" << port << R"("}})";
  pid_t pid = spawn({std::string(MCCACHE_BIN_DIR) + "/mcproxy", "--config", cfg});
  ASSERT_TRUE(wait_for_port(port, std::chrono::seconds(5)));
  LineClient c(port);
  EXPECT_EQ(c.call("version\r\n"), "VERSION mcproxy-0.1.0\r\n");
  ::kill(pid, SIGTERM);
  int status = -1;
  for (int i = 0; i < 500 && ::waitpid(pid, &status, WNOHANG) != pid; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(c.closed_by_peer());
  std::remove(cfg.c_str());
}

TEST(ProxyProcessLifecycle, PortAlreadyInUse_FailsWithExitOne) {
  MemcachedServer m1;
  ProxyProcess first({&m1});
  std::string cfg = "/tmp/mcproxy_inuse_" + std::to_string(::getpid()) + ".json";
  std::ofstream(cfg) << R"({"datacenter": "t", "pool": {"servers": [")" << m1.endpoint()
                     << R"("]}, "mcproxy": {"listen": "127.0.0.1:)" << first.port() << R"("}})";
  pid_t pid = spawn({std::string(MCCACHE_BIN_DIR) + "/mcproxy", "--config", cfg});
  int status = -1;
  for (int i = 0; i < 500 && ::waitpid(pid, &status, WNOHANG) != pid; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  std::remove(cfg.c_str());
}

TEST(ProxyAdmin, FlushAll_WhenEnabled_ReachesEveryServer) {
  MemcachedServer m1, m2;
  ProxyProcess proxy({&m1, &m2}, R"("admin_commands": true,)");
  LineClient d1(m1.port()), d2(m2.port());
  ASSERT_EQ(d1.call("set x 0 0 1\r\n1\r\n"), "STORED\r\n");
  ASSERT_EQ(d2.call("set y 0 0 1\r\n1\r\n"), "STORED\r\n");
  LineClient c(proxy.port());
  EXPECT_EQ(c.call("flush_all\r\n"), "OK\r\n");
  EXPECT_EQ(d1.call("get x\r\n"), "END\r\n");
  EXPECT_EQ(d2.call("get y\r\n"), "END\r\n");
}

}  // namespace
}  // namespace mccache::testing
