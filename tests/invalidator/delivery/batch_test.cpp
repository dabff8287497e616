// Batching across transactions, per-server acknowledgement, and the quiet-md reply scanner.
#include "invalidator/delivery/batch.h"

#include <gtest/gtest.h>

#include "invalidator/delivery/meta_reply.h"

namespace mccache::invalidator::delivery {
namespace {

CommittedTxn txn(pgoutput::Lsn end_lsn, pgoutput::PgTimestamp time, std::vector<std::string> keys,
                 bool flush_region, uint32_t xid = 0) {
  CommittedTxn t;
  t.end_lsn = end_lsn;
  t.commit_time = time;
  t.xid = xid;
  t.keys = std::move(keys);
  t.flush_region = flush_region;
  return t;
}

Batch two_servers() {
  return Batch(2, [](std::string_view k) { return k.back() == '1' ? size_t{1} : size_t{0}; });
}

TEST(Batch, KeysOfManyTransactions_AreDedupedAndRoutedPerServer) {
  auto b = two_servers();
  b.add(txn(100, 1, {"a:0", "b:1"}, false));
  b.add(txn(200, 2, {"a:0", "c:0"}, false));
  EXPECT_EQ(b.txn_count(), 2u);
  EXPECT_EQ(b.key_count(), 3u);
  EXPECT_EQ(b.end_lsn(), 200u);
  EXPECT_EQ(b.pipelines()[0].keys, (std::vector<std::string_view>{"a:0", "c:0"}));
  EXPECT_EQ(b.pipelines()[1].keys, (std::vector<std::string_view>{"b:1"}));
}

TEST(Batch, LsnIsConfirmable_OnlyWhenEveryServerWithKeysAcked) {
  auto b = two_servers();
  b.add(txn(100, 1, {"a:0", "b:1"}, false));
  EXPECT_FALSE(b.all_acked());
  b.ack(0);
  EXPECT_FALSE(b.all_acked());
  b.ack(1);
  EXPECT_TRUE(b.all_acked());
}

TEST(Batch, ServerWithoutKeys_DoesNotHoldTheBatch) {
  auto b = two_servers();
  b.add(txn(100, 1, {"a:0"}, false));
  b.ack(0);
  EXPECT_TRUE(b.all_acked());
}

TEST(Batch, FlushRegion_NeedsEveryServer) {
  auto b = two_servers();
  b.add(txn(100, 1, {}, true));
  b.ack(0);
  EXPECT_FALSE(b.all_acked());
  b.ack(1);
  EXPECT_TRUE(b.all_acked());
}

TEST(Batch, Clear_ForgetsKeysAndAcks) {
  auto b = two_servers();
  b.add(txn(100, 1, {"a:0"}, true));
  b.ack(0);
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.end_lsn(), 0u);
  b.add(txn(300, 1, {"a:0"}, false));
  EXPECT_FALSE(b.all_acked());
  EXPECT_EQ(b.key_count(), 1u);
}

TEST(Batch, KeepsTheXidsOfTransactionsWithWork_ForTheReadGate) {
  auto b = two_servers();
  b.add(txn(100, 1, {"a:0"}, false, 7));
  b.add(txn(200, 2, {}, false, 8));  // no keys: nothing to wait for
  b.add(txn(300, 3, {}, true, 9));   // a flush counts
  b.add(txn(400, 4, {"b:1"}, false, 0));
  EXPECT_EQ(b.xids(), (std::vector<uint32_t>{7, 9}));
  b.clear();
  EXPECT_TRUE(b.xids().empty());
}

TEST(Batch, WithAGutter_EveryKeyAlsoGoesToItsGutterServer_AndAFlushReachesThemAll) {
  Batch b(
      2, [](std::string_view k) { return k.back() == '1' ? size_t{1} : size_t{0}; }, 2,
      [](std::string_view k) { return k.front() == 'g' ? size_t{1} : size_t{0}; });
  ASSERT_EQ(b.pipelines().size(), 4u);
  b.add(txn(100, 1, {"a:0", "g:1"}, false));
  EXPECT_EQ(b.key_count(), 2u);
  EXPECT_EQ(b.pipelines()[0].keys, (std::vector<std::string_view>{"a:0"}));
  EXPECT_EQ(b.pipelines()[1].keys, (std::vector<std::string_view>{"g:1"}));
  EXPECT_EQ(b.pipelines()[2].keys, (std::vector<std::string_view>{"a:0"}));
  EXPECT_EQ(b.pipelines()[3].keys, (std::vector<std::string_view>{"g:1"}));
  b.ack(0);
  b.ack(1);
  b.ack(2);
  EXPECT_FALSE(b.all_acked()) << "the gutter's acknowledgement counts too";
  b.ack(3);
  EXPECT_TRUE(b.all_acked());
  b.clear();
  b.add(txn(200, 2, {}, true));
  for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(b.has_work(i)) << i;
}

TEST(Batch, GateLsn_IsTheCommitEnd_OrPastTheCommitStartForAPartReadBeforeIt) {
  auto b = two_servers();
  b.add(txn(100, 1, {"a:0"}, false));
  EXPECT_EQ(b.gate_lsn(), 100u);
  CommittedTxn part;  // keys of a transaction whose COMMIT was not read yet
  part.gate_lsn = 501;
  part.keys = {"p:0"};
  b.add(std::move(part));
  EXPECT_EQ(b.end_lsn(), 100u) << "a part carries no position";
  EXPECT_EQ(b.gate_lsn(), 501u);
}

TEST(Batch, Reroute_PlacesEveryKeyOverTheNewServers_AndForgetsTheAcks) {
  auto b = two_servers();
  b.add(txn(100, 1, {"a:0", "b:1", "c:0"}, false));
  b.ack(0);
  b.ack(1);
  ASSERT_TRUE(b.all_acked());
  // Three servers now; the last letter's server: a→0, b→1, c→2.
  b.reroute(3, [](std::string_view k) { return static_cast<size_t>(k[0] - 'a'); });
  EXPECT_FALSE(b.all_acked()) << "each server must acknowledge its part under the new pool";
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(b.pipelines()[i].keys.size(), 1u) << i;
  EXPECT_EQ(b.pipelines()[2].keys, (std::vector<std::string_view>{"c:0"}));
  EXPECT_EQ(b.key_count(), 3u);
  EXPECT_EQ(b.end_lsn(), 100u);
}

TEST(EncodePipeline, InvalidateMode_SendsQuietStaleDeletesClosedByMn) {
  std::string out;
  encode_pipeline({"a", "b"}, false, DeleteMode::Invalidate, 10, out);
  EXPECT_EQ(out, "md a I T10 q\r\nmd b I T10 q\r\nmn\r\n");
  encode_pipeline({"a"}, true, DeleteMode::Remove, 10, out);
  EXPECT_EQ(out, "flush_all\r\nmd a q\r\nmn\r\n");
  // A stale TTL of 0 is a removal: "md I T0" would make the stale copy immortal.
  encode_pipeline({"a"}, false, DeleteMode::Invalidate, 0, out);
  EXPECT_EQ(out, "md a q\r\nmn\r\n");
}

// Reply bytes as memcached 1.6.18 sent them for: set; md hit q; md miss q; bad key; mn.
const std::string kReplies = "NF\r\nCLIENT_ERROR bad command line format\r\nOK\r\nMN\r\n";

TEST(MetaReplyScanner, CountsResultsUntilMn_AtEverySplit) {
  for (size_t i = 0; i <= kReplies.size(); ++i) {
    for (size_t j = i; j <= kReplies.size(); ++j) {
      MetaReplyScanner s;
      s.feed(std::string_view(kReplies).substr(0, i));
      s.feed(std::string_view(kReplies).substr(i, j - i));
      s.feed(std::string_view(kReplies).substr(j));
      ASSERT_TRUE(s.done()) << i << "," << j;
      EXPECT_EQ(s.not_found(), 1u);
      EXPECT_EQ(s.client_errors(), 1u);
      EXPECT_EQ(s.ok(), 1u);
    }
  }
}

TEST(MetaReplyScanner, EveryTruncatedPrefix_IsNotDone) {
  for (size_t i = 0; i < kReplies.size(); ++i) {
    MetaReplyScanner s;
    EXPECT_FALSE(s.feed(std::string_view(kReplies).substr(0, i)));
  }
}

TEST(MetaReplyScanner, ServerErrorAndGarbage_AreCounted) {
  MetaReplyScanner s;
  EXPECT_TRUE(s.feed("SERVER_ERROR out of memory\r\nwhat\r\nMN\r\n"));
  EXPECT_EQ(s.server_errors(), 1u);
  EXPECT_EQ(s.unexpected(), 1u);
}

TEST(MetaReplyScanner, EndlessLine_DoesNotGrowWithoutBound) {
  MetaReplyScanner s;
  std::string junk(100000, 'x');
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(s.feed(junk));
  EXPECT_TRUE(s.feed("\r\nMN\r\n"));
}

}  // namespace
}  // namespace mccache::invalidator::delivery
