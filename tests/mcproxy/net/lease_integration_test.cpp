// Leases end to end: the real mcproxy binary over real memcached 1.6.18, driven with raw
// lease-get / lease-set in mcrouter's ASCII form. Lease state lives in memcached, so these also
// check what two proxies, a memcached restart and an expired lease do.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/mcproxy/net/proxy_fixture.h"

namespace mccache::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Steady = std::chrono::steady_clock;

// The token of an "LVALUE <key> <token> <flags> <bytes>" reply; 0 for anything else.
uint64_t token_of(const std::string& reply) {
  if (!reply.starts_with("LVALUE ")) return 0;
  size_t a = reply.find(' ', 7);
  size_t b = reply.find(' ', a + 1);
  return std::stoull(reply.substr(a + 1, b - a - 1));
}

bool is_grant(const std::string& reply) { return token_of(reply) > 1; }
bool is_hot_miss(const std::string& reply) { return token_of(reply) == 1; }

std::string lease_get(LineClient& c, const std::string& key) {
  return c.call("lease-get " + key + "\r\n", "END\r\n");
}

std::string lease_set(LineClient& c, const std::string& key, uint64_t token,
                      const std::string& value, int exptime = 0) {
  return c.call("lease-set " + key + " " + std::to_string(token) + " 0 " + std::to_string(exptime) +
                " " + std::to_string(value.size()) + "\r\n" + value + "\r\n");
}

// Retries `lease-get` until the proxy answers it (after a restart it first reconnects and reads
// the server's epoch); bounded in time.
std::string lease_get_when_ready(uint16_t port, const std::string& key,
                                 std::chrono::seconds limit) {
  auto deadline = Steady::now() + limit;
  std::string r;
  while (Steady::now() < deadline) {
    LineClient c(port);
    r = c.call("lease-get " + key + "\r\n", "\r\n");
    if (!r.starts_with("SERVER_ERROR")) return r + c.read_until("END\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return r;
}

class Leases : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    memcached_ = new MemcachedServer();
    proxy_ = new ProxyProcess({memcached_}, R"("leases": {"lease_ttl_s": 30, "stale_ttl_s": 30},)");
  }
  static void TearDownTestSuite() {
    delete proxy_;
    delete memcached_;
  }
  static std::string fresh_key(const std::string& prefix) {
    static int n = 0;
    return prefix + std::to_string(::getpid()) + "_" + std::to_string(++n);
  }
  static MemcachedServer* memcached_;
  static ProxyProcess* proxy_;
};
MemcachedServer* Leases::memcached_ = nullptr;
ProxyProcess* Leases::proxy_ = nullptr;

TEST_F(Leases, Miss_GrantsOneLease_OthersHotMiss_LeaseSetThenServesHits) {
  std::string k = fresh_key("basic:");
  LineClient a(proxy_->port());
  LineClient b(proxy_->port());
  std::string first = lease_get(a, k);
  ASSERT_TRUE(is_grant(first)) << first;
  EXPECT_EQ(first, "LVALUE " + k + " " + std::to_string(token_of(first)) + " 0 0\r\n\r\nEND\r\n");
  EXPECT_EQ(lease_get(b, k), "LVALUE " + k + " 1 0 0\r\n\r\nEND\r\n");
  EXPECT_EQ(lease_set(a, k, token_of(first), "filled", 0), "STORED\r\n");
  EXPECT_EQ(lease_get(b, k), "VALUE " + k + " 0 6\r\nfilled\r\nEND\r\n");
  // A token is good once.
  EXPECT_EQ(lease_set(a, k, token_of(first), "again"), "NOT_STORED\r\n");
  EXPECT_EQ(b.call("get " + k + "\r\n", "END\r\n"), "VALUE " + k + " 0 6\r\nfilled\r\nEND\r\n");
}

