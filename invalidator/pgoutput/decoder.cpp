// pgoutput message decoding; layouts follow PostgreSQL 15 protocol-logicalrep-message-formats.
#include "invalidator/pgoutput/decoder.h"

#include <algorithm>

#include "invalidator/pgoutput/reader.h"

namespace mccache::invalidator::pgoutput {
namespace {

DecodeResult fail(Status s, const ByteReader& r, const char* what) {
  DecodeResult out;
  out.status = s;
  out.error = std::string(what) + " at byte " + std::to_string(r.offset());
  return out;
}

DecodeResult truncated(const ByteReader& r, const char* what) {
  return fail(Status::kTruncated, r, what);
}

// TupleData: Int16 column count, then per column 'n' | 'u' | 't' Int32 length, bytes.
bool read_tuple(ByteReader& r, Tuple& out, Status& status, const char*& what) {
  uint16_t n;
  if (!r.u16(n)) {
    status = Status::kTruncated;
    what = "tuple column count";
    return false;
  }
  out.clear();
  out.reserve(std::min<size_t>(n, r.left()));  // a hostile count must not allocate
  for (uint16_t i = 0; i < n; ++i) {
    uint8_t kind;
    if (!r.u8(kind)) {
      status = Status::kTruncated;
      what = "tuple column kind";
      return false;
    }
    Value v;
    switch (kind) {
      case 'n':
        v.kind = ValueKind::kNull;
        break;
      case 'u':
        v.kind = ValueKind::kUnchangedToast;
        break;
      case 't': {
        int32_t len;
        if (!r.i32(len)) {
          status = Status::kTruncated;
          what = "tuple value length";
          return false;
        }
        if (len < 0) {
          status = Status::kMalformed;
          what = "negative tuple value length";
          return false;
        }
        if (!r.bytes(static_cast<size_t>(len), v.text)) {
          status = Status::kTruncated;
          what = "tuple value";
          return false;
        }
        v.kind = ValueKind::kText;
        break;
      }
      default:
        // 'b' (binary) only exists with proto_version >= 2 and binary 'true', which we never ask.
        status = Status::kMalformed;
        what = "unknown tuple column kind";
        return false;
    }
    out.push_back(v);
  }
  return true;
}

#define NEED(expr, what) \
  if (!(expr)) return truncated(r, what)
#define TUPLE(dst)                                                 \
  do {                                                             \
    Status st;                                                     \
    const char* what = "";                                         \
    if (!read_tuple(r, dst, st, what)) return fail(st, r, what); \
  } while (0)

DecodeResult decode_relation(ByteReader& r) {
  Relation rel;
  std::string_view schema, name;
  uint8_t ident;
  uint16_t ncols;
  NEED(r.u32(rel.id), "relation id");
  NEED(r.cstring(schema), "relation namespace");
  NEED(r.cstring(name), "relation name");
  NEED(r.u8(ident), "relation replica identity");
  NEED(r.u16(ncols), "relation column count");
  rel.schema = schema;
  rel.name = name;
  rel.replica_identity = static_cast<char>(ident);
  rel.columns.reserve(std::min<size_t>(ncols, r.left()));
  for (uint16_t i = 0; i < ncols; ++i) {
    uint8_t flags;
    std::string_view col;
    uint32_t type_oid;
    int32_t typmod;
    NEED(r.u8(flags), "column flags");
    NEED(r.cstring(col), "column name");
    NEED(r.u32(type_oid), "column type");
    NEED(r.i32(typmod), "column type modifier");
    rel.columns.push_back({std::string(col), type_oid, (flags & 1) != 0});
  }
  return {Status::kOk, {}, std::move(rel)};
}

DecodeResult decode_update(ByteReader& r) {
  Update u;
  uint8_t tag;
  NEED(r.u32(u.relation_id), "update relation id");
  NEED(r.u8(tag), "update tuple tag");
  if (tag == 'K' || tag == 'O') {
    u.old_kind = static_cast<char>(tag);
    TUPLE(u.old_tuple);
    NEED(r.u8(tag), "update new tuple tag");
  }
  if (tag != 'N') return fail(Status::kMalformed, r, "update without new tuple 'N'");
  TUPLE(u.new_tuple);
  return {Status::kOk, {}, std::move(u)};
}

DecodeResult decode_delete(ByteReader& r) {
  Delete d;
  uint8_t tag;
  NEED(r.u32(d.relation_id), "delete relation id");
  NEED(r.u8(tag), "delete tuple tag");
  if (tag != 'K' && tag != 'O') return fail(Status::kMalformed, r, "delete without 'K'/'O'");
  d.old_kind = static_cast<char>(tag);
  TUPLE(d.old_tuple);
  return {Status::kOk, {}, std::move(d)};
}

}  // namespace

const char* status_name(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kTruncated: return "truncated";
    case Status::kMalformed: return "malformed";
    case Status::kUnknownMessage: return "unknown message";
  }
  return "?";
}

