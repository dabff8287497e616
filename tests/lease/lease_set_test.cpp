// plan_lease_set / classify_lease_set: local refusals and the meta reply mapping.
#include "lease/lease_set.h"

#include <gtest/gtest.h>

#include "captured_replies.h"
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
  EXPECT_EQ(classify_lease_set(parse_full_reply(captured::kStored)), LeaseSetResult::Stored);
}

TEST(LeaseSet, IsNotStored_WhenTheLeaseWasVoidedOrExpired) {
  EXPECT_EQ(classify_lease_set(parse_full_reply(captured::kCasMismatch)),
            LeaseSetResult::NotStored);
  EXPECT_EQ(classify_lease_set(parse_full_reply(captured::kNotFound)), LeaseSetResult::NotStored);
  EXPECT_EQ(classify_lease_set(parse_full_reply("NS\r\n")), LeaseSetResult::NotStored);
}

TEST(LeaseSet, BackendError_IsServerError) {
  EXPECT_EQ(classify_lease_set(parse_full_reply("SERVER_ERROR out of memory\r\n")),
            LeaseSetResult::BackendError);
  EXPECT_EQ(classify_lease_set(parse_full_reply("ERROR\r\n")), LeaseSetResult::BackendError);
}

}  // namespace
}  // namespace mccache::lease
