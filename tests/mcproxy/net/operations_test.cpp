// mcproxy operations end to end, on the real binary over real memcached servers: reloading the
// config with SIGHUP under load, draining on SIGTERM, and the gutter pool standing in for a
// server that is down.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fstream>
#include <filesystem>
#include <libmemcached/memcached.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pool/ketama.h"
#include "tests/mcproxy/net/proxy_fixture.h"

namespace mccache::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Steady = std::chrono::steady_clock;

config::HostPort hp(const MemcachedServer& m) { return {"127.0.0.1", m.port()}; }

// A key that libmemcached's ketama over `servers` puts on servers[index].
std::string key_on(const std::vector<config::HostPort>& servers, size_t index,
                   const std::string& prefix) {
  pool::KetamaRing ring(servers);
  for (int i = 0;; ++i) {
    std::string k = prefix + std::to_string(i);
    if (ring.server_for(k) == index) return k;
  }
}

// Reads a key straight from memcached with libmemcached's ketama over `ports` (what a
// pylibmc/libmemcached app does).
std::optional<std::string> ketama_get(const std::vector<uint16_t>& ports, const std::string& k) {
  memcached_st* m = memcached_create(nullptr);
  memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA, 1);
  for (auto p : ports) memcached_server_add(m, "127.0.0.1", p);
  size_t len = 0;
  uint32_t flags = 0;
  memcached_return_t rc;
  char* v = memcached_get(m, k.data(), k.size(), &len, &flags, &rc);
  std::optional<std::string> out;
  if (v != nullptr) {
    out = std::string(v, len);
    free(v);
  }
  memcached_free(m);
  return out;
}

std::string set_cmd(const std::string& key, const std::string& value, int64_t exptime = 0) {
  return "set " + key + " 0 " + std::to_string(exptime) + " " + std::to_string(value.size()) +
         "\r\n" + value + "\r\n";
}

// The remaining TTL memcached reports for `key` (mg <key> t), or nullopt on a miss.
std::optional<int64_t> ttl_on(const MemcachedServer& m, const std::string& key) {
  LineClient c(m.port());
  std::string r = c.call("mg " + key + " t\r\n");
  if (!r.starts_with("HD")) return std::nullopt;
  auto at = r.find(" t");
  return std::stoll(r.substr(at + 2));
}

