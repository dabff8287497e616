// Key templates: compilation, keys from old/new rows, TOAST, explicit keys, identity check.
#include "invalidator/keys/key_template.h"

#include <gtest/gtest.h>

#include "invalidator/keys/transaction_keys.h"
#include "tests/invalidator/pgoutput/capture.h"

namespace mccache::invalidator::keys {
namespace {

using pgoutput::Value;
using pgoutput::ValueKind;

KeyTemplate compiled(const std::string& text) {
  std::string error;
  auto t = KeyTemplate::compile(text, error);
  EXPECT_TRUE(t) << error;
  return *t;
}

pgoutput::Relation users_relation() {
  pgoutput::Relation r;
  r.id = 1;
  r.schema = "public";
  r.name = "users";
  r.columns = {{"id", 20, true}, {"username", 25, false}, {"bio", 25, false}};
  return r;
}

Value t(std::string_view s) { return {ValueKind::kText, s}; }
Value null() { return {ValueKind::kNull, {}}; }
Value toast() { return {ValueKind::kUnchangedToast, {}}; }

TableKeys bound(std::vector<std::string> templates,
                pgoutput::Relation relation = users_relation()) {
  std::vector<KeyTemplate> ts;
  for (auto& s : templates) ts.push_back(compiled(s));
  TableKeys tk(std::move(ts));
  EXPECT_TRUE(tk.bind(relation).missing_columns.empty());
  return tk;
}

RowChange insert(const pgoutput::Tuple& row) { return {RowChange::kInsert, &row, nullptr, 0}; }
RowChange update(const pgoutput::Tuple& row, const pgoutput::Tuple* old_row, char old_kind) {
  return {RowChange::kUpdate, &row, old_row, old_kind};
}

TEST(KeyTemplate, Compile_SplitsLiteralsAndColumns) {
  auto k = compiled("u:{id}:{username}");
  EXPECT_EQ(k.columns(), (std::vector<std::string>{"id", "username"}));
  std::string error;
  EXPECT_FALSE(KeyTemplate::compile("u:{id", error));
  EXPECT_FALSE(KeyTemplate::compile("plain", error));
  EXPECT_FALSE(KeyTemplate::compile("a}{id}", error));
}

TEST(TableKeys, Bind_ReportsAMissingColumn_AndThatTemplateNamesNoKey) {
  TableKeys tk({compiled("x:{nope}"), compiled("user:{id}")});
  auto report = tk.bind(users_relation());
  ASSERT_EQ(report.missing_columns.size(), 1u);
  EXPECT_EQ(report.missing_columns[0].column, "nope");
  pgoutput::Tuple row{t("42"), t("alice"), null()};
  UniqueKeys keys;
  KeyStats stats;
  EXPECT_FALSE(tk.keys_for(insert(row), keys, stats));
  EXPECT_EQ(keys.keys(), (std::vector<std::string>{"user:42"}));
}

TEST(TableKeys, Insert_ProducesKeysFromTheNewRow) {
  auto tk = bound({"user:{id}", "user_by_name:{username}"});
  pgoutput::Tuple row{t("42"), t("alice"), null()};
  UniqueKeys keys;
  KeyStats stats;
  EXPECT_TRUE(tk.keys_for(insert(row), keys, stats));
  EXPECT_EQ(keys.keys(), (std::vector<std::string>{"user:42", "user_by_name:alice"}));
}

TEST(TableKeys, RenamedUsername_InvalidatesOldAndNewKeysOnce) {
  auto tk = bound({"user:{id}", "user_by_name:{username}"});
  pgoutput::Tuple old_row{t("42"), t("alice"), null()};
  pgoutput::Tuple new_row{t("42"), t("alicia"), null()};
  UniqueKeys keys;
  KeyStats stats;
  EXPECT_TRUE(tk.keys_for(update(new_row, &old_row, 'O'), keys, stats));
  EXPECT_EQ(keys.keys(),
            (std::vector<std::string>{"user:42", "user_by_name:alicia", "user_by_name:alice"}));
}

// REPLICA IDENTITY DEFAULT: an UPDATE sends no old row, or only the key ('K'), so the old
// username is unknown. Saying nothing would leave user_by_name:<old> cached.
TEST(TableKeys, OldKeyOutsideTheIdentity_WithoutAFullOldRow_IsReportedUnnamed) {
  auto tk = bound({"user:{id}", "user_by_name:{username}"});
  pgoutput::Tuple new_row{t("42"), t("alicia"), null()};
  pgoutput::Tuple key_only{t("41"), null(), null()};
  UniqueKeys keys;
  KeyStats stats;
  EXPECT_FALSE(tk.keys_for(update(new_row, nullptr, 0), keys, stats));
  EXPECT_FALSE(tk.keys_for(update(new_row, &key_only, 'K'), keys, stats));
  EXPECT_FALSE(tk.keys_for({RowChange::kDelete, nullptr, &key_only, 'K'}, keys, stats));
  EXPECT_EQ(keys.keys(), (std::vector<std::string>{"user:42", "user_by_name:alicia", "user:41"}));
  EXPECT_EQ(stats.null_column, 0u) << "an unknown old value is not a NULL column";
  // Key-column templates alone can always name the old key.
  auto by_id = bound({"user:{id}"});
  EXPECT_TRUE(by_id.keys_for(update(new_row, nullptr, 0), keys, stats));
  EXPECT_TRUE(by_id.keys_for({RowChange::kDelete, nullptr, &key_only, 'K'}, keys, stats));
}

TEST(TableKeys, Binding_FollowsColumnNamesNotPositions) {
  pgoutput::Relation partition = users_relation();
  partition.columns = {{"bio", 25, false}, {"username", 25, false}, {"id", 20, true}};
  auto tk = bound({"user:{id}", "user_by_name:{username}"}, partition);
  pgoutput::Tuple row{null(), t("bob"), t("7")};
  UniqueKeys keys;
  KeyStats stats;
  EXPECT_TRUE(tk.keys_for(insert(row), keys, stats));
  EXPECT_EQ(keys.keys(), (std::vector<std::string>{"user:7", "user_by_name:bob"}));
}

TEST(TableKeys, UnchangedToast_TakesTheOldRowsValue) {
  auto tk = bound({"bio:{bio}"});
  pgoutput::Tuple old_row{t("42"), t("alice"), t("long")};
  pgoutput::Tuple new_row{t("42"), t("alice"), toast()};
  UniqueKeys keys;
  KeyStats stats;
  tk.keys_for(update(new_row, &old_row, 'O'), keys, stats);
  EXPECT_EQ(keys.keys(), (std::vector<std::string>{"bio:long"}));
  EXPECT_EQ(stats.unchanged_toast, 0u);
}

TEST(TableKeys, UnchangedToastWithoutOldRow_IsSkippedAndCounted) {
  auto tk = bound({"bio:{bio}", "user:{id}"});
  pgoutput::Tuple new_row{t("42"), t("alice"), toast()};
  UniqueKeys keys;
  KeyStats stats;
  tk.keys_for(insert(new_row), keys, stats);
  EXPECT_EQ(keys.keys(), (std::vector<std::string>{"user:42"}));
  EXPECT_EQ(stats.unchanged_toast, 1u);
}

TEST(TableKeys, NullColumnOrInvalidKey_ProducesNoKey) {
  auto tk = bound({"bio:{bio}", "name:{username}"});
  pgoutput::Tuple row{t("1"), t("has space"), null()};
  UniqueKeys keys;
  KeyStats stats;
  tk.keys_for(insert(row), keys, stats);
  EXPECT_TRUE(keys.empty());
  EXPECT_EQ(stats.null_column, 1u);
  EXPECT_EQ(stats.invalid_key, 1u);
}

TEST(ExplicitKeys, SplitsOnWhitespaceAndDropsInvalidKeys) {
  UniqueKeys keys;
  KeyStats stats;
  split_explicit_keys("  feed:1 count:2\nfeed:1 " + std::string(300, 'k'), keys, stats);
  EXPECT_EQ(keys.keys(), (std::vector<std::string>{"feed:1", "count:2"}));
  EXPECT_EQ(stats.invalid_key, 1u);
}

TableIdentity users_identity(char ident) {
  // Like the catalog query: FULL and NOTHING have no identity index.
  std::vector<std::string> identity;
  if (ident == 'd' || ident == 'i') identity = {"id"};
  TableIdentity id;
  id.exists = true;
  id.replica_identity = ident;
  id.columns = {"id", "username", "bio"};
  id.identity_columns = identity;
  return id;
}

TEST(ReplicaIdentityCheck, ColumnOutsidePrimaryKey_IsRefusedWithTheFix) {
  auto err = check_replica_identity("dc1.json: invalidator.tables.\"public.users\"[1]", "public.users",
                                    compiled("user_by_name:{username}"), users_identity('d'));
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("dc1.json: invalidator.tables.\"public.users\"[1]"), std::string::npos);
  EXPECT_NE(err->find("column \"username\" is not in the replica identity"), std::string::npos);
  EXPECT_NE(err->find("REPLICA IDENTITY FULL or drop the template"), std::string::npos);
}

TEST(ReplicaIdentityCheck, PrimaryKeyColumnsOrFullIdentity_AreAccepted) {
  EXPECT_FALSE(check_replica_identity("w", "public.users", compiled("user:{id}"), users_identity('d')));
  EXPECT_FALSE(check_replica_identity("w", "public.users", compiled("n:{username}"), users_identity('f')));
}

TEST(ReplicaIdentityCheck, PartitionedTable_ChecksEveryPartitionsOwnIdentity) {
  auto id = users_identity('f');  // the parent's own identity does not log any row
  id.partitioned = true;
  id.partitions = {{"public.users_a", 'f', {}}, {"public.users_b", 'd', {"id"}}};
  EXPECT_FALSE(check_replica_identity("w", "public.users", compiled("user:{id}"), id));
  auto err = check_replica_identity("w", "public.users", compiled("n:{username}"), id);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("partition public.users_b of public.users"), std::string::npos) << *err;
  EXPECT_NE(err->find("ALTER TABLE public.users_b REPLICA IDENTITY FULL"), std::string::npos)
      << *err;
}

