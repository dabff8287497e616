// Batches in flight: a down server's parts wait, batches leave only over a fully acknowledged
// prefix, in order; retries group a server's parts oldest first.
#include "invalidator/delivery/in_flight.h"

#include <gtest/gtest.h>

namespace mccache::invalidator::delivery {
namespace {

// Keys ending in '1' live on server 1, the others on server 0.
std::unique_ptr<Batch> batch(pgoutput::Lsn end_lsn, std::vector<std::string> keys,
                             bool flush_region = false) {
  auto b = std::make_unique<Batch>(
      2, [](std::string_view k) { return k.back() == '1' ? size_t{1} : size_t{0}; });
  CommittedTxn t;
  t.end_lsn = end_lsn;
  t.commit_time = static_cast<pgoutput::PgTimestamp>(end_lsn);
  t.keys = std::move(keys);
  t.flush_region = flush_region;
  b->add(std::move(t));
  return b;
}

// The end LSNs of the batches pop_acked hands over.
std::vector<pgoutput::Lsn> popped(InFlight& f) {
  std::vector<pgoutput::Lsn> out;
  f.pop_acked([&](std::unique_ptr<Batch> x) { out.push_back(x->end_lsn()); });
  return out;
}

TEST(InFlight, DownServer_KeepsEveryBatchFromItsFirstUnackedOne) {
  InFlight f;
  auto* a = batch(100, {"a:0", "a:1"}).release();
  auto* b = batch(200, {"b:0"}).release();
  auto* c = batch(300, {"c:0", "c:1"}).release();
  f.push(std::unique_ptr<Batch>(a));
  f.push(std::unique_ptr<Batch>(b));
  f.push(std::unique_ptr<Batch>(c));
  EXPECT_EQ(f.retained_keys(), 5u);
  // Server 0 answers everything at once; server 1 is down.
  a->ack(0);
  b->ack(0);
  c->ack(0);
  EXPECT_TRUE(popped(f).empty()) << "batch 100 still waits for server 1";
  EXPECT_EQ(f.batches(), 3u);
  EXPECT_EQ(f.oldest_commit_time(), 100);
  // Server 1 comes back and gets its two parts in one exchange.
  auto parts = f.next_for(1, 1000);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], a);
  EXPECT_EQ(parts[1], c);
  a->ack(1);
  EXPECT_EQ(popped(f), (std::vector<pgoutput::Lsn>{100, 200}))
      << "batch 200 had nothing for server 1, so it is done once 100 is";
  EXPECT_EQ(f.retained_keys(), 2u);
  c->ack(1);
  EXPECT_EQ(popped(f), (std::vector<pgoutput::Lsn>{300}));
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(f.retained_keys(), 0u);
  EXPECT_EQ(f.oldest_commit_time(), 0);
}

TEST(InFlight, NextFor_StopsAtTheKeyBound_ButAlwaysTakesOneBatch) {
  InFlight f;
  f.push(batch(100, {"a:1", "b:1", "c:1"}));
  f.push(batch(200, {"d:1"}));
  f.push(batch(300, {"e:1", "f:1"}));
  EXPECT_EQ(f.next_for(1, 2).size(), 1u) << "a batch larger than the bound still goes alone";
  EXPECT_EQ(f.next_for(1, 4).size(), 2u);
  EXPECT_EQ(f.next_for(1, 6).size(), 3u);
  EXPECT_TRUE(f.next_for(0, 100).empty()) << "server 0 has nothing in these batches";
}

TEST(InFlight, NextFor_AFlushingBatchOnlyLeadsAGroup) {
  InFlight f;
  f.push(batch(100, {"a:1"}));
  f.push(batch(200, {}, /*flush_region=*/true));
  f.push(batch(300, {"c:1"}));
  auto first = f.next_for(1, 100);
  ASSERT_EQ(first.size(), 1u) << "keys before the flush must not be sent after its flush_all";
  first[0]->ack(1);
  auto second = f.next_for(1, 100);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_TRUE(second[0]->flush_region());
  EXPECT_EQ(second[1]->end_lsn(), 300u);
}

TEST(InFlight, Clear_ForgetsEveryBatch) {
  InFlight f;
  auto b = batch(100, {"a:0"});
  b->ack(0);
  f.push(std::move(b));
  EXPECT_EQ(popped(f), (std::vector<pgoutput::Lsn>{100}));
  f.push(batch(200, {"b:0"}));
  f.clear();
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(f.retained_keys(), 0u);
  EXPECT_TRUE(popped(f).empty());
}

}  // namespace
}  // namespace mccache::invalidator::delivery
