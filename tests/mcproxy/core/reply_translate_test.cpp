// The client's bytes for each kind of backend reply, through the real core: lease-get, lease-set,
// get and delete answered with replies captured from memcached 1.6.18 (tests/lease/
// captured_replies.h; the proxy's `k` flag added, as memcached echoes it).
#include <gtest/gtest.h>

#include <string>

#include "core_shell.h"
#include "lease/lease_token.h"
#include "tests/lease/captured_replies.h"

namespace mccache::core {
namespace {

using testing::CoreShell;
namespace captured = lease::testing::captured;

constexpr std::string_view kStats =
    "STAT pid 7\r\nSTAT uptime 3\r\nSTAT time 1700000000\r\nEND\r\n";

// `reply` as memcached sends it when the request carried `k`: the key among the flags.
std::string with_key(std::string_view reply, std::string_view key) {
  std::string r(reply);
  r.insert(r.find("\r\n"), " k" + std::string(key));
  return r;
}

class Translation : public ::testing::Test {
 protected:
  Translation() : shell_({{"127.0.0.1", 11211}}, settings()) {
    shell_.connect(0);
    shell_.take_written(0);
    shell_.answer(0, kStats);
  }
  static Settings settings() {
    Settings s;
    s.leases = lease::LeaseSettings{.lease_ttl_s = 10, .stale_ttl_s = 5};
    return s;
  }
  // The client's bytes for `request` when its one backend request is answered `reply`.
  std::string exchange(std::string_view request, std::string_view reply) {
    shell_.send(request);
    shell_.take_written(0);
    shell_.answer(0, reply);
    return shell_.take_output();
  }
  uint64_t token(uint64_t cas) {
    return lease::LeaseToken::issue(*shell_.channel_of(0).epoch(), cas)->wire();
  }

