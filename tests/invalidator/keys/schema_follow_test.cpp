// TransactionKeys following schema changes as the stream shows them: renames, partitions, a
// weaker replica identity, a lost column, relations the catalog cannot place, schema markers.
#include <gtest/gtest.h>

#include <map>

#include "invalidator/keys/transaction_keys.h"

namespace mccache::invalidator::keys {
namespace {

using pgoutput::Value;
using pgoutput::ValueKind;

Value t(std::string_view s) { return {ValueKind::kText, s}; }

// What a SchemaWatch would answer, from a fixed map of relation id → origin; other relations
// are placed by their streamed name.
class FixedView : public SchemaView {
 public:
  std::map<uint32_t, Origin> origins;
  int asked = 0;
  Origin origin(const pgoutput::Relation& rel) override {
    ++asked;
    auto it = origins.find(rel.id);
    if (it != origins.end()) return it->second;
    Origin by_name;
    if (rel.name == "users") by_name = {Origin::kTable, "public.users", false, {}, {}};
    return by_name;
  }
  const std::string& slot() const override { return slot_; }

 private:
  std::string slot_ = "dc1";
};

pgoutput::Relation relation(uint32_t id, std::string name, char identity,
                            std::vector<pgoutput::RelationColumn> columns) {
  pgoutput::Relation r;
  r.id = id;
  r.schema = "public";
  r.name = std::move(name);
  r.replica_identity = identity;
  r.columns = std::move(columns);
  return r;
}
// users (id, username) as pgoutput describes it under FULL (every column flagged) or DEFAULT.
pgoutput::Relation users(char identity, uint32_t id = 1, std::string name = "users") {
  return relation(id, std::move(name), identity,
                  {{"id", 20, true}, {"username", 25, identity == 'f'}});
}

TransactionKeysOptions options(TruncatePolicy policy = TruncatePolicy::kFlushRegion) {
  TransactionKeysOptions opt;
  std::string error;
  opt.tables["public.users"] = {*KeyTemplate::compile("user:{id}", error),
                                *KeyTemplate::compile("user_by_name:{username}", error)};
  opt.truncate = policy;
  return opt;
}

pgoutput::Insert insert(uint32_t rel, std::string_view id, std::string_view name) {
  return {rel, {t(id), t(name)}};
}
pgoutput::Commit commit() { return {0, 10, 20, 30}; }

// Feeds a whole transaction after `prelude` (Relation messages); returns its commit event and
// collects every notice.
struct Session {
  explicit Session(TransactionKeysOptions opt, SchemaView* view = nullptr)
      : tk(std::move(opt), view) {}
  StreamEvent feed(pgoutput::Decoded m) {
    auto ev = tk.on_message(std::move(m));
    notices.insert(notices.end(), ev.notices.begin(), ev.notices.end());
    if (ev.kind == StreamEvent::kHalt || ev.kind == StreamEvent::kReconnect) last_stop = ev;
    return ev;
  }
  bool has(SchemaChange c, bool unfollowed) const {
    for (const auto& n : notices)
      if (n.change == c && n.unfollowed == unfollowed) return true;
    return false;
  }
  TransactionKeys tk;
  std::vector<SchemaNotice> notices;
  StreamEvent last_stop;
};

TEST(SchemaFollow, RenamedTable_KeepsItsTemplates_AndWarns) {
  Session s(options());
  s.feed(pgoutput::Begin{});
  s.feed(users('f'));
  s.feed(insert(1, "1", "ann"));
  s.feed(commit());
  s.feed(pgoutput::Begin{});
  s.feed(users('f', 1, "members"));  // same OID, new name: ALTER TABLE users RENAME TO members
  s.feed(insert(1, "2", "bob"));
  auto ev = s.feed(commit());
  EXPECT_EQ(ev.txn.keys, (std::vector<std::string>{"user:2", "user_by_name:bob"}));
  ASSERT_TRUE(s.has(SchemaChange::kRenamed, false));
  EXPECT_NE(s.notices[0].message.find("public.users is now public.members"), std::string::npos);
}

TEST(SchemaFollow, RenamedBeforeTheSession_IsPlacedByTheCatalog) {
  FixedView view;
  view.origins[1] = {SchemaView::Origin::kTable, "public.users", false, {}, {}};
  Session s(options(), &view);
  s.feed(pgoutput::Begin{});
  s.feed(users('f', 1, "members"));
  s.feed(insert(1, "2", "bob"));
  EXPECT_EQ(s.feed(commit()).txn.keys.size(), 2u);
  EXPECT_TRUE(s.has(SchemaChange::kRenamed, false));
}

TEST(SchemaFollow, Partition_IsBoundToItsParentsTemplates_ByColumnName) {
  FixedView view;
  view.origins[7] = {SchemaView::Origin::kTable, "public.users", true, {}, {}};
  Session s(options(), &view);
  s.feed(pgoutput::Begin{});
  s.feed(relation(7, "users_2024", 'f', {{"username", 25, true}, {"id", 20, true}}));
  s.feed(pgoutput::Insert{7, {t("ann"), t("5")}});
  auto ev = s.feed(commit());
  EXPECT_EQ(ev.txn.keys, (std::vector<std::string>{"user:5", "user_by_name:ann"}));
  EXPECT_TRUE(s.notices.empty()) << "a partition under another name is no rename";
  s.feed(pgoutput::Begin{});
  s.feed(relation(7, "users_2024", 'f', {{"username", 25, true}, {"id", 20, true}}));
  EXPECT_EQ(view.asked, 1) << "asked once per relation and session";
  s.feed(pgoutput::Truncate{0, {7}});  // TRUNCATE users_2024
  EXPECT_TRUE(s.feed(commit()).txn.flush_region);
}

TEST(SchemaFollow, IdentityDowngradedToDefault_FlushesEachUpdateOrDelete_WithAnError) {
  Session s(options());
  s.feed(pgoutput::Begin{});
  s.feed(users('d'));  // after ALTER TABLE users REPLICA IDENTITY DEFAULT
  s.feed(insert(1, "1", "ann"));
  EXPECT_FALSE(s.feed(commit()).txn.flush_region) << "an INSERT names every key";
  ASSERT_TRUE(s.has(SchemaChange::kReplicaIdentity, true));
  EXPECT_NE(s.notices[0].message.find("ALTER TABLE public.users REPLICA IDENTITY FULL"),
            std::string::npos)
      << s.notices[0].message;
  s.feed(pgoutput::Begin{});
  pgoutput::Update u{1, 0, {}, {t("1"), t("bob")}};  // no old row: the old name is unknown
  s.feed(std::move(u));
  auto ev = s.feed(commit());
  EXPECT_TRUE(ev.txn.flush_region);
  EXPECT_EQ(ev.txn.keys, (std::vector<std::string>{"user:1", "user_by_name:bob"}));
  EXPECT_EQ(s.tk.stats().unnamed_changes, 1u);
  EXPECT_EQ(s.tk.stats().null_column, 0u);
}

TEST(SchemaFollow, IdentityDowngrade_UnderHaltStops_UnderIgnoreOnlyCounts) {
  Session halt(options(TruncatePolicy::kHalt));
  halt.feed(pgoutput::Begin{});
  halt.feed(users('d'));
  halt.feed(pgoutput::Delete{1, 'K', {t("1"), {}}});
  EXPECT_EQ(halt.last_stop.kind, StreamEvent::kHalt);
  EXPECT_NE(halt.last_stop.message.find("\"halt\""), std::string::npos);

  Session ignore(options(TruncatePolicy::kIgnore));
  ignore.feed(pgoutput::Begin{});
  ignore.feed(users('d'));
  ignore.feed(pgoutput::Delete{1, 'K', {t("1"), {}}});
  auto ev = ignore.feed(commit());
  EXPECT_FALSE(ev.txn.flush_region);
  EXPECT_EQ(ev.txn.keys, (std::vector<std::string>{"user:1"}));
  EXPECT_EQ(ignore.tk.stats().unnamed_changes, 1u);
  EXPECT_TRUE(ignore.has(SchemaChange::kReplicaIdentity, true));
}

TEST(SchemaFollow, FullIdentity_NamesOldKeys_WithoutFlushing) {
  Session s(options());
  s.feed(pgoutput::Begin{});
  s.feed(users('f'));
  s.feed(pgoutput::Update{1, 'O', {t("1"), t("ann")}, {t("1"), t("bob")}});
  auto ev = s.feed(commit());
  EXPECT_FALSE(ev.txn.flush_region);
  EXPECT_EQ(ev.txn.keys,
            (std::vector<std::string>{"user:1", "user_by_name:bob", "user_by_name:ann"}));
  EXPECT_TRUE(s.notices.empty());
}

TEST(SchemaFollow, TemplateColumnDropped_FlushesEveryChange_InsteadOfStopping) {
  Session s(options());
  s.feed(pgoutput::Begin{});
  s.feed(relation(1, "users", 'f', {{"id", 20, true}}));  // ALTER TABLE users DROP COLUMN username
  auto ev = s.feed(pgoutput::Insert{1, {t("3")}});
  EXPECT_EQ(ev.kind, StreamEvent::kNone);
  auto done = s.feed(commit());
  EXPECT_TRUE(done.txn.flush_region);
  EXPECT_EQ(done.txn.keys, (std::vector<std::string>{"user:3"}));
  EXPECT_TRUE(s.has(SchemaChange::kColumns, true));
}

TEST(SchemaFollow, FormerMember_EveryChangeFlushes) {
  FixedView view;
  view.origins[9] = {SchemaView::Origin::kFormerMember, "", false, "no longer in the catalog", {}};
  Session s(options(), &view);
  s.feed(pgoutput::Begin{});
  s.feed(relation(9, "users_old_partition", 'd', {{"id", 20, true}}));
  s.feed(pgoutput::Insert{9, {t("3")}});
  EXPECT_TRUE(s.feed(commit()).txn.flush_region);
  EXPECT_TRUE(s.has(SchemaChange::kUnknownRelation, true));
}

TEST(SchemaFollow, CatalogUnreachable_AsksForANewSession) {
  FixedView view;
  view.origins[9] = {SchemaView::Origin::kUnknown, "", false, "connection refused", {}};
  Session s(options(), &view);
  s.feed(pgoutput::Begin{});
  s.feed(relation(9, "elsewhere", 'd', {{"id", 20, true}}));
  EXPECT_EQ(s.last_stop.kind, StreamEvent::kReconnect);
  EXPECT_NE(s.last_stop.message.find("connection refused"), std::string::npos);
}

TEST(SchemaFollow, NotCachedRelation_IsIgnored) {
  FixedView view;
  Session s(options(), &view);
  s.feed(pgoutput::Begin{});
  s.feed(relation(9, "audit_log", 'd', {{"id", 20, true}}));
  s.feed(pgoutput::Insert{9, {t("3")}});
  auto ev = s.feed(commit());
  EXPECT_TRUE(ev.txn.keys.empty());
  EXPECT_FALSE(ev.txn.flush_region);
  EXPECT_EQ(s.tk.rows(), 0u);
}

TEST(SchemaFollow, RecreatedTable_UnderTheSameName_IsCachedToo) {
  Session s(options());
  s.feed(pgoutput::Begin{});
  s.feed(users('f', 1));
  s.feed(users('f', 2));  // DROP TABLE users; CREATE TABLE users ...: a new OID, the same name
  s.feed(insert(1, "1", "old"));
  s.feed(insert(2, "1", "new"));
  EXPECT_EQ(s.feed(commit()).txn.keys,
            (std::vector<std::string>{"user:1", "user_by_name:old", "user_by_name:new"}));
}

TEST(SchemaFollow, OwnSchemaMarker_FlushesWhereItLands_OtherRegionsAreIgnored) {
  FixedView view;
  Session s(options(), &view);
  s.feed(pgoutput::Begin{});
  s.feed(pgoutput::Message{true, 1, kSchemaMarkerPrefix, "dc2\npublic.users was dropped"});
  EXPECT_FALSE(s.feed(commit()).txn.flush_region);
  s.feed(pgoutput::Begin{});
  std::string mine = encode_schema_marker("dc1", "public.users was dropped");
  s.feed(pgoutput::Message{true, 2, kSchemaMarkerPrefix, mine});
  EXPECT_TRUE(s.feed(commit()).txn.flush_region);

  Session halting(options(TruncatePolicy::kHalt), &view);
  halting.feed(pgoutput::Begin{});
  halting.feed(pgoutput::Message{true, 2, kSchemaMarkerPrefix, mine});
  EXPECT_EQ(halting.last_stop.kind, StreamEvent::kHalt);
  EXPECT_NE(halting.last_stop.message.find("public.users was dropped"), std::string::npos);
}

TEST(SchemaFollow, Reload_WithATemplateOnAMissingColumn_IsRefused) {
  Session s(options());
  s.feed(pgoutput::Begin{});
  s.feed(relation(1, "users", 'f', {{"id", 20, true}}));
  s.feed(commit());
  std::string error;
  EXPECT_FALSE(s.tk.replace_options(options(), error));
  EXPECT_NE(error.find("\"username\""), std::string::npos) << error;
}

}  // namespace
}  // namespace mccache::invalidator::keys