DecodeResult decode(std::string_view payload) {
  ByteReader r(payload);
  uint8_t kind;
  NEED(r.u8(kind), "message type");
  switch (kind) {
    case 'B': {
      Begin b;
      NEED(r.u64(b.final_lsn), "begin final lsn");
      NEED(r.i64(b.commit_time), "begin commit time");
      NEED(r.u32(b.xid), "begin xid");
      return {Status::kOk, {}, b};
    }
    case 'C': {
      Commit c;
      NEED(r.u8(c.flags), "commit flags");
      NEED(r.u64(c.commit_lsn), "commit lsn");
      NEED(r.u64(c.end_lsn), "commit end lsn");
      NEED(r.i64(c.commit_time), "commit time");
      return {Status::kOk, {}, c};
    }
    case 'R':
      return decode_relation(r);
    case 'I': {
      Insert ins;
      uint8_t tag;
      NEED(r.u32(ins.relation_id), "insert relation id");
      NEED(r.u8(tag), "insert tuple tag");
      if (tag != 'N') return fail(Status::kMalformed, r, "insert without 'N'");
      TUPLE(ins.new_tuple);
      return {Status::kOk, {}, std::move(ins)};
    }
    case 'U':
      return decode_update(r);
    case 'D':
      return decode_delete(r);
    case 'T': {
      Truncate t;
      uint32_t n;
      NEED(r.u32(n), "truncate relation count");
      NEED(r.u8(t.options), "truncate options");
      // Bound the reservation by what the bytes can hold, not by a hostile count.
      if (r.left() < static_cast<size_t>(n) * 4) return truncated(r, "truncate relation ids");
      t.relation_ids.resize(n);
      for (auto& id : t.relation_ids) NEED(r.u32(id), "truncate relation id");
      return {Status::kOk, {}, std::move(t)};
    }
    case 'M': {
      Message m;
      uint8_t flags;
      int32_t len;
      NEED(r.u8(flags), "message flags");
      NEED(r.u64(m.lsn), "message lsn");
      NEED(r.cstring(m.prefix), "message prefix");
      NEED(r.i32(len), "message length");
      if (len < 0) return fail(Status::kMalformed, r, "negative message length");
      NEED(r.bytes(static_cast<size_t>(len), m.content), "message content");
      m.transactional = (flags & 1) != 0;
      return {Status::kOk, {}, m};
    }
    case 'Y': {
      uint32_t id;
      std::string_view ns, name;
      NEED(r.u32(id), "type id");
      NEED(r.cstring(ns), "type namespace");
      NEED(r.cstring(name), "type name");
      return {Status::kOk, {}, Skipped{'Y'}};
    }
    case 'O': {
      uint64_t lsn;
      std::string_view name;
      NEED(r.u64(lsn), "origin lsn");
      NEED(r.cstring(name), "origin name");
      return {Status::kOk, {}, Skipped{'O'}};
    }
    default:
      return fail(Status::kUnknownMessage, r, "unknown pgoutput message type");
  }
}

}  // namespace mccache::invalidator::pgoutput
