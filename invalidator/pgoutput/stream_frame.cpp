// CopyData framing of the walsender stream.
#include "invalidator/pgoutput/stream_frame.h"

#include <charconv>
#include <cstdio>

#include "invalidator/pgoutput/reader.h"

namespace mccache::invalidator::pgoutput {
namespace {

FrameResult fail(Status s, const char* what) {
  FrameResult f;
  f.status = s;
  f.error = what;
  return f;
}

void put_be64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

}  // namespace

FrameResult decode_frame(std::string_view copy_data) {
  ByteReader r(copy_data);
  uint8_t kind;
  if (!r.u8(kind)) return fail(Status::kTruncated, "empty CopyData");
  if (kind == 'w') {
    XLogData x;
    if (!r.u64(x.wal_start) || !r.u64(x.wal_end) || !r.i64(x.send_time))
      return fail(Status::kTruncated, "XLogData header shorter than 25 bytes");
    x.payload = r.rest();
    return {Status::kOk, {}, x};
  }
  if (kind == 'k') {
    Keepalive k;
    uint8_t reply;
    if (!r.u64(k.wal_end) || !r.i64(k.send_time) || !r.u8(reply))
      return fail(Status::kTruncated, "keepalive shorter than 18 bytes");
    k.reply_requested = reply != 0;
    return {Status::kOk, {}, k};
  }
  return fail(Status::kUnknownMessage, "unknown CopyData message type");
}

std::string encode_standby_status(Lsn write, Lsn flush, Lsn apply, PgTimestamp now,
                                  bool reply_requested) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  put_be64(out, write);
  put_be64(out, flush);
  put_be64(out, apply);
  put_be64(out, static_cast<uint64_t>(now));
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

std::string format_lsn(Lsn lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xffffffffu));
  return buf;
}

bool parse_lsn(std::string_view text, Lsn& out) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  uint32_t hi = 0, lo = 0;
  auto a = std::from_chars(text.data(), text.data() + slash, hi, 16);
  auto b = std::from_chars(text.data() + slash + 1, text.data() + text.size(), lo, 16);
  if (a.ec != std::errc() || a.ptr != text.data() + slash || b.ec != std::errc() ||
      b.ptr != text.data() + text.size() || slash == 0 || slash + 1 == text.size())
    return false;
  out = (static_cast<Lsn>(hi) << 32) | lo;
  return true;
}

}  // namespace mccache::invalidator::pgoutput
