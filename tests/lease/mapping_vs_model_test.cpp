// The proxy's lease-aware commands through the real core (tests/mcproxy/core/core_shell.h) over
// FakeMemcached, against KeyLeaseModel: the stale-set, herd, expiry and restart scenarios, then
// random operation sequences where both must agree at every step.
#include <gtest/gtest.h>

#include <charconv>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fake_clock.h"
#include "fake_memcached.h"
#include "lease/key_lease_model.h"
#include "lease/lease_token.h"
#include "tests/mcproxy/core/core_shell.h"

namespace mccache::lease {
namespace {

using std::chrono::seconds;
using testing::FakeClock;
using testing::FakeMemcached;

constexpr LeaseSettings kSettings{.lease_ttl_s = 10, .stale_ttl_s = 5};

// A client's view of a lease-get reply, parsed back from the bytes the proxy wrote.
struct ClientLeaseGet {
  LeaseGetKind kind = LeaseGetKind::BackendError;
  uint64_t token = 0;
  uint32_t client_flags = 0;
  std::string value;
};

uint64_t to_u64(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

ClientLeaseGet parse_client_lease_get(std::string_view reply) {
  ClientLeaseGet r;
  size_t eol = reply.find("\r\n");
  std::string_view line = reply.substr(0, eol);
  std::vector<std::string_view> f;
  for (size_t i = 0; i <= line.size();) {
    size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    f.push_back(line.substr(i, j - i));
    i = j + 1;
  }
  size_t bytes = 0;
  if (f[0] == "VALUE" && f.size() == 4) {
    r.kind = LeaseGetKind::Hit;
    r.client_flags = static_cast<uint32_t>(to_u64(f[2]));
    bytes = to_u64(f[3]);
  } else if (f[0] == "LVALUE" && f.size() == 5) {
    r.token = to_u64(f[2]);
    r.kind = r.token == 1 ? LeaseGetKind::HotMiss : LeaseGetKind::LeaseGranted;
    r.client_flags = static_cast<uint32_t>(to_u64(f[3]));
    bytes = to_u64(f[4]);
  } else {
    return r;
  }
  r.value = std::string(reply.substr(eol + 2, bytes));
  if (reply.substr(eol + 2 + bytes) != "\r\nEND\r\n") r.kind = LeaseGetKind::BackendError;
  return r;
}

// One proxy with one connection to `backend`: each request's backend bytes go to the fake and
// its answers come back, until the core has nothing more to send. Only bytes move here.
class Proxy {
 public:
  Proxy(FakeMemcached& backend, LeaseSettings leases,
        config::HostPort server = {"127.0.0.1", 11211})
      : backend_(backend),
        shell_({server}, core::Settings{.leases = leases,
                                        .gutter_leases = leases,
                                        .gutter_ttl_s = 0,
                                        .admin_commands = false}) {
    connect();
  }

  // What the proxy does on (re)connect: the core's `stats` probe reads the backend epoch.
  void connect() {
    shell_.fail(0, "reconnecting");
    shell_.connect(0);
    pump();
  }

  std::string request(const std::string& bytes) {
    shell_.send(bytes);
    pump();
    return shell_.take_output();
  }
  std::string lease_get(const std::string& key) { return request("lease-get " + key + "\r\n"); }
  std::string lease_set(const std::string& key, uint64_t token, uint32_t flags, int64_t exptime,
                        const std::string& value) {
    return request("lease-set " + key + " " + std::to_string(token) + " " + std::to_string(flags) +
                   " " + std::to_string(exptime) + " " + std::to_string(value.size()) + "\r\n" +
                   value + "\r\n");
  }
  std::string get(const std::string& key) { return request("get " + key + "\r\n"); }
  std::string gets(const std::string& key) { return request("gets " + key + "\r\n"); }
  std::string set(const std::string& key, const std::string& value, uint32_t flags = 0) {
    return request("set " + key + " " + std::to_string(flags) + " 0 " +
                   std::to_string(value.size()) + "\r\n" + value + "\r\n");
  }
  // delete through the proxy; `mode` is the configured delete_mode for this one request.
  std::string del(const std::string& key, std::optional<DeleteMode> mode = std::nullopt) {
    auto& leases = shell_.settings().leases;
    DeleteMode configured = leases.delete_mode;
    leases.delete_mode = mode.value_or(configured);
    std::string reply = request("delete " + key + "\r\n");
    leases.delete_mode = configured;
    return reply;
  }

  size_t backend_commands() const { return backend_.commands_seen(); }

 private:
  void pump() {
    for (std::string out = shell_.take_written(0); !out.empty(); out = shell_.take_written(0))
      shell_.answer(0, backend_.execute(out));
  }

  FakeMemcached& backend_;
  core::testing::CoreShell shell_;
};

struct Cluster {
  explicit Cluster(LeaseSettings settings = kSettings) : proxy(memcached, settings) {}

  FakeClock clock;
  FakeMemcached memcached{clock};
  Proxy proxy;

  ClientLeaseGet lease_get(std::string_view key) {
    return parse_client_lease_get(proxy.lease_get(std::string(key)));
  }
};

TEST(LeaseMappingScenario, StaleSetRace_LeaseSetIsRefused_AndAFreshReadIsServed) {
  Cluster c;
  ClientLeaseGet a = c.lease_get("user:1");  // A misses and reads the old row...
  ASSERT_EQ(a.kind, LeaseGetKind::LeaseGranted);
  c.proxy.set("user:1", "new");                     // ...B updates the row (write-through)...
  EXPECT_EQ(c.proxy.del("user:1"), "DELETED\r\n");  // ...and the invalidation arrives
  EXPECT_EQ(c.proxy.lease_set("user:1", a.token, 0, 0, "old"), "NOT_STORED\r\n");
  ClientLeaseGet reader = c.lease_get("user:1");
  ASSERT_EQ(reader.kind, LeaseGetKind::LeaseGranted);  // a fresh read refills
  EXPECT_EQ(reader.value, "new");                      // (served the stale copy meanwhile)
  EXPECT_EQ(c.proxy.lease_set("user:1", reader.token, 0, 0, "newest"), "STORED\r\n");
  EXPECT_EQ(c.proxy.get("user:1"), "VALUE user:1 0 6\r\nnewest\r\nEND\r\n");
}

TEST(LeaseMappingScenario, StaleSetRace_IsRefusedInRemoveModeToo) {
  Cluster c;
  ClientLeaseGet a = c.lease_get("k");
  // The placeholder is no item to a plain command (memcached would have none): NOT_FOUND, but
  // the md still drops it and so voids the lease.
  EXPECT_EQ(c.proxy.del("k", DeleteMode::Remove), "NOT_FOUND\r\n");
  EXPECT_EQ(c.proxy.lease_set("k", a.token, 0, 0, "old"), "NOT_STORED\r\n");
  ClientLeaseGet next = c.lease_get("k");
  EXPECT_EQ(next.kind, LeaseGetKind::LeaseGranted);
  EXPECT_EQ(next.value, "");  // nothing stale kept
}

TEST(LeaseMappingScenario, HerdOf500LeaseGets_GrantsExactlyOneLease_AndAllAreServedAfterTheSet) {
  Cluster c;
  std::vector<ClientLeaseGet> replies;
  for (int i = 0; i < 500; ++i) replies.push_back(c.lease_get("hot"));
  int granted = 0;
  uint64_t token = 0;
  for (const auto& r : replies) {
    if (r.kind == LeaseGetKind::LeaseGranted) {
      ++granted;
      token = r.token;
    } else {
      EXPECT_EQ(r.kind, LeaseGetKind::HotMiss);
    }
  }
  EXPECT_EQ(granted, 1);
  EXPECT_EQ(c.proxy.lease_set("hot", token, 5, 0, "filled"), "STORED\r\n");
  for (int i = 0; i < 500; ++i) {
    ClientLeaseGet r = c.lease_get("hot");
    ASSERT_EQ(r.kind, LeaseGetKind::Hit);
    EXPECT_EQ(r.value, "filled");
    EXPECT_EQ(r.client_flags, 5u);
  }
}

TEST(LeaseMappingScenario, HerdAfterInvalidation_IsServedTheStaleValue) {
  Cluster c;
  c.proxy.set("hot", "v1", 2);
  c.proxy.del("hot");
  int granted = 0;
  for (int i = 0; i < 500; ++i) {
    ClientLeaseGet r = c.lease_get("hot");
    EXPECT_EQ(r.value, "v1");
    EXPECT_EQ(r.client_flags, 2u);
    granted += r.kind == LeaseGetKind::LeaseGranted;
  }
  EXPECT_EQ(granted, 1);
}

TEST(LeaseMappingScenario, LeaseExpires_WhenTheHolderDies) {
  Cluster c;
  ClientLeaseGet dead = c.lease_get("k");
  c.clock.advance(seconds(9));
  EXPECT_EQ(c.lease_get("k").kind, LeaseGetKind::HotMiss);
  c.clock.advance(seconds(1));
  ClientLeaseGet next = c.lease_get("k");
  ASSERT_EQ(next.kind, LeaseGetKind::LeaseGranted);
  EXPECT_EQ(c.proxy.lease_set("k", dead.token, 0, 0, "zombie"), "NOT_STORED\r\n");
  EXPECT_EQ(c.proxy.lease_set("k", next.token, 0, 0, "v"), "STORED\r\n");
}

TEST(LeaseMappingScenario, TokenFromBeforeAMemcachedRestart_IsRefusedWithoutABackendTrip) {
  Cluster c;
  ClientLeaseGet before = c.lease_get("k");
  c.clock.advance(seconds(1));
  c.memcached.restart();
  c.proxy.connect();  // the proxy re-reads `stats` on reconnect
  ClientLeaseGet after = c.lease_get("k");
  ASSERT_EQ(after.kind, LeaseGetKind::LeaseGranted);
  // The CAS restarted: without the epoch the old token would name the new placeholder.
  EXPECT_EQ(LeaseToken::from_wire(before.token).cas(), LeaseToken::from_wire(after.token).cas());
  size_t trips = c.proxy.backend_commands();
  EXPECT_EQ(c.proxy.lease_set("k", before.token, 0, 0, "old"), "NOT_STORED\r\n");
  EXPECT_EQ(c.proxy.backend_commands(), trips);
  EXPECT_EQ(c.proxy.lease_set("k", after.token, 0, 0, "new"), "STORED\r\n");
}

TEST(LeaseMappingScenario, TwoProxiesOnOnePool_AcceptEachOthersTokens) {
  Cluster c;
  Proxy other(c.memcached, kSettings);
  ClientLeaseGet a = c.lease_get("k");
  EXPECT_EQ(parse_client_lease_get(other.lease_get("k")).kind, LeaseGetKind::HotMiss);
  EXPECT_EQ(other.lease_set("k", a.token, 0, 0, "v"), "STORED\r\n");
  EXPECT_EQ(c.proxy.get("k"), "VALUE k 0 1\r\nv\r\nEND\r\n");
}

TEST(LeaseMappingScenario, ProxyNamingTheServerDifferently_RefusesTheToken) {
  Cluster c;
  Proxy other(c.memcached, kSettings, {"localhost", 11211});
  ClientLeaseGet a = c.lease_get("k");
  EXPECT_EQ(other.lease_set("k", a.token, 0, 0, "v"), "NOT_STORED\r\n");
}

TEST(LeaseMappingScenario, PlainGet_NeverReturnsAPlaceholderOrStaleCopy) {
  Cluster c;
  c.lease_get("p");
  EXPECT_EQ(c.proxy.get("p"), "END\r\n");
  c.proxy.set("s", "old");
  c.proxy.del("s");
  EXPECT_EQ(c.proxy.get("s"), "END\r\n");
  EXPECT_EQ(c.proxy.gets("s"), "END\r\n");
}

TEST(LeaseMappingScenario, PlainGetOfAStaleCopy_DoesNotSwallowTheLease) {
  Cluster c;
  c.proxy.set("k", "old");
  c.proxy.del("k");
  EXPECT_EQ(c.proxy.get("k"), "END\r\n");  // took the win, then gave it back
  ClientLeaseGet r = c.lease_get("k");
  EXPECT_EQ(r.kind, LeaseGetKind::LeaseGranted);
  EXPECT_EQ(c.proxy.lease_set("k", r.token, 0, 0, "fresh"), "STORED\r\n");
}

TEST(LeaseMappingScenario, WithoutTheGiveBack_APlainMgWouldSwallowTheLease) {
  // Why the give-back exists: memcached hands the stale win to whichever mg comes first.
  Cluster c;
  c.proxy.set("k", "old");
  c.proxy.del("k");
  EXPECT_NE(c.memcached.execute("mg k v\r\n").find(" W"), std::string::npos);
  EXPECT_EQ(c.lease_get("k").kind, LeaseGetKind::HotMiss);
}

TEST(LeaseMappingScenario, GiveBack_DoesNotExtendTheStaleCopy) {
  Cluster c;
  c.proxy.set("k", "old");
  c.proxy.del("k");  // stale for 5 s
  c.clock.advance(seconds(3));
  c.proxy.get("k");
  c.clock.advance(seconds(2));
  EXPECT_EQ(c.lease_get("k").value, "");  // the stale copy ran out on time
}

TEST(LeaseMappingScenario, DeleteOfMissingKey_IsNotFound) {
  Cluster c;
  EXPECT_EQ(c.proxy.del("nope"), "NOT_FOUND\r\n");
  EXPECT_EQ(c.proxy.del("nope", DeleteMode::Remove), "NOT_FOUND\r\n");
}

// Random sequences: proxy-over-memcached and the model must agree on every answer.
class Differential {
 public:
  Differential(uint32_t seed, LeaseSettings settings)
      : rng_(seed), c_(settings), model_(c_.clock, settings, *BackendEpoch::from_tag(0x100)) {}

  void step() {
    switch (pick(0, 9)) {
      case 0:
      case 1:
      case 2:
        lease_get();
        break;
      case 3:
      case 4:
        lease_set();
        break;
      case 5:
        get();
        break;
      case 6:
        set();
        break;
      case 7:
        remove();
        break;
      case 8:
        c_.clock.advance(seconds(pick(1, 6)));
        break;
      case 9:
        if (pick(0, 9) == 0) restart();
        break;
    }
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  void lease_get() {
    ClientLeaseGet p = c_.lease_get("k");
    ModelLeaseGet m = model_.lease_get();
    ASSERT_EQ(p.kind, m.kind);
    EXPECT_EQ(p.value, m.value.bytes);
    EXPECT_EQ(p.client_flags, m.value.client_flags);
    if (m.kind == LeaseGetKind::Hit) {
      EXPECT_EQ(p.token, 0u);
    } else if (m.kind == LeaseGetKind::HotMiss) {
      EXPECT_EQ(p.token, 1u);
    } else {
      tokens_.push_back({p.token, m.token});
    }
  }

  void lease_set() {
    std::pair<uint64_t, uint64_t> t{pick(0, 1), 0};
    t.second = t.first;
    if (!tokens_.empty() && pick(0, 4) != 0) {
      // Mostly the newest token (the live lease), sometimes an older, voided one.
      size_t i = pick(0, 2) == 0 ? static_cast<size_t>(pick(0, int(tokens_.size()) - 1))
                                 : tokens_.size() - 1;
      t = tokens_[i];
    }
    std::string value = "v" + std::to_string(++values_);
    uint32_t flags = static_cast<uint32_t>(pick(0, 3));
    int64_t exptime = pick(0, 3) == 0 ? pick(1, 8) : 0;
    std::string p = c_.proxy.lease_set("k", t.first, flags, exptime, value);
    LeaseSetResult m = model_.lease_set(t.second, {value, flags}, exptime);
    EXPECT_EQ(p, m == LeaseSetResult::Stored ? "STORED\r\n" : "NOT_STORED\r\n");
  }

  void get() {
    std::string p = c_.proxy.get("k");
    auto m = model_.get();
    std::string expected = "END\r\n";
    if (m) {
      expected = "VALUE k " + std::to_string(m->client_flags) + " " +
                 std::to_string(m->bytes.size()) + "\r\n" + m->bytes + "\r\nEND\r\n";
    }
    EXPECT_EQ(p, expected);
  }

  void set() {
    std::string value = "s" + std::to_string(++values_);
    c_.proxy.set("k", value, 9);
    model_.set({value, 9});
  }

  void remove() {
    DeleteMode mode = pick(0, 1) ? DeleteMode::Invalidate : DeleteMode::Remove;
    std::string p = c_.proxy.del("k", mode);
    bool m = model_.remove(mode);
    EXPECT_EQ(p, m ? "DELETED\r\n" : "NOT_FOUND\r\n");
  }

  void restart() {
    c_.clock.advance(seconds(1));
    c_.memcached.restart();
    c_.proxy.connect();
    model_.restart(*BackendEpoch::from_tag(static_cast<uint16_t>(0x100 + ++restarts_)));
  }

  std::mt19937 rng_;
  Cluster c_;
  KeyLeaseModel model_;
  std::vector<std::pair<uint64_t, uint64_t>> tokens_;  // (proxy token, model token) pairs
  int values_ = 0;
  int restarts_ = 0;
};

void run_differential(LeaseSettings settings, uint32_t seeds) {
  for (uint32_t seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Differential d(seed, settings);
    for (int i = 0; i < 300; ++i) {
      d.step();
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(LeaseMappingVsModel, AgreeOnRandomOperationSequences) { run_differential(kSettings, 200); }

TEST(LeaseMappingVsModel, AgreeWithALongerStaleTtlThanLeaseTtl) {
  run_differential(LeaseSettings{.lease_ttl_s = 3, .stale_ttl_s = 12}, 100);
}

TEST(LeaseMappingVsModel, AgreeWhenNoStaleCopyIsKept) {
  run_differential(LeaseSettings{.lease_ttl_s = 5, .stale_ttl_s = 0}, 100);
}

}  // namespace
}  // namespace mccache::lease