TEST_F(Leases, StaleSetRace_DeleteVoidsTheLease_LeaseSetIsRefused_FreshValueIsStored) {
  std::string k = fresh_key("race:");
  LineClient a(proxy_->port());
  LineClient b(proxy_->port());
  uint64_t a_token = token_of(lease_get(a, k));  // A misses and reads the (old) row ...
  ASSERT_GT(a_token, 1u);
  // ... B updates the row and deletes the key (only a placeholder is there: NOT_FOUND, as
  // memcached would answer, but the lease is voided all the same) ...
  EXPECT_EQ(b.call("delete " + k + "\r\n"), "NOT_FOUND\r\n");
  // ... A's late set of the old row is refused.
  EXPECT_EQ(lease_set(a, k, a_token, "old-row"), "NOT_STORED\r\n");
  EXPECT_EQ(b.call("get " + k + "\r\n", "END\r\n"), "END\r\n");
  // The next reader gets a new lease and stores the fresh row.
  std::string again = lease_get(b, k);
  ASSERT_TRUE(is_grant(again)) << again;
  EXPECT_NE(token_of(again), a_token);
  EXPECT_EQ(lease_set(b, k, token_of(again), "new-row"), "STORED\r\n");
  EXPECT_EQ(lease_get(a, k), "VALUE " + k + " 0 7\r\nnew-row\r\nEND\r\n");
}

