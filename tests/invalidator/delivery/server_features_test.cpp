// What a new connection's probe accepts: NF or HD to `md <key> I T`; CLIENT_ERROR (no invalidate
// flag) or ERROR (no meta protocol) makes the server count as down, with the reason.
#include "invalidator/delivery/server_features.h"

#include <gtest/gtest.h>

namespace mccache::invalidator::delivery {
namespace {

TEST(ServerFeatures, AMemcachedWithTheMetaProtocol_Passes) {
  EXPECT_TRUE(check_features("VERSION 1.6.18", "NF").ok());
  EXPECT_TRUE(check_features("VERSION 1.6.18", "HD").ok()) << "someone cached the probe key";
}

TEST(ServerFeatures, ClientErrorOrError_Fails_NamingTheVersionAndTheFix) {
  auto no_flag = check_features("VERSION 1.6.0", "CLIENT_ERROR invalid flag");
  ASSERT_FALSE(no_flag.ok());
  EXPECT_NE(no_flag.error().message.find("refuses `md <key> I T`"), std::string::npos);
  EXPECT_NE(no_flag.error().message.find("version 1.6.0"), std::string::npos);
  auto no_meta = check_features("VERSION 1.4.25", "ERROR");
  ASSERT_FALSE(no_meta.ok());
  EXPECT_NE(no_meta.error().message.find("meta protocol"), std::string::npos);
}

TEST(ServerFeatures, TheProbeAsksForTwoAnswers_NotAQuietDelete) {
  std::string probe = kFeatureProbe;
  EXPECT_EQ(probe.rfind("version\r\n", 0), 0u);
  EXPECT_NE(probe.find("md mccache:feature_probe I T1\r\n"), std::string::npos);
  EXPECT_EQ(probe.find(" q"), std::string::npos) << "a quiet md says nothing when it succeeds";
  EXPECT_EQ(kFeatureProbeReplies, 2);
}

}  // namespace
}  // namespace mccache::invalidator::delivery
