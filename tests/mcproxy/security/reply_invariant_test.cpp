// Two clients sharing one backend connection, in the real core without sockets: what each
// attack makes mcproxy send, and that a reply is never given to a request it is not for
// (backend_channel.h "The invariant").
#include <gtest/gtest.h>

#include <string>

#include "../core/core_shell.h"

namespace mccache::core {
namespace {

using testing::CoreShell;
using namespace std::string_literals;

constexpr size_t kA = 0, kB = 1;  // the attacker and the bystander

Settings settings(bool admin = false) {
  Settings s;
  s.leases = lease::LeaseSettings{.lease_ttl_s = 10, .stale_ttl_s = 5};
  s.gutter_leases = s.leases;
  s.gutter_ttl_s = 10;
  s.admin_commands = admin;
  return s;
}

CoreShell one_server(bool admin = false) {
  return CoreShell({{"127.0.0.1", 11211}}, settings(admin), {}, 2);
}

TEST(SharedConnection, NulSmuggling_SendsNothing_TheBystanderIsServed) {
  CoreShell shell = one_server();
  shell.send("set a\0 0 0 11\r\nflush_all\r\n\r\n"s, kA);
  shell.send("get b\r\n", kB);
  EXPECT_EQ(shell.take_written(0), "mg b v f c t k\r\n");
  EXPECT_EQ(shell.take_output(kA), "CLIENT_ERROR key has a control character\r\n");
  shell.answer(0, "VA 1 f0 c1 t-1 kb\r\nB\r\n");
  EXPECT_EQ(shell.take_output(kB), "VALUE b 0 1\r\nB\r\nEND\r\n");
}

TEST(SharedConnection, QuietFlagVariants_AreStripped_SoEveryRequestAnswers) {
  CoreShell shell = one_server();
  shell.send("mg nokey q1 v\r\nmg nokey qq v\r\n", kA);
  shell.send("get b\r\n", kB);
  EXPECT_EQ(shell.take_written(0), "mg nokey v\r\nmg nokey v\r\nmg b v f c t k\r\n");
  EXPECT_EQ(shell.channel_of(0).outstanding(), 3u);
  shell.answer(0, "EN\r\nEN\r\nVA 1 f0 c1 t-1 kb\r\nB\r\n");
  EXPECT_EQ(shell.take_output(kA), "");  // quiet: the misses say nothing
  EXPECT_EQ(shell.take_output(kB), "VALUE b 0 1\r\nB\r\nEND\r\n");
  EXPECT_EQ(shell.channel_of(0).outstanding(), 0u);
}

TEST(SharedConnection, UnknownOrDuplicateMetaFlags_AreRefusedWithoutATrip) {
  CoreShell shell = one_server();
  shell.send("mg k P\r\nmg k q qq\r\nms k 1 S1\r\nx\r\nmd k x\r\n", kA);
  EXPECT_EQ(shell.take_written(0), "");
  EXPECT_EQ(shell.take_output(kA),
            "CLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\n"
            "CLIENT_ERROR invalid flag\r\nCLIENT_ERROR invalid or duplicate flag\r\n");
}

TEST(SharedConnection, FlushAllNoreply_SendsTheAnsweringForm_AndTheClientHearsNothing) {
  CoreShell shell = one_server(true);
  shell.send("flush_all noreply\r\nverbosity 1 noreply\r\n", kA);
  shell.send("get b\r\n", kB);
  EXPECT_EQ(shell.take_written(0), "flush_all\r\nverbosity 1\r\nmg b v f c t k\r\n");
  shell.answer(0, "OK\r\nOK\r\nEN\r\n");
  EXPECT_EQ(shell.take_output(kA), "");
  EXPECT_EQ(shell.take_output(kB), "END\r\n");
  EXPECT_EQ(shell.channel_of(0).outstanding(), 0u);
}

// Had memcached read one request as two (the NUL case before the parser refused it), its extra
// reply would land on the bystander's request: it is of the wrong kind, so the connection is
// closed and the bystander gets SERVER_ERROR, never the attacker's OK.
TEST(SharedConnection, AnExtraReply_OfAnotherKind_FailsTheConnection_NotTheBystander) {
  CoreShell shell = one_server();
  shell.send("set a 0 0 1\r\nx\r\n", kA);
  shell.send("get b\r\n", kB);
  shell.take_written(0);
  EXPECT_EQ(shell.answer(0, "ERROR\r\nOK\r\nEN\r\n"), 1u);
  EXPECT_EQ(shell.take_output(kA), "ERROR\r\n");
  EXPECT_EQ(shell.take_output(kB), "SERVER_ERROR backend out of step\r\n");
  EXPECT_EQ(shell.channel_of(0).outstanding(), 0u);
}

// Had memcached stayed silent for one request (a quiet flag it read and mcproxy did not), the
// next reply would be taken for it: a text reply for an mg is out of step too.
TEST(SharedConnection, AMissingReply_ShowsAsAReplyOfAnotherKind_AndFailsEveryWaitingRequest) {
  CoreShell shell = one_server();
  shell.send("mg x v\r\n", kA);
  shell.send("set b 0 0 1\r\nB\r\nget c\r\n", kB);
  shell.take_written(0);
  EXPECT_EQ(shell.answer(0, "STORED\r\nEN\r\n"), 1u);
  EXPECT_EQ(shell.take_output(kA), "SERVER_ERROR backend out of step\r\n");
  EXPECT_EQ(shell.take_output(kB),
            "SERVER_ERROR backend out of step\r\nSERVER_ERROR backend out of step\r\n");
}

TEST(SharedConnection, AReplyWithNothingWaiting_FailsTheConnection) {
  CoreShell shell = one_server();
  EXPECT_EQ(shell.answer(0, "OK\r\n"), 1u);
  shell.send("get b\r\n", kB);
  EXPECT_EQ(shell.take_written(0), "mg b v f c t k\r\n");
  EXPECT_EQ(shell.answer(0, "EN\r\nHD\r\n"), 1u);  // the HD is nobody's
  EXPECT_EQ(shell.take_output(kB), "END\r\n");
}

TEST(SharedConnection, ConnectionClosedWithRequestsWaiting_FailsEachOfThem) {
  CoreShell shell = one_server();
  shell.send("get a\r\nmg a v\r\n", kA);
  shell.send("set b 0 0 1\r\nB\r\n", kB);
  shell.take_written(0);
  shell.answer(0, "EN\r\n");
  shell.fail(0, "backend 127.0.0.1:11211 connection closed by server");
  EXPECT_EQ(shell.take_output(kA),
            "END\r\nSERVER_ERROR backend 127.0.0.1:11211 connection closed by server\r\n");
  EXPECT_EQ(shell.take_output(kB),
            "SERVER_ERROR backend 127.0.0.1:11211 connection closed by server\r\n");
  EXPECT_EQ(shell.channel_of(0).outstanding(), 0u);
}

// Every kind of reply mcproxy can wait for takes errors, and only its own family otherwise.
TEST(ReplyInvariant, ErrorsFitEveryRequest_OtherRepliesOnlyTheirOwnFamily) {
  CoreShell shell = one_server();
  for (std::string wrong :
       {"STORED\r\n", "OK\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n", "MN\r\n", "STAT pid 1\r\nEND\r\n"}) {
    shell.send("get a\r\n", kA);
    EXPECT_EQ(shell.answer(0, wrong), 1u) << wrong;
    EXPECT_EQ(shell.take_output(kA), "SERVER_ERROR backend out of step\r\n") << wrong;
  }
  for (std::string error : {"ERROR\r\n", "CLIENT_ERROR x\r\n", "SERVER_ERROR y\r\n"}) {
    shell.send("set a 0 0 1\r\nx\r\n", kA);
    EXPECT_EQ(shell.answer(0, error), 0u) << error;
    EXPECT_EQ(shell.take_output(kA), error);
  }
}

// Each request is read in the family of what mcproxy sent for it: a noreply delete travels as a
// presence probe (mg) and an md.
TEST(ReplyInvariant, NoreplyDeleteAndNoreplySet_TakeTheirOwnFamilies) {
  CoreShell shell = one_server();
  shell.send("set k 0 0 1 noreply\r\nx\r\ndelete k noreply\r\ndelete j\r\n", kA);
  EXPECT_EQ(shell.answer(0, "STORED\r\nEN\r\nHD\r\nEN\r\nNF\r\n"), 0u);
  EXPECT_EQ(shell.take_output(kA), "NOT_FOUND\r\n");
  EXPECT_EQ(shell.channel_of(0).outstanding(), 0u);
}

// The legitimate replies of every text and meta command mcproxy forwards are in their family.
TEST(ReplyInvariant, EveryForwardedCommandsOwnReplies_AreDelivered) {
  CoreShell shell = one_server(true);
  const std::pair<std::string, std::string> kCases[] = {
      {"me k\r\n", "ME k exp=-1 la=3 cas=2 fetch=no cls=1 size=63\r\n"},
      {"me k\r\n", "EN\r\n"},
      {"incr k 1\r\n", "5\r\n"},
      {"decr k 1\r\n", "NOT_FOUND\r\n"},
      {"touch k 1\r\n", "TOUCHED\r\n"},
      {"cas k 0 0 1 5\r\nx\r\n", "EXISTS\r\n"},
      {"append k 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
      {"mg k v\r\n", "VA 1\r\nx\r\n"},
      {"ms k 1\r\nx\r\n", "NS\r\n"},
      {"md k C5\r\n", "EX\r\n"},
      {"ma k\r\n", "NF\r\n"},
      {"verbosity 1\r\n", "OK\r\n"},
  };
  // touch and cas go right behind lease/'s presence probe; incr, decr and append wait for its
  // answer. A live item answers it.
  const std::string kLiveProbe = "HD s1 c2 t-1 kk\r\n";
  for (const auto& [request, reply] : kCases) {
    bool probed = request.starts_with("touch") || request.starts_with("cas");
    bool held = request.starts_with("incr") || request.starts_with("decr") ||
                request.starts_with("append");
    shell.send(request, kA);
    if (held) {
      EXPECT_EQ(shell.answer(0, kLiveProbe), 0u) << request;
    }
    EXPECT_EQ(shell.answer(0, (probed ? kLiveProbe : "") + reply), 0u) << request;
    std::string out = shell.take_output(kA);
    EXPECT_EQ(out, request.starts_with("verbosity") ? "OK\r\n" : reply) << request;
  }
}

}  // namespace
}  // namespace mccache::core
