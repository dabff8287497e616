// O(1) deduplication of a transaction's keys, checked by counting index probes (no timers).
#include "invalidator/keys/unique_keys.h"

#include <gtest/gtest.h>

#include "invalidator/keys/transaction_keys.h"

namespace mccache::invalidator::keys {
namespace {

TEST(UniqueKeys, KeepsTheFirstOfEachKey_InOrder) {
  UniqueKeys keys;
  EXPECT_TRUE(keys.add("a"));
  EXPECT_TRUE(keys.add("b"));
  EXPECT_FALSE(keys.add("a"));
  EXPECT_TRUE(keys.add(std::string(300, 'x')));
  EXPECT_FALSE(keys.add(std::string(300, 'x')));
  EXPECT_EQ(keys.keys(), (std::vector<std::string>{"a", "b", std::string(300, 'x')}));
  auto taken = keys.take();
  EXPECT_EQ(taken.size(), 3u);
  EXPECT_TRUE(keys.empty());
  EXPECT_TRUE(keys.add("a")) << "take() starts empty";
}

TEST(UniqueKeys, AMillionAddsWithRepeats_CostAConstantNumberOfProbesEach) {
  UniqueKeys keys;
  uint64_t adds = 0;
  for (int i = 0; i < 500000; ++i) {
    auto k = "user:" + std::to_string(i);
    keys.add(k);
    keys.add(k);  // the old image names it again
    adds += 2;
  }
  EXPECT_EQ(keys.size(), 500000u);
  // Linear probing at load <= 1/2 plus re-placing on each doubling: a few probes per add. A
  // linear search would be ~250K comparisons per add here.
  EXPECT_LT(keys.probes(), 6 * adds) << keys.probes() << " probes for " << adds << " adds";
}

pgoutput::Relation users() {
  pgoutput::Relation r;
  r.id = 1;
  r.schema = "public";
  r.name = "users";
  r.replica_identity = 'f';
  r.columns = {{"id", 20, true}};
  return r;
}

// One UPDATE of `rows` rows under REPLICA IDENTITY FULL (old and new image each name user:<id>):
// the probes the transaction's deduplication costs per row.
double probes_per_row_for_update_of(int rows) {
  TransactionKeysOptions opt;
  std::string error;
  opt.tables["public.users"] = {*KeyTemplate::compile("user:{id}", error)};
  TransactionKeys tk(std::move(opt));
  tk.on_message(pgoutput::Begin{1, 1, 7});
  tk.on_message(users());
  std::vector<std::string> ids(static_cast<size_t>(rows));
  for (int i = 0; i < rows; ++i) ids[static_cast<size_t>(i)] = std::to_string(i);
  for (int i = 0; i < rows; ++i) {
    pgoutput::Update u;
    u.relation_id = 1;
    u.old_kind = 'O';
    const std::string& id = ids[static_cast<size_t>(i)];
    u.old_tuple = {{pgoutput::ValueKind::kText, id}};
    u.new_tuple = {{pgoutput::ValueKind::kText, id}};
    tk.on_message(std::move(u));
  }
  auto ev = tk.on_message(pgoutput::Commit{0, 2, 3, 4});
  EXPECT_EQ(ev.txn.keys.size(), static_cast<size_t>(rows));
  return static_cast<double>(tk.dedupe_probes()) / rows;
}

TEST(TransactionKeys, AMillionRowTransaction_DecodesInTimeLinearInItsRows) {
  double small = probes_per_row_for_update_of(50000);
  double big = probes_per_row_for_update_of(1000000);
  // Twenty times the rows, the same work per row (a linear search: twenty times more per row).
  EXPECT_LT(big, 12.0);
  EXPECT_LT(big / small, 1.3) << small << " then " << big << " probes per row";
}

}  // namespace
}  // namespace mccache::invalidator::keys
