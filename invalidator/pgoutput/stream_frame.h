// The CopyBoth framing of a logical replication stream (protocol-replication, "START_REPLICATION"):
// server → client XLogData ('w') and primary keepalive ('k'); client → server standby status ('r').
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::pgoutput {

struct XLogData {
  Lsn wal_start = 0;
  Lsn wal_end = 0;
  PgTimestamp send_time = 0;
  std::string_view payload;  // one pgoutput message
};
struct Keepalive {
  Lsn wal_end = 0;
  PgTimestamp send_time = 0;
  bool reply_requested = false;
};

struct FrameResult {
  Status status = Status::kOk;
  std::string error;
  std::variant<XLogData, Keepalive> frame;
};

FrameResult decode_frame(std::string_view copy_data);

// 'r': written, flushed and applied positions. We only ever report what delivery confirmed.
std::string encode_standby_status(Lsn write, Lsn flush, Lsn apply, PgTimestamp now,
                                  bool reply_requested);

// Unix microseconds ↔ PostgreSQL timestamps.
constexpr int64_t kPgEpochUnixMicros = 946684800LL * 1000000LL;
inline PgTimestamp pg_timestamp_from_unix_micros(int64_t us) { return us - kPgEpochUnixMicros; }
inline int64_t unix_micros_from_pg_timestamp(PgTimestamp ts) { return ts + kPgEpochUnixMicros; }

// "16/B374D848" form, as PostgreSQL prints pg_lsn.
std::string format_lsn(Lsn lsn);
bool parse_lsn(std::string_view text, Lsn& out);

}  // namespace mccache::invalidator::pgoutput