// Polls the proxy's `stats` until `line` shows up (bounded).
bool wait_for_stat(uint16_t port, const std::string& line, std::chrono::seconds limit) {
  auto deadline = Steady::now() + limit;
  while (Steady::now() < deadline) {
    LineClient c(port);
    if (c.call("stats\r\n", "END\r\n").find(line) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  return false;
}

// A client that keeps pipelining sets and gets until told to stop, counting every reply that is
// not a success (STORED, VALUE...END or END).
class PipelinedLoad {
 public:
  explicit PipelinedLoad(uint16_t port, int id) : port_(port), id_(id) {
    thread_ = std::thread([this] { run(); });
  }
  ~PipelinedLoad() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t requests() const { return requests_; }
  uint64_t errors() const { return errors_; }
  const std::string& first_error() const { return first_error_; }

 private:
  void run() {
    LineClient c(port_, std::chrono::seconds(5));
    auto deadline = Steady::now() + std::chrono::seconds(20);
    for (int round = 0; !stop_ && Steady::now() < deadline; ++round) {
      std::string batch;
      constexpr int kDepth = 16;
      for (int i = 0; i < kDepth; ++i) {
        std::string k =
            "load" + std::to_string(id_) + ":" + std::to_string((round * kDepth + i) % 500);
        batch += set_cmd(k, "v" + std::to_string(round)) + "get " + k + "\r\n";
      }
      batch += "mn\r\n";
      c.send(batch);
      std::string replies = c.read_until("MN\r\n");
      if (!replies.ends_with("MN\r\n")) {
        note("no MN after a batch: " + replies.substr(0, 200));
        errors_ += kDepth * 2;
        return;
      }
      size_t pos = 0;
      int sets = 0, gets = 0;
      while (pos < replies.size()) {
        size_t eol = replies.find("\r\n", pos);
        std::string line = replies.substr(pos, eol - pos);
        pos = eol + 2;
        if (line == "STORED") {
          ++sets;
        } else if (line == "END") {
          ++gets;
        } else if (line.starts_with("VALUE ")) {
          size_t bytes = std::stoul(line.substr(line.rfind(' ') + 1));
          pos += bytes + 2;
        } else if (line != "MN") {
          note(line);
          ++errors_;
        }
      }
      requests_ += static_cast<uint64_t>(sets + gets);
      if (sets != kDepth || gets != kDepth) {
        errors_ += static_cast<uint64_t>(2 * kDepth - sets - gets);
        note("short batch: " + std::to_string(sets) + " sets, " + std::to_string(gets) + " gets");
      }
    }
  }
  void note(const std::string& what) {
    if (first_error_.empty()) first_error_ = what;
  }

  uint16_t port_;
  int id_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> errors_{0};
  std::string first_error_;
  std::thread thread_;
};

// ---- SIGHUP --------------------------------------------------------------------------------

TEST(ProxyReload, AddingAServer_UnderPipelinedLoad_FailsNothing_AndKeysFollowKetama) {
  MemcachedServer a, b;
  ProxyProcess proxy({&a});
  PipelinedLoad load1(proxy.port(), 1), load2(proxy.port(), 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  proxy.write_config({&a, &b});
  proxy.reload();
  ASSERT_TRUE(proxy.wait_for_metric("mcproxy_config_reloads_total{result=\"ok\"} 1"))
      << proxy.log();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  load1.finish();
  load2.finish();
  uint64_t requests = load1.requests() + load2.requests();
  uint64_t errors = load1.errors() + load2.errors();
  std::printf("reload under load: %llu requests, %llu errors\n",
              static_cast<unsigned long long>(requests), static_cast<unsigned long long>(errors));
  EXPECT_GT(requests, 1000u);
  EXPECT_EQ(errors, 0u) << load1.first_error() << " / " << load2.first_error();
  EXPECT_THAT(proxy.log(), HasSubstr("added: " + b.endpoint()));

  // Every key written through the proxy now is where libmemcached's ketama over [A, B] looks.
  LineClient c(proxy.port());
  int on_b = 0;
  for (int i = 0; i < 200; ++i) {
    std::string k = "after-reload:" + std::to_string(i);
    ASSERT_EQ(c.call(set_cmd(k, "w" + std::to_string(i))), "STORED\r\n");
  }
  for (int i = 0; i < 200; ++i) {
    std::string k = "after-reload:" + std::to_string(i);
    EXPECT_EQ(ketama_get({a.port(), b.port()}, k), "w" + std::to_string(i)) << k;
    if (ketama_get({b.port()}, k)) ++on_b;
  }
  EXPECT_GT(on_b, 40);
  EXPECT_LT(on_b, 160);
}

TEST(ProxyReload, RemovedServer_StillAnswersWhatWasSentToIt_ThenItsKeysMove) {
  MemcachedServer a, b;
  ProxyProcess proxy({&a, &b}, R"("backend": {"request_timeout_ms": 5000},)");
  std::string kb = key_on({hp(a), hp(b)}, 1, "rm:");
  LineClient c(proxy.port(), std::chrono::seconds(8));
  ASSERT_EQ(c.call(set_cmd(kb, "on-b")), "STORED\r\n");

  ::kill(b.pid(), SIGSTOP);
  c.send("get " + kb + "\r\n");  // in flight on B when B leaves the pool
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  proxy.write_config({&a}, R"("backend": {"request_timeout_ms": 5000},)");
  proxy.reload();
  bool applied = proxy.wait_for_metric("mcproxy_config_reloads_total{result=\"ok\"} 1");
  ::kill(b.pid(), SIGCONT);
  ASSERT_TRUE(applied) << proxy.log();
  EXPECT_EQ(c.read_until("END\r\n"), "VALUE " + kb + " 0 4\r\non-b\r\nEND\r\n");
  // Now the key lives on A (a miss there), and B's connections are gone once drained.
  EXPECT_EQ(c.call("get " + kb + "\r\n", "END\r\n"), "END\r\n");
  EXPECT_EQ(c.call(set_cmd(kb, "on-a")), "STORED\r\n");
  LineClient direct_a(a.port());
  EXPECT_EQ(direct_a.call("get " + kb + "\r\n", "END\r\n"),
            "VALUE " + kb + " 0 4\r\non-a\r\nEND\r\n");
  EXPECT_THAT(proxy.metrics(), ::testing::Not(HasSubstr("server=\"" + b.endpoint() + "\"")));
}

TEST(ProxyReload, BrokenFile_IsRefusedWithTheCheckConfigError_AndTheOldPoolServes) {
  MemcachedServer a;
  ProxyProcess proxy({&a});
  LineClient c(proxy.port());
  ASSERT_EQ(c.call(set_cmd("keep", "1")), "STORED\r\n");

  proxy.write_raw(
      "{\"datacenter\": \"test\",\n  \"pool\": {\"servers\": [\"127.0.0.1:1\" \"x\"]}}");
  proxy.reload();
  ASSERT_TRUE(proxy.wait_for_metric("mcproxy_config_reloads_total{result=\"error\"} 1"))
      << proxy.log();
  // The same precise line --check-config prints, at error level.
  std::string cmd = std::string(MCCACHE_BIN_DIR) + "/mcproxy --check-config --config " +
                    proxy.config_path() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[1024] = {};
  size_t n = fread(buf, 1, sizeof buf - 1, p);
  pclose(p);
  std::string check(buf, n);
  ASSERT_THAT(check, StartsWith("mcproxy: " + proxy.config_path() + ":2:"));
  std::string message = check.substr(9, check.size() - 10);  // without "mcproxy: " and "\n"
  EXPECT_THAT(proxy.log(), HasSubstr("error [mcproxy test] config reload refused, still serving "
                                     "with the running config: " +
                                     message));

  // A file that parses but is invalid is refused the same way.
  proxy.write_config({&a}, R"("limits": {"max_key_bytes": 300},)");
  proxy.reload();
  ASSERT_TRUE(proxy.wait_for_metric("mcproxy_config_reloads_total{result=\"error\"} 2"));
  EXPECT_THAT(proxy.log(), HasSubstr(proxy.config_path() +
                                     ": mcproxy.limits.max_key_bytes: 300 is out of range; "
                                     "use 1..250"));
  EXPECT_THAT(proxy.metrics(), HasSubstr("mcproxy_config_reloads_total{result=\"ok\"} 0"));
  EXPECT_EQ(c.call("get keep\r\n", "END\r\n"), "VALUE keep 0 1\r\n1\r\nEND\r\n");
  LineClient fresh(proxy.port());
  EXPECT_EQ(fresh.call(set_cmd("keep2", "2")), "STORED\r\n");
}

TEST(ProxyReload, LimitChange_IsEnforcedLive_RestartOnlySettingsAreLoggedAndKept) {
  MemcachedServer a;
  ProxyProcess proxy({&a});
  LineClient c(proxy.port());
  std::string long_key(200, 'k');
  EXPECT_EQ(c.call("get " + long_key + "\r\n", "END\r\n"), "END\r\n");

  proxy.write_config({&a}, R"("limits": {"max_key_bytes": 100},)", "", /*threads=*/3);
  proxy.reload();
  ASSERT_TRUE(proxy.wait_for_metric("mcproxy_config_reloads_total{result=\"ok\"} 1"));
  EXPECT_EQ(c.call("get " + long_key + "\r\n"), "CLIENT_ERROR key too long\r\n");
  LineClient fresh(proxy.port());
  EXPECT_EQ(fresh.call(set_cmd(long_key, "x")), "CLIENT_ERROR key too long\r\n");
  EXPECT_EQ(fresh.call(set_cmd(std::string(100, 'k'), "x")), "STORED\r\n");
  EXPECT_THAT(proxy.log(), HasSubstr("mcproxy.threads changed (2 -> 3) but needs a restart"));
  EXPECT_THAT(fresh.call("stats\r\n", "END\r\n"), HasSubstr("STAT threads 2\r\n"));
}

// ---- SIGTERM -------------------------------------------------------------------------------

TEST(ProxyShutdown, InflightRequests_GetTheirReplies_NewConnectionsAreRefused_ExitsInTime) {
  MemcachedServer a;
  ProxyProcess proxy({&a}, R"("shutdown_timeout_ms": 3000,
                              "backend": {"request_timeout_ms": 5000},)");
  LineClient c(proxy.port(), std::chrono::seconds(8));
  ASSERT_EQ(c.call(set_cmd("slow", "v")), "STORED\r\n");
  stop_and_wait(a.pid());
  std::string batch, expected;
  for (int i = 0; i < 10; ++i) {
    batch += "get slow\r\n" + set_cmd("slow" + std::to_string(i), "x");
    expected += "VALUE slow 0 1\r\nv\r\nEND\r\nSTORED\r\n";
  }
  c.send(batch);
  // Read (and sent to memcached) once mcproxy counted the bytes.
  ASSERT_TRUE(proxy.wait_for_metric("mcproxy_client_bytes_in_total " +
                                    std::to_string(set_cmd("slow", "v").size() + batch.size())));
  auto t0 = Steady::now();
  ::kill(proxy.pid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  bool refused = !wait_for_port(proxy.port(), std::chrono::milliseconds(100));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ::kill(a.pid(), SIGCONT);
  EXPECT_TRUE(refused);
  EXPECT_EQ(c.read_until("\x01"), expected);  // never sent: reads until the proxy closes
  EXPECT_TRUE(c.closed_by_peer());
  int status = proxy.wait_exit(std::chrono::milliseconds(3500));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t0);
  std::printf("drain with in-flight requests: exited %lld ms after SIGTERM\n",
              static_cast<long long>(took.count()));
  ASSERT_NE(status, -1) << "still running 3.5 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ProxyShutdown, Deadline_ClosesClientsStillWaiting_AndExits) {
  MemcachedServer a;
  ProxyProcess proxy({&a}, R"("shutdown_timeout_ms": 300,
                              "backend": {"request_timeout_ms": 10000},)");
  LineClient c(proxy.port(), std::chrono::seconds(3));
  // The backend connection is up (else the get is answered "reconnecting" at once).
  ASSERT_EQ(c.call(set_cmd("warm", "v")), "STORED\r\n");
  stop_and_wait(a.pid());
  c.send("get never\r\n");
  // In flight once mcproxy has read it (a request not yet read at SIGTERM is not answered).
  ASSERT_TRUE(proxy.wait_for_metric("mcproxy_client_bytes_in_total " +
                                    std::to_string(set_cmd("warm", "v").size() + 11)));
  auto t0 = Steady::now();
  ::kill(proxy.pid(), SIGTERM);
  int status = proxy.wait_exit(std::chrono::seconds(3));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t0);
  ::kill(a.pid(), SIGCONT);
  ASSERT_NE(status, -1);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_GE(took.count(), 250) << proxy.log();
  EXPECT_LT(took.count(), 1500);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(ProxyShutdown, Idle_ExitsPromptly) {
  MemcachedServer a;
  ProxyProcess proxy({&a});
  LineClient idle(proxy.port());
  EXPECT_EQ(idle.call("version\r\n"), "VERSION mcproxy-0.1.0\r\n");
  auto t0 = Steady::now();
  ::kill(proxy.pid(), SIGTERM);
  int status = proxy.wait_exit(std::chrono::seconds(5));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t0);
  std::printf("idle SIGTERM (metrics on, one idle client): exited in %lld ms\n",
              static_cast<long long>(took.count()));
  ASSERT_NE(status, -1);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_LT(took.count(), 2000);  // measured well under 0.5 s; generous for a loaded machine
  EXPECT_TRUE(idle.closed_by_peer());
}

// ---- gutter --------------------------------------------------------------------------------

class Gutter : public ::testing::Test {
 protected:
  static constexpr int kTtl = 5;
  void SetUp() override {
    proxy_ = std::make_unique<ProxyProcess>(
        std::vector<const MemcachedServer*>{&a_, &b_},
        R"("backend": {"failures_until_down": 2, "probe_interval_ms": 100,
                       "request_timeout_ms": 500},)",
        R"(, "gutter": {"servers": [")" + g_.endpoint() + R"("], "ttl_s": 5})");
  }
  std::string key_on_a(const std::string& prefix) { return key_on({hp(a_), hp(b_)}, 0, prefix); }
  void take_a_down() {
    a_.kill9();
    ASSERT_TRUE(wait_for_stat(proxy_->port(), "STAT server:" + a_.endpoint() + " down\r\n",
                              std::chrono::seconds(5)));
  }
  MemcachedServer a_, b_, g_;
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(Gutter, DownServersKeys_AreServedByTheGutter_WithCappedTtl) {
  std::string k = key_on_a("g:set:"), k_long = key_on_a("g:long:"), k_abs = key_on_a("g:abs:");
  std::string kb = key_on({hp(a_), hp(b_)}, 1, "g:b:");
  take_a_down();
  LineClient c(proxy_->port());
  EXPECT_EQ(c.call(set_cmd(k, "hi")), "STORED\r\n");
  EXPECT_EQ(c.call(set_cmd(k_long, "x", 3600)), "STORED\r\n");
  EXPECT_EQ(c.call(set_cmd(k_abs, "y", std::time(nullptr) + 86400 * 60)), "STORED\r\n");
  EXPECT_EQ(c.call("get " + k + "\r\n", "END\r\n"), "VALUE " + k + " 0 2\r\nhi\r\nEND\r\n");
  for (const auto& key : {k, k_long, k_abs}) {
    auto ttl = ttl_on(g_, key);
    ASSERT_TRUE(ttl) << key << " is not on the gutter";
    EXPECT_GT(*ttl, 0) << key;
    EXPECT_LE(*ttl, kTtl) << key;
  }
  // Meta commands are capped too: an ms without T would otherwise never expire.
  EXPECT_EQ(c.call("ms " + k + " 2\r\nms\r\n"), "HD\r\n");
  auto ttl = ttl_on(g_, k);
  ASSERT_TRUE(ttl);
  EXPECT_LE(*ttl, kTtl);
  // The other server's keys are untouched.
  EXPECT_EQ(c.call(set_cmd(kb, "b")), "STORED\r\n");
  EXPECT_EQ(ttl_on(b_, kb), -1);
  EXPECT_FALSE(ttl_on(g_, kb));
  EXPECT_TRUE(proxy_->wait_for_metric("mcproxy_server_up{server=\"" + g_.endpoint() +
                                      "\",pool=\"gutter\"} 1"));
}

TEST_F(Gutter, LeaseCycleAndDelete_WorkThroughTheGutter) {
  std::string k = key_on_a("g:lease:");
  take_a_down();
  LineClient c(proxy_->port());
  std::string r = c.call("lease-get " + k + "\r\n", "END\r\n");
  ASSERT_THAT(r, StartsWith("LVALUE " + k + " "));
  std::string token = r.substr(8 + k.size(), r.find(' ', 8 + k.size()) - 8 - k.size());
  EXPECT_EQ(c.call("lease-get " + k + "\r\n", "END\r\n").substr(0, 9 + k.size()),
            "LVALUE " + k + " 1");  // hot miss: one lease per key, on the gutter too
  EXPECT_EQ(c.call("lease-set " + k + " " + token + " 0 0 3\r\nabc\r\n"), "STORED\r\n");
  EXPECT_EQ(c.call("get " + k + "\r\n", "END\r\n"), "VALUE " + k + " 0 3\r\nabc\r\nEND\r\n");
  auto ttl = ttl_on(g_, k);
  ASSERT_TRUE(ttl);
  EXPECT_LE(*ttl, kTtl);

  EXPECT_EQ(c.call("delete " + k + "\r\n"), "DELETED\r\n");
  EXPECT_EQ(c.call("get " + k + "\r\n", "END\r\n"), "END\r\n");
  // Gone from the gutter, or kept only as an invalidated (stale) copy for lease-get.
  LineClient direct(g_.port());
  std::string on_g = direct.call("mg " + k + " v\r\n", "\r\n");
  if (on_g != "EN\r\n") {
    EXPECT_THAT(on_g, HasSubstr(" X"));
    direct.read_until("\r\n");
  }
}

TEST_F(Gutter, ServerBackUp_ItsKeysGoToItAgain) {
  std::string k = key_on_a("g:back:");
  take_a_down();
  LineClient c(proxy_->port(), std::chrono::seconds(3));
  ASSERT_EQ(c.call(set_cmd(k, "gutter-copy")), "STORED\r\n");
  a_.start();
  ASSERT_TRUE(wait_for_stat(proxy_->port(), "STAT server:" + a_.endpoint() + " up\r\n",
                            std::chrono::seconds(5)));
  // A restarted empty: the read goes to A, not to the gutter's copy.
  std::string r;
  for (int i = 0; i < 50; ++i) {
    r = c.call("get " + k + "\r\n", "\r\n");
    if (!r.starts_with("SERVER_ERROR")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(r, "END\r\n");
  EXPECT_EQ(c.call(set_cmd(k, "on-a")), "STORED\r\n");
  LineClient direct_a(a_.port());
  EXPECT_EQ(direct_a.call("get " + k + "\r\n", "END\r\n"),
            "VALUE " + k + " 0 4\r\non-a\r\nEND\r\n");
  EXPECT_EQ(ttl_on(a_, k), -1);  // no cap outside the gutter
}

TEST_F(Gutter, ReloadCanTurnTheGutterOff) {
  std::string k = key_on_a("g:off:");
  take_a_down();
  LineClient c(proxy_->port());
  EXPECT_EQ(c.call(set_cmd(k, "x")), "STORED\r\n");
  proxy_->write_config({&a_, &b_},
                       R"("backend": {"failures_until_down": 2, "probe_interval_ms": 100,
                                      "request_timeout_ms": 500},)");
  proxy_->reload();
  ASSERT_TRUE(proxy_->wait_for_metric("mcproxy_config_reloads_total{result=\"ok\"} 1"));
  // A is still down (its health carried over); without a gutter its keys fail fast again.
  EXPECT_EQ(c.call(set_cmd(k, "x")), "SERVER_ERROR backend " + a_.endpoint() + " is down\r\n");
}

}  // namespace
}  // namespace mccache::testing
