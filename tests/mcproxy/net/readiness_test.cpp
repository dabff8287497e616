// mcproxy's internal windows never reach a client: a request that arrives while a backend
// connection is not ready yet (memcached still starting, a reconnect after a restart, the lease
// epoch not read yet) waits for it, at most connect_timeout_ms, and is served; a server that
// really is down still answers at once once marked down (or through the gutter), and never later
// than connect_timeout_ms. Real memcached, the real binary, 200 raw client sockets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/mcproxy/net/proxy_fixture.h"

namespace mccache::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kClients = 200;

// The first command of new client `i`: a lease-get of a fresh key, a set, or a lease-set with a
// token this memcached never issued (NOT_STORED, decided against the connection's lease epoch).
enum class First { kLeaseGet, kSet, kLeaseSet };
First first_of(int i) { return static_cast<First>(i % 3); }

std::string command_for(First kind, const std::string& key) {
  switch (kind) {
    case First::kLeaseGet:
      return "lease-get " + key + "\r\n";
    case First::kSet:
      return "set " + key + " 0 0 1\r\nx\r\n";
    case First::kLeaseSet:
      return "lease-set " + key + " 12345 0 0 1\r\nx\r\n";
  }
  return {};
}

bool is_error_line(const std::string& r) {
  return r.starts_with("SERVER_ERROR") || r.starts_with("CLIENT_ERROR") || r.starts_with("ERROR");
}

// A reply is whole: one line, or for a lease-get its block up to END (or an error line).
bool whole(First kind, const std::string& r) {
  if (!r.ends_with("\r\n")) return false;
  if (kind != First::kLeaseGet || is_error_line(r)) return true;
  return r.ends_with("END\r\n");
}

bool served(First kind, const std::string& key, const std::string& r) {
  switch (kind) {
    case First::kLeaseGet:
      return r.starts_with("LVALUE " + key + " ") && r.ends_with("\r\nEND\r\n");
    case First::kSet:
      return r == "STORED\r\n";
    case First::kLeaseSet:
      return r == "NOT_STORED\r\n";
  }
  return false;
}

struct Burst {
  int served = 0;
  std::map<std::string, int> others;  // every other reply, with how many clients got it
  milliseconds slowest{0};            // from a client's send to its whole reply
};

// Opens kClients new connections (each on its own source port, so SO_REUSEPORT spreads them
// over every proxy thread), sends each its first command, and reads every reply (bounded).
Burst first_commands(uint16_t port, const std::string& prefix) {
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    int fd = connect_loopback(port);
    if (fd < 0) throw std::runtime_error("cannot connect to the proxy");
    fds.push_back(fd);
  }
  std::vector<Clock::time_point> sent(kClients);
  for (int i = 0; i < kClients; ++i) {
    std::string cmd = command_for(first_of(i), prefix + std::to_string(i));
    sent[static_cast<size_t>(i)] = Clock::now();
    if (::send(fds[static_cast<size_t>(i)], cmd.data(), cmd.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(cmd.size()))
      throw std::runtime_error("send failed");
  }
  std::vector<std::string> replies(kClients);
  std::vector<bool> done(kClients, false);
  Burst b;
  int left = kClients;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (left > 0 && Clock::now() < deadline) {
    std::vector<pollfd> polls;
    std::vector<size_t> who;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (done[i]) continue;
      polls.push_back({fds[i], POLLIN, 0});
      who.push_back(i);
    }
    if (::poll(polls.data(), polls.size(), 100) <= 0) continue;
    for (size_t p = 0; p < polls.size(); ++p) {
      if (polls[p].revents == 0) continue;
      size_t i = who[p];
      char buf[4096];
      ssize_t n = ::recv(fds[i], buf, sizeof buf, 0);
      if (n > 0) replies[i].append(buf, static_cast<size_t>(n));
      First kind = first_of(static_cast<int>(i));
      if (n <= 0 || whole(kind, replies[i])) {
        done[i] = true;
        --left;
        auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - sent[i]);
        b.slowest = std::max(b.slowest, took);
      }
    }
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    ::close(fds[i]);
    First kind = first_of(static_cast<int>(i));
    if (served(kind, prefix + std::to_string(i), replies[i])) {
      ++b.served;
    } else {
      std::string shown = replies[i].empty() ? "(no reply)" : replies[i];
      // Key names differ per client: count the replies by their shape.
      auto key = prefix + std::to_string(i);
      for (auto pos = shown.find(key); pos != std::string::npos; pos = shown.find(key))
        shown.replace(pos, key.size(), "<key>");
      ++b.others[shown];
    }
  }
  return b;
}

