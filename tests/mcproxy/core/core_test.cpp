// The proxy core end to end without sockets: client bytes in, backend bytes out, backend replies
// back in any order, client bytes out in request order.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core_shell.h"
#include "lease/backend_epoch.h"
#include "lease/lease_token.h"

namespace mccache::core {
namespace {

using testing::CoreShell;

const std::vector<config::HostPort> kTwo{{"127.0.0.1", 11211}, {"127.0.0.1", 11212}};
const std::vector<config::HostPort> kGutter{{"127.0.0.1", 11311}};

Settings settings() {
  Settings s;
  s.leases = lease::LeaseSettings{.lease_ttl_s = 10, .stale_ttl_s = 5};
  s.gutter_leases = s.leases;
  s.gutter_ttl_s = 10;
  return s;
}

// The n-th key (from 0) that ketama places on `server`.
std::string key_on(const CoreShell& shell, size_t server, int n = 0, const std::string& p = "k") {
  for (int i = 0;; ++i) {
    std::string k = p + std::to_string(i);
    if (shell.placement().server_for(k) == server && n-- == 0) return k;
  }
}

std::string va(std::string_view key, std::string_view value, std::string_view flags = "f0 c2 t-1") {
  return "VA " + std::to_string(value.size()) + " " + std::string(flags) + " k" + std::string(key) +
         "\r\n" + std::string(value) + "\r\n";
}

std::string value(std::string_view key, std::string_view v) {
  return "VALUE " + std::string(key) + " 0 " + std::to_string(v.size()) + "\r\n" + std::string(v) +
         "\r\n";
}

TEST(ProxyCore, Get_IsOneMetaGetToTheKeysServer_AndComesBackAsText) {
  CoreShell shell(kTwo, settings());
  std::string a = key_on(shell, 1);
  shell.send("get " + a + "\r\n");
  EXPECT_EQ(shell.take_written(0), "");
  EXPECT_EQ(shell.take_written(1), "mg " + a + " v f c t k\r\n");
  shell.answer(1, va(a, "A"));
  EXPECT_EQ(shell.take_output(), value(a, "A") + "END\r\n");
  EXPECT_EQ(shell.counters().requests[0][static_cast<size_t>(Result::kHit)], 1u);
}

TEST(ProxyCore, RepliesOfTwoServers_AnsweredInReverseOrder_ReachTheClientInRequestOrder) {
  CoreShell shell(kTwo, settings());
  std::string a = key_on(shell, 0), b = key_on(shell, 1);
  shell.send("get " + a + "\r\nget " + b + "\r\nget " + a + "\r\n");
  shell.answer(1, va(b, "B"));
  EXPECT_EQ(shell.take_output(), "");  // b waits for a
  shell.answer(0, va(a, "A1"));
  EXPECT_EQ(shell.take_output(), value(a, "A1") + "END\r\n" + value(b, "B") + "END\r\n");
  shell.answer(0, "EN\r\n");
  EXPECT_EQ(shell.take_output(), "END\r\n");
}

TEST(ProxyCore, MultiKeyGet_AcrossServers_MergesHitsInKeyOrder_WithOneEnd) {
  CoreShell shell(kTwo, settings());
  std::string a0 = key_on(shell, 0, 0), a1 = key_on(shell, 0, 1);
  std::string b0 = key_on(shell, 1, 0), b1 = key_on(shell, 1, 1);
  shell.send("get " + a0 + " " + b0 + " " + a1 + " " + b1 + "\r\n");
  EXPECT_EQ(shell.take_written(0), "mg " + a0 + " v f c t k\r\nmg " + a1 + " v f c t k\r\n");
  EXPECT_EQ(shell.take_written(1), "mg " + b0 + " v f c t k\r\nmg " + b1 + " v f c t k\r\n");
  shell.answer(1, va(b0, "B0") + "EN\r\n");
  EXPECT_EQ(shell.take_output(), "");
  shell.answer(0, va(a0, "A0"));
  EXPECT_EQ(shell.take_output(), value(a0, "A0") + value(b0, "B0"));
  shell.answer(0, va(a1, "A1"));
  EXPECT_EQ(shell.take_output(), value(a1, "A1") + "END\r\n");  // b1 missed
}

TEST(ProxyCore, MultiKeyGet_WithOneServerDown_AnswersTheOthers_ASingleKeyGetSaysItIsDown) {
  CoreShell shell(kTwo, settings());
  shell.mark_down(1);
  std::string a = key_on(shell, 0), b = key_on(shell, 1);
  shell.send("get " + b + " " + a + "\r\n");
  EXPECT_EQ(shell.take_written(1), "");
  shell.answer(0, va(a, "A"));
  EXPECT_EQ(shell.take_output(), value(a, "A") + "END\r\n");
  shell.send("get " + b + "\r\n");
  EXPECT_EQ(shell.take_output(), "SERVER_ERROR backend 127.0.0.1:11212 is down\r\n");
  EXPECT_EQ(shell.counters().requests[0][static_cast<size_t>(Result::kBackendDown)], 2u);
}

TEST(ProxyCore, TwoClientsPipeliningOnOneChannel_EachGetTheirOwnRepliesInOrder) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings(), {}, 2);
  shell.send("get x\r\n", 0);
  shell.send("set y 0 0 1\r\nY\r\n", 1);
  shell.send("delete z\r\n", 0);
  shell.send("incr n 5\r\n", 1);
  // incr waits behind its presence probe (held_commands_test.cpp).
  EXPECT_EQ(shell.take_written(0),
            "mg x v f c t k\r\nset y 0 0 1\r\nY\r\nmg z s c t k\r\nmd z I T5\r\nmg n s c t k\r\n");
  shell.answer(0, va("x", "X") + "STORED\r\nHD s1 c3 t-1 kz\r\nHD\r\nHD s1 c4 t-1 kn\r\n");
  EXPECT_EQ(shell.take_written(0), "incr n 5\r\n");
  shell.answer(0, "6\r\n");
  EXPECT_EQ(shell.take_output(0), value("x", "X") + "END\r\nDELETED\r\n");
  EXPECT_EQ(shell.take_output(1), "STORED\r\n6\r\n");
}

