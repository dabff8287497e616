// pgoutput decoding of bytes captured from PostgreSQL 15, plus truncation and garbage robustness.
#include "invalidator/pgoutput/decoder.h"

#include <gtest/gtest.h>

#include "invalidator/pgoutput/stream_frame.h"
#include "tests/invalidator/pgoutput/capture.h"

namespace mccache::invalidator::pgoutput {
namespace {

class CapturedPgoutput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { capture_ = new auto(testdata::load_capture()); }
  static const std::string& bytes(const std::string& name) {
    auto it = capture_->find(name);
    if (it == capture_->end()) throw std::runtime_error("no captured message " + name);
    return it->second;
  }
  template <typename T>
  static T decoded(const std::string& name) {
    auto r = decode(bytes(name));
    EXPECT_EQ(r.status, Status::kOk) << r.error;
    EXPECT_TRUE(std::holds_alternative<T>(r.message)) << name;
    return std::get<T>(r.message);
  }
  static std::string text(const Value& v) { return std::string(v.text); }
  static std::map<std::string, std::string>* capture_;
};
std::map<std::string, std::string>* CapturedPgoutput::capture_ = nullptr;

TEST_F(CapturedPgoutput, Capture_HoldsEveryMessageKind) { EXPECT_GE(capture_->size(), 30u); }

TEST_F(CapturedPgoutput, Begin_DecodesFinalLsnAndXid) {
  auto b = decoded<Begin>("insert.B1");
  auto c = decoded<Commit>("insert.C1");
  EXPECT_EQ(b.final_lsn, c.commit_lsn);
  EXPECT_EQ(b.commit_time, c.commit_time);
  EXPECT_GT(b.xid, 0u);
}

TEST_F(CapturedPgoutput, Commit_EndLsnFollowsCommitLsn) {
  auto c = decoded<Commit>("insert.C1");
  EXPECT_GT(c.end_lsn, c.commit_lsn);
  EXPECT_GT(c.commit_time, 0);
}

TEST_F(CapturedPgoutput, Relation_DecodesNameIdentityAndKeyColumns) {
  auto r = decoded<Relation>("insert.R1");
  EXPECT_EQ(r.schema, "public");
  EXPECT_EQ(r.name, "cap_users");
  EXPECT_EQ(r.replica_identity, 'f');
  ASSERT_EQ(r.columns.size(), 3u);
  EXPECT_EQ(r.columns[0].name, "id");
  EXPECT_EQ(r.columns[0].type_oid, 20u);  // int8
  EXPECT_TRUE(r.columns[1].part_of_key);  // FULL: every column is part of the identity
  auto d = decoded<Relation>("insert_docs.R1");
  EXPECT_EQ(d.replica_identity, 'd');
  EXPECT_TRUE(d.columns[0].part_of_key);
  EXPECT_FALSE(d.columns[1].part_of_key);
}

TEST_F(CapturedPgoutput, Insert_DecodesTextAndNullValues) {
  auto i = decoded<Insert>("insert.I1");
  ASSERT_EQ(i.new_tuple.size(), 3u);
  EXPECT_EQ(text(i.new_tuple[0]), "1");
  EXPECT_EQ(text(i.new_tuple[1]), "alice");
  EXPECT_EQ(i.new_tuple[2].kind, ValueKind::kNull);
}

TEST_F(CapturedPgoutput, Update_WithReplicaIdentityFull_CarriesOldRow) {
  auto u = decoded<Update>("update_full.U1");
  EXPECT_EQ(u.old_kind, 'O');
  EXPECT_EQ(text(u.old_tuple[1]), "alice");
  EXPECT_EQ(text(u.new_tuple[1]), "alicia");
}

TEST_F(CapturedPgoutput, Update_OfOtherColumn_SendsUnchangedToastAsU) {
  auto u = decoded<Update>("update_toast.U1");
  EXPECT_EQ(u.old_kind, 0);
  EXPECT_EQ(text(u.new_tuple[1]), "doc2");
  EXPECT_EQ(u.new_tuple[2].kind, ValueKind::kUnchangedToast);
}

TEST_F(CapturedPgoutput, Update_OfPrimaryKey_CarriesOldKeyOnly) {
  auto u = decoded<Update>("update_key.U1");
  EXPECT_EQ(u.old_kind, 'K');
  EXPECT_EQ(text(u.old_tuple[0]), "7");
  EXPECT_EQ(u.old_tuple[1].kind, ValueKind::kNull);
  EXPECT_EQ(text(u.new_tuple[0]), "8");
}

TEST_F(CapturedPgoutput, Delete_DecodesOldKeyOrOldRow) {
  auto k = decoded<Delete>("delete_key.D1");
  EXPECT_EQ(k.old_kind, 'K');
  EXPECT_EQ(text(k.old_tuple[0]), "8");
  auto f = decoded<Delete>("delete_full.D1");
  EXPECT_EQ(f.old_kind, 'O');
  EXPECT_EQ(text(f.old_tuple[1]), "alicia");
}

TEST_F(CapturedPgoutput, Message_DecodesPrefixContentAndTransactionalFlag) {
  auto m = decoded<Message>("message.M1");
  EXPECT_TRUE(m.transactional);
  EXPECT_EQ(m.prefix, "mcinval");
  EXPECT_EQ(m.content, "feed:1 count:2");
}

TEST_F(CapturedPgoutput, Truncate_ListsEveryRelation) {
  auto t = decoded<Truncate>("truncate.T1");
  auto users = decoded<Relation>("insert.R1");
  auto docs = decoded<Relation>("insert_docs.R1");
  EXPECT_EQ(t.relation_ids, (std::vector<uint32_t>{users.id, docs.id}));
}

TEST_F(CapturedPgoutput, EveryTruncatedPrefix_IsAnErrorNotACrash) {
  for (const auto& [name, payload] : *capture_) {
    for (size_t n = 0; n < payload.size(); ++n) {
      auto r = decode(std::string_view(payload).substr(0, n));
      EXPECT_NE(r.status, Status::kOk) << name << " cut at " << n;
      EXPECT_FALSE(r.error.empty());
    }
  }
}

TEST_F(CapturedPgoutput, EveryFlippedByte_NeverCrashes) {
  for (const auto& [name, payload] : *capture_) {
    for (size_t i = 0; i < payload.size() && i < 64; ++i) {
      for (int bit : {0x01, 0x80, 0xff}) {
        std::string p = payload;
        p[i] = static_cast<char>(p[i] ^ bit);
        (void)decode(p);
      }
    }
  }
}

TEST(PgoutputDecoder, UnknownMessageType_IsReported) {
  EXPECT_EQ(decode("Zxyz").status, Status::kUnknownMessage);
}

TEST(PgoutputDecoder, NegativeValueLength_IsMalformed) {
  std::string p("I\0\0\0\1N\0\1t\xff\xff\xff\xff", 14);
  EXPECT_EQ(decode(p).status, Status::kMalformed);
}

TEST(PgoutputDecoder, HugeTruncateCount_IsTruncatedWithoutAllocating) {
  std::string p("T\xff\xff\xff\xff\0", 6);
  EXPECT_EQ(decode(p).status, Status::kTruncated);
}

TEST_F(CapturedPgoutput, XLogDataFrame_WrapsAPayload) {
  std::string frame("w");
  for (uint64_t v : {0x10ull, 0x20ull, 0x30ull})
    for (int s = 56; s >= 0; s -= 8) frame.push_back(static_cast<char>((v >> s) & 0xff));
  frame += bytes("insert.I1");
  auto f = decode_frame(frame);
  ASSERT_EQ(f.status, Status::kOk);
  auto x = std::get<XLogData>(f.frame);
  EXPECT_EQ(x.wal_start, 0x10u);
  EXPECT_EQ(x.wal_end, 0x20u);
  EXPECT_EQ(x.send_time, 0x30);
  EXPECT_EQ(x.payload, bytes("insert.I1"));
  for (size_t n = 0; n < 25; ++n) EXPECT_NE(decode_frame(frame.substr(0, n)).status, Status::kOk);
}

TEST(StreamFrame, Keepalive_DecodesReplyRequested) {
  std::string k("k\0\0\0\0\0\0\1\0\0\0\0\0\0\0\0\2\1", 18);
  auto f = decode_frame(k);
  ASSERT_EQ(f.status, Status::kOk);
  auto ka = std::get<Keepalive>(f.frame);
  EXPECT_EQ(ka.wal_end, 0x100u);
  EXPECT_EQ(ka.send_time, 2);
  EXPECT_TRUE(ka.reply_requested);
  for (size_t n = 0; n < k.size(); ++n) EXPECT_NE(decode_frame(k.substr(0, n)).status, Status::kOk);
}

TEST(StreamFrame, StandbyStatus_Is34BytesBigEndian) {
  auto s = encode_standby_status(1, 0x0102030405060708ull, 3, 4, true);
  ASSERT_EQ(s.size(), 34u);
  EXPECT_EQ(s[0], 'r');
  EXPECT_EQ(s.substr(9, 8), std::string("\1\2\3\4\5\6\7\x08", 8));
  EXPECT_EQ(s[33], 1);
}

TEST(StreamFrame, Lsn_FormatsAndParsesLikePostgres) {
  EXPECT_EQ(format_lsn(0x16B374D848ull), "16/B374D848");
  Lsn l = 0;
  EXPECT_TRUE(parse_lsn("16/B374D848", l));
  EXPECT_EQ(l, 0x16B374D848ull);
  EXPECT_FALSE(parse_lsn("16B374D848", l));
  EXPECT_FALSE(parse_lsn("/1", l));
  EXPECT_FALSE(parse_lsn("1/x", l));
}

}  // namespace
}  // namespace mccache::invalidator::pgoutput