// The figure each test reports beside its verdict.
void report(const char* what, const Burst& b) {
  std::printf("[ figures  ] %s: %d of %d served, slowest first reply %lld ms\n", what, b.served,
              kClients, static_cast<long long>(b.slowest.count()));
}

std::string describe(const Burst& b) {
  std::string s = std::to_string(b.served) + " of " + std::to_string(kClients) + " served";
  for (const auto& [reply, n] : b.others) s += "; " + std::to_string(n) + "x " + reply;
  return s;
}

// Every client served, none after connect_timeout_ms (500 ms by default).
void expect_all_served(const char* what, const Burst& b) {
  report(what, b);
  EXPECT_EQ(b.served, kClients) << describe(b);
  EXPECT_LT(b.slowest, milliseconds(500)) << "connect_timeout_ms bounds every wait";
}

// How many clients got a reply starting with `prefix`.
int replies_starting(const Burst& b, const std::string& prefix) {
  int n = 0;
  for (const auto& [reply, count] : b.others)
    if (reply.starts_with(prefix)) n += count;
  return n;
}

// Memcached already answering when mcproxy starts: the connect and the epoch probe are the only
// windows, and the first command of every new client on every thread waits them out.
TEST(ProxyReadiness, ColdProxy_FirstCommandOfEveryNewClient_IsServed) {
  MemcachedServer m;
  ProxyProcess proxy({&m});
  Burst b = first_commands(proxy.port(), "cold:");
  expect_all_served("cold", b);
}

// `devcluster up` starts memcached and mcproxy together: mcproxy's first connect may find
// nothing listening yet. The server is not down, it is starting; clients must not see it.
TEST(ProxyReadiness, ColdCluster_MemcachedStartingWithTheProxy_EveryFirstCommandIsServed) {
  MemcachedServer m;
  m.kill9();  // keeps its port; nothing listens there until start()
  ProxyProcess proxy({&m});
  m.start();
  Burst b = first_commands(proxy.port(), "cluster:");
  expect_all_served("cluster", b);
}

// A memcached restart (kill, start on the same port) while mcproxy runs: every connection of the
// server drops and reconnects; new clients arriving meanwhile wait for the new connection and its
// epoch instead of being told to retry.
TEST(ProxyReadiness, BackendRestarted_EveryFirstCommandOfNewClients_IsServed) {
  MemcachedServer m;
  ProxyProcess proxy({&m});
  ASSERT_EQ(first_commands(proxy.port(), "before:").served, kClients);
  m.kill9();
  m.start();
  Burst b = first_commands(proxy.port(), "after:");
  expect_all_served("after", b);
  // A second restart: the first one left nothing behind that breaks the next.
  m.kill9();
  m.start();
  expect_all_served("again", first_commands(proxy.port(), "again:"));
}

// More proxy threads than failures_until_down (3): a restart closes one connection per thread,
// and were each close counted as a failure, the restart alone would mark the server down and
// its keys would be answered `is down` until the next probe.
TEST(ProxyReadiness, BackendRestarted_FourThreads_IsNotMarkedDown_EveryFirstCommandIsServed) {
  MemcachedServer m;
  ProxyProcess proxy({&m}, "", "", 4);
  ASSERT_EQ(first_commands(proxy.port(), "before:").served, kClients);
  m.kill9();
  m.start();
  Burst b = first_commands(proxy.port(), "after:");
  expect_all_served("after, 4 threads", b);
}

// Resumes a stopped memcached after `delay`, from another thread, while the test sends.
struct ResumeLater {
  ResumeLater(pid_t pid, milliseconds delay)
      : t([pid, delay] {
          std::this_thread::sleep_for(delay);
          ::kill(pid, SIGCONT);
        }) {}
  ~ResumeLater() { t.join(); }
  std::thread t;
};

// The burst, with memcached `stopped` resumed 150 ms into it.
Burst first_commands_resuming(uint16_t port, const std::string& prefix, pid_t stopped) {
  ResumeLater resume(stopped, milliseconds(150));
  return first_commands(port, prefix);
}