TEST(ProxyCore, ServerFailingMidPipeline_FailsWhatWaits_InOrder_AndTheOtherServerStillAnswers) {
  CoreShell shell(kTwo, settings(), {}, 2);
  std::string a1 = key_on(shell, 0, 0), a2 = key_on(shell, 0, 1), a3 = key_on(shell, 0, 2);
  std::string b = key_on(shell, 1);
  shell.send("get " + a1 + "\r\nget " + a2 + "\r\nget " + b + "\r\nget " + a3 + "\r\n", 0);
  shell.send("get " + a1 + " " + b + "\r\nset " + a2 + " 0 0 1 noreply\r\nv\r\n", 1);
  shell.answer(0, va(a1, "A1"));
  EXPECT_EQ(shell.take_output(0), value(a1, "A1") + "END\r\n");
  const std::string error = "SERVER_ERROR backend 127.0.0.1:11211 connection closed\r\n";
  shell.fail(0, "backend 127.0.0.1:11211 connection closed");
  EXPECT_EQ(shell.take_output(0), error);  // a2; b (server 1) is still out, a3 waits for it
  EXPECT_EQ(shell.channel_of(0).outstanding(), 0u);
  shell.answer(1, va(b, "B") + va(b, "B"));
  EXPECT_EQ(shell.take_output(0), value(b, "B") + "END\r\n" + error);
  // Client 1: its multi-key get leaves the failed key out; its noreply set stays silent.
  EXPECT_EQ(shell.take_output(1), value(b, "B") + "END\r\n");
  EXPECT_EQ(shell.session(0).backend_requests(), 0u);
  EXPECT_EQ(shell.session(1).backend_requests(), 0u);
}

TEST(ProxyCore, AfterAReconnect_TheEpochProbeGoesFirst_AndRequestsWork) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings());
  shell.send("get a\r\n");
  shell.connect(0);
  EXPECT_EQ(shell.take_written(0), "stats\r\nmg a v f c t k\r\n");
  shell.answer(0, "STAT pid 7\r\nSTAT uptime 3\r\nSTAT time 1700000000\r\nEND\r\n" + va("a", "v"));
  EXPECT_EQ(shell.take_output(), value("a", "v") + "END\r\n");
  EXPECT_EQ(shell.channel_of(0).epoch(),
            lease::BackendEpoch::of("127.0.0.1:11211", {7, 1700000000 - 3}));
}

TEST(ProxyCore, LeaseGet_QueuedBehindTheProbe_GetsATokenOfThatEpoch) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings());
  shell.connect(0);
  shell.send("lease-get k\r\n");
  EXPECT_EQ(shell.take_written(0), "stats\r\nmg k v f c t N10 k\r\n");
  shell.answer(0, "STAT pid 7\r\nSTAT uptime 3\r\nSTAT time 1700000000\r\nEND\r\n");
  shell.answer(0, "VA 0 f0 c9 t-1 kk W\r\n\r\n");
  auto epoch = lease::BackendEpoch::of("127.0.0.1:11211", {7, 1700000000 - 3});
  EXPECT_EQ(shell.take_output(), "LVALUE k " +
                                     std::to_string(lease::LeaseToken::issue(epoch, 9)->wire()) +
                                     " 0 0\r\n\r\nEND\r\n");
}

TEST(ProxyCore, LeaseSet_WithoutAKnownEpoch_IsRefusedWithoutATrip) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings());
  shell.send("lease-set k 123 0 0 1\r\nv\r\n");
  EXPECT_EQ(shell.take_written(0), "");
  EXPECT_EQ(shell.take_output(),
            "SERVER_ERROR backend 127.0.0.1:11211 lease epoch not known yet; retry\r\n");
}

