// Passwords never reach a log line: key/value DSNs (quoted or not) and URIs.
#include "config/dsn.h"

#include <gtest/gtest.h>

namespace mccache::config {
namespace {

TEST(RedactDsns, KeyValuePassword_IsMasked_OtherFieldsKept) {
  EXPECT_EQ(redact_dsns("host=db port=5432 user=app password=s3cret dbname=app"),
            "host=db port=5432 user=app password=*** dbname=app");
  EXPECT_EQ(redact_dsns("password = s3cret host=db"), "password = *** host=db");
}

TEST(RedactDsns, QuotedPasswordWithSpacesAndEscapes_IsMaskedWhole) {
  EXPECT_EQ(redact_dsns(R"(host=db password='a b\'c' user=x)"), "host=db password=*** user=x");
}

TEST(RedactDsns, UriPassword_IsMasked_UserAndHostKept) {
  EXPECT_EQ(redact_dsns("connect to postgresql://app:p%40ss@db:5432/app?sslmode=require failed"),
            "connect to postgresql://app:***@db:5432/app?sslmode=require failed");
  EXPECT_EQ(redact_dsns("postgres://app@db/app"), "postgres://app@db/app");
}

TEST(RedactDsns, WordsThatOnlyContainPassword_AreLeftAlone) {
  EXPECT_EQ(redact_dsns("passfile=/etc/mcinval/pgpass mypassword=x"),
            "passfile=/etc/mcinval/pgpass mypassword=x");
  EXPECT_EQ(redact_dsns("FATAL:  password authentication failed for user \"app\""),
            "FATAL:  password authentication failed for user \"app\"");
}

TEST(RedactDsns, InsideAQuotedJsonString_StopsAtTheQuote) {
  EXPECT_EQ(redact_dsns(R"("dsn": "host=db password=x")"), R"("dsn": "host=db password=***")");
}

TEST(HasInlinePassword, TellsPassfileFromInline) {
  EXPECT_TRUE(has_inline_password("host=db password=x"));
  EXPECT_TRUE(has_inline_password("postgresql://u:x@db/app"));
  EXPECT_FALSE(has_inline_password("host=db passfile=/run/secrets/pgpass"));
  EXPECT_FALSE(has_inline_password("postgresql://u@db/app"));
}

}  // namespace
}  // namespace mccache::config
