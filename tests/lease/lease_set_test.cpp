// plan_lease_set / classify_lease_set: local refusals and the meta reply mapping.
#include "lease/lease_set.h"

#include <gtest/gtest.h>

#include "captured_replies.h"
#include "lease/client_reply.h"
#include "meta_reply_parse.h"

namespace mccache::lease {
namespace {

using testing::parse_full_reply;
namespace captured = testing::captured;

const BackendEpoch kEpoch = *BackendEpoch::from_tag(0x1234);
const BackendEpoch kOtherEpoch = *BackendEpoch::from_tag(0x4321);

TEST(LeaseSet, ValidToken_GoesToTheBackendWithItsCas) {
  LeaseSetPlan plan = plan_lease_set(LeaseToken::issue(kEpoch, 77)->wire(), kEpoch);
  EXPECT_TRUE(plan.send_to_backend);
  EXPECT_EQ(plan.cas, 77u);
}

TEST(LeaseSet, IsRefusedLocally_ForSpecialTokens) {
  EXPECT_FALSE(plan_lease_set(0, kEpoch).send_to_backend);
  EXPECT_FALSE(plan_lease_set(1, kEpoch).send_to_backend);
  EXPECT_FALSE(plan_lease_set(kMcrouterMagic | 3, kEpoch).send_to_backend);
}

TEST(LeaseSet, IsRefusedLocally_ForATokenFromBeforeARestart) {
  LeaseSetPlan plan = plan_lease_set(LeaseToken::issue(kOtherEpoch, 1)->wire(), kEpoch);
  EXPECT_FALSE(plan.send_to_backend);
  EXPECT_EQ(plan.verdict, TokenVerdict::ForeignEpoch);
}

TEST(LeaseSet, HD_IsStored) {
  LeaseSetResult r = classify_lease_set(parse_full_reply(captured::kStored));
  EXPECT_EQ(r, LeaseSetResult::Stored);
  std::string out;
  append_lease_set_reply(out, r);
  EXPECT_EQ(out, "STORED\r\n");
}

TEST(LeaseSet, IsNotStored_WhenTheLeaseWasVoidedOrExpired) {
  EXPECT_EQ(classify_lease_set(parse_full_reply(captured::kCasMismatch)),
            LeaseSetResult::NotStored);
  EXPECT_EQ(classify_lease_set(parse_full_reply(captured::kNotFound)), LeaseSetResult::NotStored);
  EXPECT_EQ(classify_lease_set(parse_full_reply("NS\r\n")), LeaseSetResult::NotStored);
  std::string out;
  append_lease_set_reply(out, LeaseSetResult::NotStored);
  EXPECT_EQ(out, "NOT_STORED\r\n");
}

TEST(LeaseSet, BackendError_IsServerError) {
  LeaseSetResult r = classify_lease_set(parse_full_reply("SERVER_ERROR out of memory\r\n"));
  EXPECT_EQ(r, LeaseSetResult::BackendError);
  std::string out;
  append_lease_set_reply(out, r, "out of memory");
  EXPECT_EQ(out, "SERVER_ERROR out of memory\r\n");
}

}  // namespace
}  // namespace mccache::lease