TEST(ReplicaIdentityCheck, NothingOrMissingTable_IsRefused) {
  EXPECT_TRUE(check_replica_identity("w", "public.users", compiled("user:{id}"), users_identity('n')));
  EXPECT_TRUE(check_replica_identity("w", "public.users", compiled("user:{id}"), TableIdentity{}));
  EXPECT_TRUE(check_replica_identity("w", "public.users", compiled("x:{nope}"), users_identity('f')));
}

// The captured stream, end to end through TransactionKeys.
TEST(TransactionKeys, CapturedStream_YieldsEachTransactionsKeysAtCommit) {
  auto capture = testdata::load_capture();
  TransactionKeysOptions opt;
  opt.tables["public.cap_users"] = {compiled("user:{id}"), compiled("user_by_name:{username}")};
  opt.tables["public.cap_docs"] = {compiled("doc:{id}")};
  TransactionKeys tk(std::move(opt));
  std::map<std::string, std::vector<std::string>> by_step;
  std::vector<std::string> order = {"insert", "update_full", "insert_docs", "update_toast",
                                    "update_key", "delete_key", "delete_full", "message", "truncate"};
  bool flushed = false;
  for (const auto& step : order) {
    // Messages of a step in capture order: B, R*, then changes, then C.
    std::vector<std::string> names;
    for (const auto& kind : {"B1", "R1", "R2", "M1", "I1", "U1", "D1", "T1", "C1"}) {
      auto n = step + "." + kind;
      if (capture.count(n)) names.push_back(n);
    }
    for (const auto& n : names) {
      auto r = pgoutput::decode(capture[n]);
      ASSERT_EQ(r.status, pgoutput::Status::kOk);
      auto ev = tk.on_message(std::move(r.message));
      if (ev.kind == StreamEvent::kCommitted) {
        by_step[step] = ev.txn.keys;
        flushed = flushed || ev.txn.flush_region;
        EXPECT_GT(ev.txn.end_lsn, 0u);
      }
    }
  }
  EXPECT_EQ(by_step["insert"], (std::vector<std::string>{"user:1", "user_by_name:alice"}));
  EXPECT_EQ(by_step["update_full"],
            (std::vector<std::string>{"user:1", "user_by_name:alicia", "user_by_name:alice"}));
  EXPECT_EQ(by_step["update_key"], (std::vector<std::string>{"doc:8", "doc:7"}));
  EXPECT_EQ(by_step["delete_key"], (std::vector<std::string>{"doc:8"}));
  EXPECT_EQ(by_step["delete_full"], (std::vector<std::string>{"user:1", "user_by_name:alicia"}));
  EXPECT_EQ(by_step["message"],
            (std::vector<std::string>{"feed:1", "count:2", "user:2", "user_by_name:bob"}));
  EXPECT_TRUE(flushed);
}

TEST(TransactionKeys, TruncateUnderHalt_StopsTheStream) {
  TransactionKeysOptions opt;
  opt.tables["public.users"] = {compiled("user:{id}")};
  opt.truncate = TruncatePolicy::kHalt;
  TransactionKeys tk(std::move(opt));
  tk.on_message(pgoutput::Begin{});
  tk.on_message(users_relation());
  auto ev = tk.on_message(pgoutput::Truncate{0, {1}});
  EXPECT_EQ(ev.kind, StreamEvent::kHalt);
}

TEST(TransactionKeys, MessageWithOtherPrefix_IsIgnored) {
  TransactionKeys tk(TransactionKeysOptions{});
  tk.on_message(pgoutput::Begin{});
  tk.on_message(pgoutput::Message{true, 1, "other", "k1"});
  auto ev = tk.on_message(pgoutput::Commit{0, 1, 2, 3});
  EXPECT_EQ(ev.kind, StreamEvent::kCommitted);
  EXPECT_TRUE(ev.txn.keys.empty());
}

}  // namespace
}  // namespace mccache::invalidator::keys