TEST_F(Leases, Herd_500ConcurrentLeaseGets_GrantExactlyOneLease_AllHitAfterTheSet) {
  std::string k = fresh_key("herd:");
  constexpr int kConnections = 50;
  constexpr int kPipelined = 10;
  std::vector<std::unique_ptr<LineClient>> clients;
  for (int i = 0; i < kConnections; ++i)
    clients.push_back(std::make_unique<LineClient>(proxy_->port()));
  std::atomic<int> grants{0}, hot_misses{0}, hits{0}, other{0};
  std::atomic<uint64_t> token{0};
  auto round = [&] {
    std::vector<std::thread> threads;
    for (auto& c : clients) {
      threads.emplace_back([&, c = c.get()] {
        std::string req;
        for (int j = 0; j < kPipelined; ++j) req += "lease-get " + k + "\r\n";
        c->send(req);
        for (int j = 0; j < kPipelined; ++j) {
          std::string r = c->read_until("END\r\n");
          if (is_grant(r)) {
            ++grants;
            token = token_of(r);
          } else if (is_hot_miss(r)) {
            ++hot_misses;
          } else if (r.starts_with("VALUE ")) {
            ++hits;
          } else {
            ++other;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  };
  round();
  EXPECT_EQ(grants.load(), 1);
  EXPECT_EQ(hot_misses.load(), kConnections * kPipelined - 1);
  EXPECT_EQ(other.load(), 0);
  LineClient holder(proxy_->port());
  EXPECT_EQ(lease_set(holder, k, token.load(), "hot"), "STORED\r\n");
  grants = hot_misses = hits = other = 0;
  round();
  EXPECT_EQ(hits.load(), kConnections * kPipelined);
  EXPECT_EQ(grants.load() + hot_misses.load() + other.load(), 0);
}

TEST_F(Leases, InvalidateModeDelete_ServesStaleValueWithOneLease_OthersStaleHotMiss) {
  std::string k = fresh_key("stale:");
  LineClient c(proxy_->port());
  ASSERT_EQ(c.call("set " + k + " 7 0 2\r\nv1\r\n"), "STORED\r\n");
  EXPECT_EQ(lease_get(c, k), "VALUE " + k + " 7 2\r\nv1\r\nEND\r\n");
  EXPECT_EQ(c.call("delete " + k + "\r\n"), "DELETED\r\n");
  std::string first = lease_get(c, k);
  ASSERT_TRUE(is_grant(first)) << first;
  EXPECT_EQ(first, "LVALUE " + k + " " + std::to_string(token_of(first)) + " 7 2\r\nv1\r\nEND\r\n");
  EXPECT_EQ(lease_get(c, k), "LVALUE " + k + " 1 7 2\r\nv1\r\nEND\r\n");
  // A second invalidation voids the lease on the stale copy too (NOT_FOUND: the stale copy is
  // no item to a plain command, as memcached answers a second delete).
  EXPECT_EQ(c.call("delete " + k + "\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(lease_set(c, k, token_of(first), "v2"), "NOT_STORED\r\n");
  std::string next = lease_get(c, k);
  ASSERT_TRUE(is_grant(next)) << next;
  EXPECT_EQ(lease_set(c, k, token_of(next), "v2"), "STORED\r\n");
  EXPECT_EQ(c.call("get " + k + "\r\n", "END\r\n"), "VALUE " + k + " 0 2\r\nv2\r\nEND\r\n");
}

TEST_F(Leases, PlainGetOfInvalidatedItem_IsAMiss_AndDoesNotSwallowTheLease) {
  std::string k = fresh_key("plain:");
  LineClient c(proxy_->port());
  ASSERT_EQ(c.call("set " + k + " 0 0 3\r\nold\r\n"), "STORED\r\n");
  ASSERT_EQ(c.call("delete " + k + "\r\n"), "DELETED\r\n");
  EXPECT_EQ(c.call("get " + k + "\r\n", "END\r\n"), "END\r\n");
  EXPECT_EQ(c.call("gets " + k + "\r\n", "END\r\n"), "END\r\n");
  EXPECT_EQ(c.call("gat 60 " + k + "\r\n", "END\r\n"), "END\r\n");
  // The plain gets took the stale copy's win and gave it back: the lease-get client gets it.
  std::string r = lease_get(c, k);
  EXPECT_TRUE(is_grant(r)) << r;
  EXPECT_THAT(r, HasSubstr("\r\nold\r\nEND\r\n"));
}

// What memcached answers for a key it does not have, every plain command answers for a key with
// only a stale copy: the copy stays for lease-get clients only.
TEST_F(Leases, AfterAnInvalidatingDelete_EveryPlainCommandSeesNoItem_AsInMemcached) {
  std::string k = fresh_key("absent:");
  LineClient c(proxy_->port());
  auto reset = [&] {
    ASSERT_EQ(c.call("set " + k + " 0 0 2\r\n10\r\n"), "STORED\r\n");
    ASSERT_EQ(c.call("delete " + k + "\r\n"), "DELETED\r\n");
  };
  reset();
  EXPECT_EQ(c.call("delete " + k + "\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(c.call("touch " + k + " 0\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(c.call("gets " + k + "\r\n"), "END\r\n");
  EXPECT_EQ(c.call("cas " + k + " 0 0 1 1\r\nx\r\n"), "NOT_FOUND\r\n");
  reset();
  EXPECT_EQ(c.call("incr " + k + " 1\r\n"), "NOT_FOUND\r\n");
  reset();
  EXPECT_EQ(c.call("append " + k + " 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
  EXPECT_EQ(c.call("get " + k + "\r\n"), "END\r\n");  // the deleted value did not come back
  reset();
  EXPECT_EQ(c.call("replace " + k + " 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
  EXPECT_EQ(c.call("gat 0 " + k + "\r\n"), "END\r\n");
  reset();
  EXPECT_EQ(c.call("add " + k + " 0 0 1\r\nx\r\n"), "STORED\r\n");  // e.g. a cache lock
  EXPECT_EQ(c.call("get " + k + "\r\n", "END\r\n"), "VALUE " + k + " 0 1\r\nx\r\nEND\r\n");
}

TEST_F(Leases, PlainGetOfLeasePlaceholder_IsAMiss) {
  std::string k = fresh_key("placeholder:");
  LineClient c(proxy_->port());
  ASSERT_TRUE(is_grant(lease_get(c, k)));
  EXPECT_EQ(c.call("get " + k + "\r\n", "END\r\n"), "END\r\n");
  EXPECT_EQ(c.call("gets " + k + " " + k + "\r\n", "END\r\n"), "END\r\n");
  EXPECT_TRUE(is_hot_miss(lease_get(c, k)));
}

TEST_F(Leases, LeaseSetNoreply_StoresSilently_AndBadTokensAreRefused) {
  std::string k = fresh_key("noreply:");
  LineClient c(proxy_->port());
  uint64_t t = token_of(lease_get(c, k));
  ASSERT_GT(t, 1u);
  c.send("lease-set " + k + " " + std::to_string(t) + " 3 0 1 noreply\r\nq\r\n");
  EXPECT_EQ(lease_get(c, k), "VALUE " + k + " 3 1\r\nq\r\nEND\r\n");
  EXPECT_EQ(lease_set(c, k, 0, "x"), "NOT_STORED\r\n");
  EXPECT_EQ(lease_set(c, k, 1, "x"), "NOT_STORED\r\n");
  EXPECT_EQ(lease_set(c, k, 12345, "x"), "NOT_STORED\r\n");  // not one we issued
  EXPECT_EQ(lease_get(c, k), "VALUE " + k + " 3 1\r\nq\r\nEND\r\n");
}

TEST_F(Leases, MultiKeyLeaseGet_AnswersEveryKeyThenOneEnd) {
  std::string hit = fresh_key("multi:");
  std::string miss = fresh_key("multi:");
  LineClient c(proxy_->port());
  ASSERT_EQ(c.call("set " + hit + " 0 0 1\r\nh\r\n"), "STORED\r\n");
  std::string r = c.call("lease-get " + hit + " " + miss + "\r\n", "END\r\n");
  EXPECT_THAT(r, StartsWith("VALUE " + hit + " 0 1\r\nh\r\nLVALUE " + miss + " "));
  EXPECT_EQ(r.find("END\r\n"), r.size() - 5);
}

TEST_F(Leases, Metrics_CountGrantsHotMissesAndLeaseSetReasons) {
  std::string k = fresh_key("metrics:");
  LineClient c(proxy_->port());
  uint64_t t = token_of(lease_get(c, k));
  lease_get(c, k);
  lease_set(c, k, 1, "x");
  lease_set(c, k, t, "x");
  LineClient m(proxy_->metrics_port());
  std::string body = m.call("GET /metrics HTTP/1.0\r\n\r\n", "mcproxy_lease_stale_served_total");
  EXPECT_THAT(body, HasSubstr("mcproxy_lease_get_keys_total{outcome=\"granted\"}"));
  EXPECT_THAT(body, HasSubstr("mcproxy_lease_get_keys_total{outcome=\"hot_miss\"}"));
  EXPECT_THAT(body, HasSubstr("{result=\"not_stored\",reason=\"special_token\"}"));
  EXPECT_THAT(body, HasSubstr("{result=\"stored\",reason=\"lease_valid\"}"));
}

TEST(LeasesDeleteMode, DeleteVoidsTheLease_AndLeavesNoStaleCopy) {
  MemcachedServer memcached;
  ProxyProcess proxy({&memcached}, R"("leases": {"delete_mode": "delete"},)");
  LineClient c(proxy.port());
  uint64_t t = token_of(lease_get(c, "dm"));
  ASSERT_GT(t, 1u);
  EXPECT_EQ(c.call("delete dm\r\n"), "NOT_FOUND\r\n");  // a placeholder is no item
  EXPECT_EQ(lease_set(c, "dm", t, "late"), "NOT_STORED\r\n");
  ASSERT_EQ(c.call("set dm 0 0 1\r\nv\r\n"), "STORED\r\n");
  EXPECT_EQ(c.call("delete dm\r\n"), "DELETED\r\n");
  std::string r = lease_get(c, "dm");  // no stale copy: an empty miss with a new lease
  EXPECT_TRUE(is_grant(r)) << r;
  EXPECT_THAT(r, HasSubstr(" 0 0\r\n\r\nEND\r\n"));
  EXPECT_EQ(c.call("delete nothing-here\r\n"), "NOT_FOUND\r\n");
}

TEST(LeasesExpiry, HolderDies_AfterLeaseTtlTheNextLeaseGetGetsANewLease) {
  MemcachedServer memcached;
  ProxyProcess proxy({&memcached}, R"("leases": {"lease_ttl_s": 1},)");
  uint64_t dead_token;
  {
    LineClient holder(proxy.port());
    dead_token = token_of(lease_get(holder, "exp"));
    ASSERT_GT(dead_token, 1u);
  }  // the holder goes away without a lease-set
  LineClient c(proxy.port());
  EXPECT_TRUE(is_hot_miss(lease_get(c, "exp")));
  // memcached's clock ticks in whole seconds: the 1 s placeholder is gone within ~2 s.
  auto deadline = Steady::now() + std::chrono::seconds(4);
  std::string r;
  while (Steady::now() < deadline) {
    r = lease_get(c, "exp");
    if (is_grant(r)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(is_grant(r)) << r;
  EXPECT_NE(token_of(r), dead_token);
  EXPECT_EQ(lease_set(c, "exp", dead_token, "late"), "NOT_STORED\r\n");
  EXPECT_EQ(lease_set(c, "exp", token_of(r), "v"), "STORED\r\n");
}

TEST(LeasesRestart, TokenFromBeforeAMemcachedRestart_IsRefused) {
  MemcachedServer memcached;
  ProxyProcess proxy({&memcached}, R"("backend": {"probe_interval_ms": 100},)");
  std::string before = lease_get_when_ready(proxy.port(), "rk", std::chrono::seconds(5));
  uint64_t old_token = token_of(before);
  ASSERT_GT(old_token, 1u) << before;
  memcached.kill9();
  memcached.start();
  // The fresh memcached restarts CAS at 1, so the new lease's CAS may equal the old one's; the
  // epoch in the token tells them apart.
  std::string after = lease_get_when_ready(proxy.port(), "rk", std::chrono::seconds(10));
  ASSERT_TRUE(is_grant(after)) << after;
  EXPECT_NE(token_of(after), old_token);
  LineClient c(proxy.port());
  EXPECT_EQ(lease_set(c, "rk", old_token, "old"), "NOT_STORED\r\n");
  // Refused by the proxy on the epoch, not by a CAS that happened to differ.
  LineClient m(proxy.metrics_port());
  EXPECT_THAT(m.call("GET /metrics HTTP/1.0\r\n\r\n", "mcproxy_lease_stale_served_total"),
              HasSubstr("{result=\"not_stored\",reason=\"foreign_epoch\"} 1\n"));
  EXPECT_EQ(lease_set(c, "rk", token_of(after), "new"), "STORED\r\n");
  EXPECT_EQ(c.call("get rk\r\n", "END\r\n"), "VALUE rk 0 3\r\nnew\r\nEND\r\n");
}

TEST(LeasesTwoProxies, LeaseFromOneProxy_IsHonouredByTheOther) {
  MemcachedServer memcached;
  ProxyProcess p1({&memcached});
  ProxyProcess p2({&memcached});
  std::string g = lease_get_when_ready(p1.port(), "shared", std::chrono::seconds(5));
  ASSERT_TRUE(is_grant(g)) << g;
  LineClient c2(p2.port());
  std::string at_p2 = lease_get_when_ready(p2.port(), "shared", std::chrono::seconds(5));
  EXPECT_TRUE(is_hot_miss(at_p2)) << at_p2;
  EXPECT_EQ(lease_set(c2, "shared", token_of(g), "both"), "STORED\r\n");
  LineClient c1(p1.port());
  EXPECT_EQ(lease_get(c1, "shared"), "VALUE shared 0 4\r\nboth\r\nEND\r\n");
}

}  // namespace
}  // namespace mccache::testing
