// What the periodic catalog check reports between two states: rows that vanished or appeared
// unstreamed become flush reasons, a table the publication lost is published again.
#include "invalidator/keys/catalog_changes.h"

#include <gtest/gtest.h>

namespace mccache::invalidator::keys {
namespace {

// public.users followed as table OID `oid`, with its leaf relations.
CatalogState users(uint32_t oid, std::map<uint32_t, StorageState> storage, bool covered = true,
                   std::string name = "public.users") {
  CatalogState s;
  s["public.users"].roots[oid] = {std::move(name), covered, std::move(storage)};
  return s;
}
std::map<uint32_t, StorageState> itself(uint32_t oid, std::string name = "public.users") {
  return {{oid, {std::move(name), false}}};
}
const CatalogRules kRules{"mcinval", true, TruncatePolicy::kFlushRegion};

bool has(const CatalogChanges& c, SchemaChange change, bool unfollowed) {
  for (const auto& n : c.notices)
    if (n.change == change && n.unfollowed == unfollowed) return true;
  return false;
}

TEST(CatalogChanges, SameState_OrFirstSight_ReportNothing) {
  auto s = users(10, itself(10));
  auto c = catalog_changes(s, s, kRules);
  EXPECT_TRUE(c.notices.empty());
  EXPECT_TRUE(c.flush_reasons.empty());
  EXPECT_TRUE(catalog_changes({}, s, kRules).notices.empty()) << "the baseline";
}

TEST(CatalogChanges, RenamedTable_IsFollowedQuietly) {
  auto c = catalog_changes(users(10, itself(10)),
                           users(10, itself(10, "public.members"), true, "public.members"), kRules);
  EXPECT_TRUE(c.notices.empty());
  EXPECT_TRUE(c.flush_reasons.empty());
}

TEST(CatalogChanges, DroppedAndRecreated_FlushesAndPublishesTheNewTable) {
  CatalogState after;
  after["public.users"].roots[11] = {"public.users", false, itself(11)};
  auto c = catalog_changes(users(10, itself(10)), after, kRules);
  EXPECT_TRUE(has(c, SchemaChange::kDropped, true));
  EXPECT_TRUE(has(c, SchemaChange::kRecreated, false));
  EXPECT_TRUE(has(c, SchemaChange::kUnpublished, true));
  EXPECT_EQ(c.to_publish, (std::vector<std::string>{"public.users"}));
  ASSERT_EQ(c.flush_reasons.size(), 1u);
  EXPECT_NE(c.flush_reasons[0].find("was dropped"), std::string::npos);

  // The next check finds it published: changes made while it was not were never streamed.
  CatalogState published = after;
  published["public.users"].roots[11].covered = true;
  auto next = catalog_changes(after, published, kRules);
  EXPECT_TRUE(next.published_again);
  ASSERT_EQ(next.flush_reasons.size(), 1u);
  EXPECT_NE(next.flush_reasons[0].find("joined publication mcinval"), std::string::npos);
  EXPECT_TRUE(next.notices.empty());
}

TEST(CatalogChanges, Unpublished_WithoutCreatePublication_SaysTheFix_AndRetriesNothing) {
  CatalogRules rules = kRules;
  rules.create_publication = false;
  auto c = catalog_changes(users(10, itself(10)), users(10, itself(10), false), rules);
  ASSERT_TRUE(has(c, SchemaChange::kUnpublished, true));
  EXPECT_NE(c.notices[0].message.find("ALTER PUBLICATION mcinval ADD TABLE public.users"),
            std::string::npos);
  EXPECT_TRUE(c.to_publish.empty());
  // Still out at the next check: not reported again; with create_publication it is retried.
  auto again = catalog_changes(users(10, itself(10), false), users(10, itself(10), false), rules);
  EXPECT_TRUE(again.notices.empty());
  auto retried =
      catalog_changes(users(10, itself(10), false), users(10, itself(10), false), kRules);
  EXPECT_EQ(retried.to_publish, (std::vector<std::string>{"public.users"}));
}

TEST(CatalogChanges, PartitionLeaving_Flushes_EmptyPartitionJoining_DoesNot) {
  std::map<uint32_t, StorageState> two{{21, {"public.users_a", false}},
                                       {22, {"public.users_b", false}}};
  std::map<uint32_t, StorageState> one{{21, {"public.users_a", false}}};
  auto left = catalog_changes(users(20, two), users(20, one), kRules);
  EXPECT_TRUE(has(left, SchemaChange::kPartitions, true));
  EXPECT_EQ(left.flush_reasons.size(), 1u);

  auto empty_joins = one;
  empty_joins[23] = {"public.users_c", true};
  EXPECT_TRUE(
      catalog_changes(users(20, one), users(20, empty_joins), kRules).flush_reasons.empty());
  auto full_joins = one;
  full_joins[23] = {"public.users_c", false};
  auto joined = catalog_changes(users(20, one), users(20, full_joins), kRules);
  EXPECT_TRUE(has(joined, SchemaChange::kPartitions, true));
  EXPECT_NE(joined.flush_reasons[0].find("holding rows"), std::string::npos);
}

TEST(CatalogChanges, Notices_SayWhatThePolicyDoes) {
  CatalogRules halt = kRules;
  halt.policy = TruncatePolicy::kHalt;
  auto c = catalog_changes(users(10, itself(10)), CatalogState{{"public.users", {}}}, halt);
  ASSERT_TRUE(has(c, SchemaChange::kDropped, true));
  EXPECT_NE(c.notices[0].message.find("stops the invalidator"), std::string::npos)
      << c.notices[0].message;
}

}  // namespace
}  // namespace mccache::invalidator::keys