// The epoch window: the connection is up (the kernel accepted it) but memcached has not answered
// the `stats` probe yet, so the lease epoch is unknown. A lease-set needs it to check its token;
// it waits for the probe's reply like everything else.
TEST(ProxyReadiness, EpochNotReadYet_LeaseSetWaitsForTheProbe) {
  MemcachedServer m;
  stop_and_wait(m.pid());
  ProxyProcess proxy({&m});
  Burst b = first_commands_resuming(proxy.port(), "epoch:", m.pid());
  expect_all_served("epoch", b);
}

// A reload that adds a server: its new connections are not ready when the first requests for
// its keys arrive (here it is slow to answer its probe); they wait for it.
TEST(ProxyReadiness, ReloadAddsAServer_ItsFirstRequestsWaitForItsConnections) {
  MemcachedServer m1, m2;
  stop_and_wait(m2.pid());
  ProxyProcess proxy({&m1});
  ASSERT_EQ(first_commands(proxy.port(), "one:").served, kClients);
  proxy.write_config({&m1, &m2});
  proxy.reload();
  ASSERT_TRUE(proxy.wait_for_metric("mcproxy_server_up{server=\"" + m2.endpoint() + "\"}"));
  Burst b = first_commands_resuming(proxy.port(), "two:", m2.pid());
  expect_all_served("reload", b);
}

// Nothing listens at the server's address and it never gets marked down (failures_until_down
// is out of reach): every request errors once connect_timeout_ms is over, never later.
TEST(ProxyReadiness, NothingListening_ErrorsWithinConnectTimeout_NoHang) {
  MemcachedServer m;
  m.kill9();
  ProxyProcess proxy({&m},
                     R"("backend": {"connect_timeout_ms": 300, "failures_until_down": 1000},)");
  Burst b = first_commands(proxy.port(), "dead:");
  report("dead", b);
  EXPECT_EQ(b.served, 0);
  EXPECT_EQ(replies_starting(b, "SERVER_ERROR backend " + m.endpoint()), kClients) << describe(b);
  EXPECT_LT(b.slowest, milliseconds(300 + 250)) << describe(b);
}

// SIGTERM while a request waits for a server that is not ready: the request was read, so it is
// answered (here: the server's SERVER_ERROR) before the connection closes, at once, not after the
// long connect_timeout_ms.
TEST(ProxyReadiness, Sigterm_WhileARequestWaits_ItIsAnsweredBeforeTheClose) {
  MemcachedServer m;
  m.kill9();
  ProxyProcess proxy({&m},
                     R"("backend": {"connect_timeout_ms": 5000, "failures_until_down": 1000},)");
  LineClient c(proxy.port(), std::chrono::seconds(3));
  c.send("set held 0 0 1\r\nx\r\n");
  std::this_thread::sleep_for(milliseconds(200));  // it waits now
  auto t0 = Clock::now();
  ::kill(proxy.pid(), SIGTERM);
  EXPECT_EQ(c.read_until("\r\n"),
            "SERVER_ERROR backend " + m.endpoint() + " is reconnecting; retry\r\n");
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_LT(Clock::now() - t0, milliseconds(1000));
}

// The same dead server with the default failures_until_down is marked down within a few
// refused connects, and its keys are then answered at once: "is down", well inside the bound.
TEST(ProxyReadiness, NothingListening_MarkedDown_AnswersIsDownPromptly) {
  MemcachedServer m;
  m.kill9();
  ProxyProcess proxy({&m}, R"("backend": {"connect_timeout_ms": 2000},)");
  Burst b = first_commands(proxy.port(), "down:");
  report("down", b);
  EXPECT_EQ(b.served, 0);
  EXPECT_EQ(replies_starting(b, "SERVER_ERROR backend " + m.endpoint() + " is down\r\n"), kClients)
      << describe(b);
  EXPECT_LT(b.slowest, milliseconds(1000)) << describe(b);
}

// With a gutter, a server with nothing listening is marked down within a few refused connects
// and its keys go to the gutter: served, not errors, and within the bound.
TEST(ProxyReadiness, NothingListening_WithGutter_KeysAreServedByTheGutter) {
  MemcachedServer m, gutter;
  m.kill9();
  ProxyProcess proxy({&m}, "",
                     R"(, "gutter": {"servers": [")" + gutter.endpoint() + R"("], "ttl_s": 10})");
  Burst b = first_commands(proxy.port(), "gutter:");
  expect_all_served("gutter", b);
}

}  // namespace
}  // namespace mccache::testing
