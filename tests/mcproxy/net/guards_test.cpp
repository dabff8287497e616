// The rules that keep one client or backend from hurting the others (mcproxy/net/guards.h):
// back-pressure and cut-off, idleness, backend stalls and throttled logging.
#include "mcproxy/net/guards.h"

#include <gtest/gtest.h>

namespace mccache::net {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr size_t MiB = 1 << 20;

ClientFlowLimits defaults() {
  config::LimitsConfig limits;  // max_pipeline_bytes 4 MiB
  return ClientFlowLimits::from(limits);
}

TEST(ClientFlowLimits, DerivedFromMaxPipelineBytes) {
  config::LimitsConfig limits;
  limits.max_pipeline_bytes = 32 * MiB;
  auto l = ClientFlowLimits::from(limits);
  EXPECT_EQ(l.max_unanswered_bytes, 32 * MiB);
  EXPECT_EQ(l.max_unsent_reply_bytes, 32 * MiB);
  EXPECT_EQ(l.hard_unsent_reply_bytes, 128 * MiB);
  limits.max_pipeline_bytes = 1 * MiB;
  EXPECT_EQ(ClientFlowLimits::from(limits).hard_unsent_reply_bytes, 64 * MiB);
}

TEST(ClientFlow, ReadsAndParses_WhileEverythingIsUnderItsBound) {
  auto l = defaults();
  ClientFlow f{1000, 1000, 10};
  EXPECT_TRUE(may_parse(l, f));
  EXPECT_TRUE(may_read(l, f));
}

TEST(ClientFlow, StopsReading_AtMaxPipelineBytesOfUnansweredRequests) {
  auto l = defaults();
  ClientFlow f{4 * MiB, 0, 0};
  EXPECT_FALSE(may_read(l, f));
  // What was already read may still be parsed: the replies are what bound memory.
  EXPECT_TRUE(may_parse(l, f));
}

TEST(ClientFlow, StopsReadingAndParsing_WhileUnsentRepliesAreOverTheBound) {
  auto l = defaults();
  ClientFlow f{0, 4 * MiB, 0};
  EXPECT_FALSE(may_parse(l, f));
  EXPECT_FALSE(may_read(l, f));
  f.unsent_reply_bytes = 4 * MiB - 1;
  EXPECT_TRUE(may_read(l, f));
}

TEST(ClientFlow, StopsReadingAndParsing_AtItsShareOfBackendRequests) {
  auto l = defaults();
  ClientFlow f{0, 0, l.max_backend_requests};
  EXPECT_FALSE(may_parse(l, f));
  EXPECT_FALSE(may_read(l, f));
  f.backend_requests = l.max_backend_requests - 1;
  EXPECT_TRUE(may_parse(l, f));
}

TEST(ClientCutOff, SlowReaderOverTheBound_IsKeptWithinTheGrace) {
  auto l = defaults();
  Clock::time_point t0{};
  EXPECT_FALSE(must_cut_off(l, 5 * MiB, t0, t0 + seconds(1)));
  EXPECT_FALSE(must_cut_off(l, 5 * MiB, t0, t0 + l.write_stall_grace));
}

TEST(ClientCutOff, NonReaderOverTheBound_IsCutOffAfterTheGrace) {
  auto l = defaults();
  Clock::time_point t0{};
  EXPECT_TRUE(must_cut_off(l, 5 * MiB, t0, t0 + l.write_stall_grace + milliseconds(1)));
}

TEST(ClientCutOff, UnderTheBound_NeverCutOffHoweverLongTheStall) {
  auto l = defaults();
  Clock::time_point t0{};
  EXPECT_FALSE(must_cut_off(l, 4 * MiB, t0, t0 + seconds(3600)));
}

TEST(ClientCutOff, OverTheHardCap_IsCutOffAtOnce) {
  auto l = defaults();
  Clock::time_point t0{};
  EXPECT_TRUE(must_cut_off(l, l.hard_unsent_reply_bytes + 1, t0, t0));
  EXPECT_FALSE(must_cut_off(l, l.hard_unsent_reply_bytes, t0, t0));
}

TEST(ActivityClock, BytesWithoutACompleteRequest_DoNotKeepAClientAlive) {
  Clock::time_point t0{};
  ActivityClock clock(t0);
  // A trickling client: bytes arrive every 500 ms, never a whole request; nothing resets it.
  EXPECT_FALSE(clock.idle_expired(t0 + seconds(2), seconds(2), false));
  EXPECT_TRUE(clock.idle_expired(t0 + milliseconds(2001), seconds(2), false));
}

TEST(ActivityClock, CompleteRequestOrWrittenReply_RestartsTheClock) {
  Clock::time_point t0{};
  ActivityClock clock(t0);
  clock.request_parsed(t0 + seconds(1));
  EXPECT_FALSE(clock.idle_expired(t0 + milliseconds(2500), seconds(2), false));
  clock.reply_written(t0 + seconds(3));
  EXPECT_FALSE(clock.idle_expired(t0 + milliseconds(4500), seconds(2), false));
  EXPECT_TRUE(clock.idle_expired(t0 + milliseconds(5001), seconds(2), false));
}

TEST(ActivityClock, ClientWaitingForReplies_IsNotIdle) {
  Clock::time_point t0{};
  ActivityClock clock(t0);
  EXPECT_FALSE(clock.idle_expired(t0 + seconds(60), seconds(2), true));
}

TEST(BackendStalled, NothingOutstanding_NeverTimesOut) {
  Clock::time_point t0{};
  EXPECT_FALSE(backend_stalled(t0 + seconds(60), std::nullopt, t0, seconds(1)));
}

TEST(BackendStalled, NoReplyBytesSinceTheRequest_TimesOut) {
  Clock::time_point t0{};
  // Idle connection (last read long ago), one request sent at t0 + 10 s.
  auto sent = t0 + seconds(10);
  EXPECT_FALSE(backend_stalled(sent + milliseconds(1000), sent, t0, seconds(1)));
  EXPECT_TRUE(backend_stalled(sent + milliseconds(1001), sent, t0, seconds(1)));
}

TEST(BackendStalled, DeepQueueThatIsBeingAnswered_DoesNotTimeOut) {
  Clock::time_point t0{};
  // The oldest outstanding request is 5 s old, but reply bytes arrived 100 ms ago.
  EXPECT_FALSE(
      backend_stalled(t0 + seconds(5), t0, t0 + seconds(5) - milliseconds(100), seconds(1)));
}

TEST(BackendStalled, ProgressThatStops_TimesOutOneTimeoutAfterTheLastRead) {
  Clock::time_point t0{};
  auto last_read = t0 + seconds(3);
  EXPECT_FALSE(backend_stalled(last_read + milliseconds(999), t0, last_read, seconds(1)));
  EXPECT_TRUE(backend_stalled(last_read + milliseconds(1001), t0, last_read, seconds(1)));
}

TEST(LogThrottle, OneLinePerInterval_WithTheCountHeldBack) {
  Clock::time_point t0{};
  LogThrottle throttle(seconds(1));
  ASSERT_TRUE(throttle.admit(t0).has_value());
  EXPECT_EQ(*throttle.admit(t0 + seconds(5)), 0u);
  for (int i = 1; i <= 999; ++i) EXPECT_FALSE(throttle.admit(t0 + seconds(5) + milliseconds(i)));
  auto next = throttle.admit(t0 + seconds(6));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, 999u);
}

}  // namespace
}  // namespace mccache::net