  CoreShell shell_;
};

TEST_F(Translation, LeaseGetHit_IsAPlainValueReply) {
  EXPECT_EQ(exchange("lease-get k1\r\n", with_key(captured::kHit, "k1")),
            "VALUE k1 7 5\r\nhello\r\nEND\r\n");
}

TEST_F(Translation, LeaseGetWin_IsAnLvalueWithTheToken_TokenBeforeFlags) {
  EXPECT_EQ(exchange("lease-get k1\r\n", with_key(captured::kVivifiedWin, "k1")),
            "LVALUE k1 " + std::to_string(token(1)) + " 0 0\r\n\r\nEND\r\n");
  EXPECT_EQ(exchange("lease-get k1\r\n", with_key(captured::kStaleWin, "k1")),
            "LVALUE k1 " + std::to_string(token(3)) + " 7 5\r\nhello\r\nEND\r\n");
}

TEST_F(Translation, LeaseGetHotMiss_IsToken1_WithTheStaleValueIfAny) {
  EXPECT_EQ(exchange("lease-get k1\r\n", with_key(captured::kPlaceholderHeld, "k1")),
            "LVALUE k1 1 0 0\r\n\r\nEND\r\n");
  EXPECT_EQ(exchange("lease-get k1\r\n", with_key(captured::kStaleHeld, "k1")),
            "LVALUE k1 1 7 5\r\nhello\r\nEND\r\n");
  EXPECT_EQ(shell_.counters().lease_stale_served, 1u);
}

TEST_F(Translation, LeaseGetBackendErrors_AreServerErrorWithoutEnd) {
  EXPECT_EQ(exchange("lease-get k1\r\n", "SERVER_ERROR out of memory\r\n"),
            "SERVER_ERROR out of memory\r\n");
  EXPECT_EQ(exchange("lease-get k1\r\n", "NF\r\n"),
            "SERVER_ERROR unexpected backend reply to lease-get\r\n");
}

TEST_F(Translation, MultiKeyLeaseGet_IsBlocksThenOneEnd_AFailedKeyLeftOut) {
  shell_.send("lease-get a b c\r\n");
  shell_.answer(0, with_key(captured::kHit, "a") + with_key(captured::kPlaceholderHeld, "b") +
                       "SERVER_ERROR busy\r\n");
  EXPECT_EQ(shell_.take_output(), "VALUE a 7 5\r\nhello\r\nLVALUE b 1 0 0\r\n\r\nEND\r\n");
}

TEST_F(Translation, LeaseSet_StoredNotStoredOrServerError) {
  std::string set = "lease-set k " + std::to_string(token(4)) + " 0 0 1\r\nv\r\n";
  EXPECT_EQ(exchange(set, captured::kStored), "STORED\r\n");
  EXPECT_EQ(exchange(set, captured::kCasMismatch), "NOT_STORED\r\n");
  EXPECT_EQ(exchange(set, captured::kNotFound), "NOT_STORED\r\n");
  EXPECT_EQ(exchange(set, "SERVER_ERROR out of memory\r\n"), "SERVER_ERROR out of memory\r\n");
  using O = LeaseSetOutcome;
  for (auto [o, n] : {std::pair{O::kStored, 1}, {O::kVoided, 1}, {O::kGone, 1}, {O::kError, 1}})
    EXPECT_EQ(shell_.counters().lease_sets[static_cast<size_t>(o)], static_cast<uint64_t>(n));
}

TEST_F(Translation, LeaseSetWithAHotMissToken_IsRefusedHere) {
  shell_.send("lease-set k 1 0 0 1\r\nv\r\n");
  EXPECT_EQ(shell_.take_written(0), "");
  EXPECT_EQ(shell_.take_output(), "NOT_STORED\r\n");
  EXPECT_EQ(shell_.counters().lease_sets[static_cast<size_t>(LeaseSetOutcome::kSpecialToken)], 1u);
}

TEST_F(Translation, PlainGet_OfAStaleCopyOrPlaceholder_IsAMiss_NotTheTextProtocolsHit) {
  EXPECT_EQ(exchange("get k1\r\n", with_key(captured::kHit, "k1")),
            "VALUE k1 7 5\r\nhello\r\nEND\r\n");
  EXPECT_EQ(exchange("gets k1\r\n", with_key(captured::kHit, "k1")),
            "VALUE k1 7 5 2\r\nhello\r\nEND\r\n");
  EXPECT_EQ(exchange("get k1\r\n", with_key(captured::kStaleHeld, "k1")), "END\r\n");
  EXPECT_EQ(exchange("get k1\r\n", with_key(captured::kPlaceholderHeld, "k1")), "END\r\n");
  EXPECT_EQ(exchange("get k1\r\n", "SERVER_ERROR busy\r\n"), "SERVER_ERROR busy\r\n");
}

// delete, touch and cas are a presence probe and the command: two replies.
TEST_F(Translation, Delete_HDIsDeleted_NFIsNotFound_ElseServerError) {
  std::string live(captured::kProbeLive);
  EXPECT_EQ(exchange("delete k4\r\n", live + std::string(captured::kStored)), "DELETED\r\n");
  EXPECT_EQ(exchange("delete k4\r\n", live + std::string(captured::kNotFound)),
            "NOT_FOUND\r\n");
  EXPECT_EQ(exchange("delete k4\r\n", live + "ERROR\r\n"),
            "SERVER_ERROR unexpected reply to md\r\n");
}

// memcached's delete answers DELETED for the stale copy an earlier delete left (md I): through
// the proxy it is no item, as for get, so a second delete answers NOT_FOUND as memcached does.
TEST_F(Translation, Delete_OfAStaleCopyOrPlaceholder_IsNotFound_ThoughTheMdStillVoidsLeases) {
  std::string hd(captured::kStored);
  EXPECT_EQ(exchange("delete k4\r\n", std::string(captured::kProbeStaleWin) + hd),
            "NOT_FOUND\r\n");
  EXPECT_EQ(exchange("delete k4\r\n", std::string(captured::kProbeStaleHeld) + hd),
            "NOT_FOUND\r\n");
  EXPECT_EQ(exchange("delete k6\r\n", std::string(captured::kProbePlaceholder) + hd),
            "NOT_FOUND\r\n");
  EXPECT_EQ(exchange("delete k5\r\n", std::string(captured::kProbeMiss) + "NF\r\n"),
            "NOT_FOUND\r\n");
  EXPECT_EQ(shell_.counters().give_backs, 0u);  // the md I itself frees the win
}

TEST_F(Translation, TouchAndCas_OfAStaleCopy_AreNotFound_AndTheProbesWinGoesBack) {
  EXPECT_EQ(exchange("touch k4 0\r\n", std::string(captured::kProbeLive) + "TOUCHED\r\n"),
            "TOUCHED\r\n");
  shell_.send("touch k4 0\r\n");
  EXPECT_EQ(shell_.take_written(0), "mg k4 s c t k\r\ntouch k4 0\r\n");
  shell_.answer(0, std::string(captured::kProbeStaleWin) + "TOUCHED\r\n");
  EXPECT_EQ(shell_.take_output(), "NOT_FOUND\r\n");
  EXPECT_EQ(shell_.take_written(0), "md k4 I T30 C2\r\n");
  shell_.answer(0, "HD\r\n");
  EXPECT_EQ(shell_.channel_of(0).outstanding(), 0u);
  EXPECT_EQ(exchange("cas k4 0 0 1 2\r\nx\r\n",
                     std::string(captured::kProbeStaleHeld) + "EXISTS\r\n"),
            "NOT_FOUND\r\n");
  EXPECT_EQ(exchange("cas k5 0 0 1 2\r\nx\r\n", std::string(captured::kProbeMiss) +
                                                   "NOT_FOUND\r\n"),
            "NOT_FOUND\r\n");
  EXPECT_EQ(exchange("cas k4 0 0 1 1\r\nx\r\n", std::string(captured::kProbeLive) +
                                                   "STORED\r\n"),
            "STORED\r\n");
}

TEST_F(Translation, PassedThroughReplies_AreCountedByWhatTheySay) {
  exchange("set k 0 0 1\r\nv\r\n", "NOT_STORED\r\n");
  exchange("incr k 1\r\n", captured::kProbeMiss);  // incr waits for its presence probe
  shell_.take_written(0);
  shell_.answer(0, "NOT_FOUND\r\n");
  exchange("mg k v\r\n", "EN\r\n");
  auto count = [&](protocol::Command c, Result r) {
    return shell_.counters().requests[static_cast<size_t>(c)][static_cast<size_t>(r)].load();
  };
  EXPECT_EQ(count(protocol::Command::kSet, Result::kNotStored), 1u);
  EXPECT_EQ(count(protocol::Command::kIncr, Result::kNotFound), 1u);
  EXPECT_EQ(count(protocol::Command::kMetaGet, Result::kMiss), 1u);
}

}  // namespace
}  // namespace mccache::core
