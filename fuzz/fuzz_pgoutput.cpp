// Fuzzes the pgoutput decoder and the CopyData framing around it, as the replication stream
// hands them bytes from the walsender: never throw, never read outside the message, every view
// inside the payload, a status and an error text that agree.
//
// Input: one CopyData message ('w' XLogData / 'k' keepalive, whose payload is then decoded) or,
// for any other first byte, one bare pgoutput message.
#include <string>
#include <variant>

#include "fuzz/fuzz_check.h"
#include "invalidator/pgoutput/decoder.h"
#include "invalidator/pgoutput/stream_frame.h"

namespace {

using mccache::fuzz::ExactBuffer;
using mccache::fuzz::within;
namespace pg = mccache::invalidator::pgoutput;

void check_tuple(const pg::Tuple& t, std::string_view payload) {
  FUZZ_CHECK(t.size() <= payload.size(), "no more columns than bytes");
  for (const pg::Value& v : t) {
    FUZZ_CHECK(within(v.text, payload), "tuple value inside the payload");
    FUZZ_CHECK(v.kind == pg::ValueKind::kText || v.text.empty(), "only text values have bytes");
  }
}

void check_decode(std::string_view payload) {
  pg::DecodeResult r = pg::decode(payload);
  FUZZ_CHECK(pg::status_name(r.status) != nullptr, "every status has a name");
  if (r.status != pg::Status::kOk) {
    FUZZ_CHECK(!r.error.empty(), "a failure says what and where");
    return;
  }
  FUZZ_CHECK(r.error.empty(), "success carries no error");
  FUZZ_CHECK(!payload.empty(), "an empty payload is not a message");
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, pg::Relation>) {
          FUZZ_CHECK(payload[0] == 'R', "relation from 'R'");
          FUZZ_CHECK(m.columns.size() <= payload.size(), "no more columns than bytes");
        } else if constexpr (std::is_same_v<T, pg::Insert>) {
          FUZZ_CHECK(payload[0] == 'I', "insert from 'I'");
          check_tuple(m.new_tuple, payload);
        } else if constexpr (std::is_same_v<T, pg::Update>) {
          FUZZ_CHECK(payload[0] == 'U', "update from 'U'");
          FUZZ_CHECK(m.old_kind == 0 || m.old_kind == 'K' || m.old_kind == 'O', "old tuple kind");
          FUZZ_CHECK(m.old_kind != 0 || m.old_tuple.empty(), "no old tuple without a kind");
          check_tuple(m.old_tuple, payload);
          check_tuple(m.new_tuple, payload);
        } else if constexpr (std::is_same_v<T, pg::Delete>) {
          FUZZ_CHECK(payload[0] == 'D', "delete from 'D'");
          FUZZ_CHECK(m.old_kind == 'K' || m.old_kind == 'O', "delete has an old tuple kind");
          check_tuple(m.old_tuple, payload);
        } else if constexpr (std::is_same_v<T, pg::Truncate>) {
          FUZZ_CHECK(payload[0] == 'T', "truncate from 'T'");
          FUZZ_CHECK(m.relation_ids.size() * 4 <= payload.size(), "relation ids fit the bytes");
        } else if constexpr (std::is_same_v<T, pg::Message>) {
          FUZZ_CHECK(payload[0] == 'M', "message from 'M'");
          FUZZ_CHECK(within(m.prefix, payload) && within(m.content, payload),
                     "message views inside the payload");
        } else if constexpr (std::is_same_v<T, pg::Skipped>) {
          FUZZ_CHECK(m.kind == 'Y' || m.kind == 'O', "only Type and Origin are skipped");
        }
      },
      r.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ExactBuffer buf(std::string_view(reinterpret_cast<const char*>(data), size));
  std::string_view bytes = buf.view();

  pg::FrameResult f = pg::decode_frame(bytes);
  if (f.status == pg::Status::kOk) {
    FUZZ_CHECK(f.error.empty(), "success carries no error");
    if (auto* x = std::get_if<pg::XLogData>(&f.frame)) {
      FUZZ_CHECK(bytes[0] == 'w' && x->payload.size() + 25 == bytes.size(),
                 "XLogData payload is everything after the 25-byte header");
      FUZZ_CHECK(within(x->payload, bytes), "payload inside the frame");
      check_decode(x->payload);
    } else {
      FUZZ_CHECK(bytes[0] == 'k' && bytes.size() >= 18, "keepalive is 18 bytes");
    }
  } else {
    FUZZ_CHECK(!f.error.empty(), "a failure says what");
    check_decode(bytes);
  }

  // The LSN text form round-trips ("16/B374D848", as pg_lsn prints it).
  pg::Lsn lsn = 0;
  if (pg::parse_lsn(bytes, lsn)) {
    pg::Lsn again = 0;
    FUZZ_CHECK(pg::parse_lsn(pg::format_lsn(lsn), again) && again == lsn, "LSN round-trips");
  }
  if (size >= 8) {
    pg::Lsn v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | data[i];
    pg::Lsn again = 0;
    FUZZ_CHECK(pg::parse_lsn(pg::format_lsn(v), again) && again == v, "format_lsn parses back");
    FUZZ_CHECK(pg::encode_standby_status(v, v, v, static_cast<pg::PgTimestamp>(v), true).size() ==
                   34,
               "standby status is 34 bytes");
  }
  return 0;
}