TEST(ProxyCore, NoreplyAndQuiet_AreTheProxys_EveryBackendRequestAnswers) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings());
  shell.send("set k 0 0 1 noreply\r\nv\r\nmg k v q\r\nmg j v q\r\nmd k q\r\n");
  EXPECT_EQ(shell.take_written(0), "set k 0 0 1\r\nv\r\nmg k v\r\nmg j v\r\nmd k\r\n");
  EXPECT_EQ(shell.channel_of(0).outstanding(), 4u);
  shell.answer(0, "STORED\r\nEN\r\nVA 1\r\nx\r\nHD\r\n");
  // noreply: nothing; q: a miss (mg) or a success (md) says nothing, a hit does.
  EXPECT_EQ(shell.take_output(), "VA 1\r\nx\r\n");
  EXPECT_EQ(shell.channel_of(0).outstanding(), 0u);
}

TEST(ProxyCore, AReplyNobodyAskedFor_IsReportedForTheShellToReset) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings());
  EXPECT_EQ(shell.answer(0, "HD\r\n"), 1u);
  shell.send("get a\r\n");
  EXPECT_EQ(shell.answer(0, "EN\r\nEN\r\n"), 1u);
  EXPECT_EQ(shell.take_output(), "END\r\n");
}

TEST(ProxyCore, KeysOfADownServer_GoToTheGutter_WithTheirExpiryCapped) {
  CoreShell shell(kTwo, settings(), kGutter);
  std::string a = key_on(shell, 0);
  shell.mark_down(0);
  shell.send("set " + a + " 3 0 1\r\nv\r\ndelete " + a + "\r\ngat 3600 " + a + "\r\n");
  EXPECT_EQ(shell.take_written(0), "");
  EXPECT_EQ(shell.take_written(0, true), "set " + a + " 3 10 1\r\nv\r\nmg " + a +
                                             " s c t k\r\nmd " + a + " I T5\r\nmg " + a +
                                             " v f c t T10 k\r\n");
  shell.answer(0, "STORED\r\nEN\r\nNF\r\nEN\r\n", true);
  EXPECT_EQ(shell.take_output(), "STORED\r\nNOT_FOUND\r\nEND\r\n");
}

// A noreply delete still sends its probe and md, and both answers are read and dropped.
TEST(ProxyCore, NoreplyDelete_ReadsProbeAndMd_AndSaysNothing) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings());
  shell.send("delete k noreply\r\ndelete k\r\n");
  EXPECT_EQ(shell.take_written(0), "mg k s c t k\r\nmd k I T5\r\nmg k s c t k\r\nmd k I T5\r\n");
  EXPECT_EQ(shell.channel_of(0).outstanding(), 2u);
  shell.answer(0, "HD s1 c3 t-1 kk\r\nHD\r\nHD s1 c4 t5 kk X W\r\nHD\r\n");
  EXPECT_EQ(shell.take_output(), "NOT_FOUND\r\n");
  EXPECT_EQ(shell.channel_of(0).outstanding(), 0u);
}

TEST(ProxyCore, ClosedClient_StillGivesBackTheWinItsGetTook) {
  CoreShell shell({{"127.0.0.1", 11211}}, settings());
  shell.send("get k\r\n");
  shell.take_written(0);
  shell.close_client();
  shell.answer(0, "VA 3 f0 c5 t4 kk X W\r\nold\r\n");
  EXPECT_EQ(shell.take_written(0), "md k I T4 C5\r\n");
  EXPECT_EQ(shell.take_output(), "");
  shell.answer(0, "HD\r\n");  // the give-back's own reply is read and dropped
  EXPECT_EQ(shell.channel_of(0).outstanding(), 0u);
  EXPECT_EQ(shell.counters().give_backs, 1u);
}

TEST(ProxyCore, FlushAll_ReachesEveryServerAndTheGutter_AnsweredOnceWithTheErrorsFirst) {
  Settings s = settings();
  s.admin_commands = true;
  CoreShell shell(kTwo, s, kGutter);
  shell.send("flush_all\r\n");
  for (auto [server, gutter] : {std::pair{0, false}, {1, false}, {0, true}})
    EXPECT_EQ(shell.take_written(server, gutter), "flush_all\r\n");
  shell.answer(0, "OK\r\n", true);
  shell.answer(1, "SERVER_ERROR busy\r\n");
  shell.answer(0, "OK\r\n");
  EXPECT_EQ(shell.take_output(), "SERVER_ERROR busy\r\nOK\r\n");
  shell.settings().admin_commands = false;
  shell.send("flush_all\r\n");
  EXPECT_EQ(shell.take_output(), "CLIENT_ERROR admin commands are disabled\r\n");
}

}  // namespace
}  // namespace mccache::core
