// Polls the gated database (the region's replica, or the primary) over a plain libpq connection.
#include "invalidator/delivery/replay_gate.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "invalidator/pgoutput/stream_frame.h"
#include "invalidator/replication/pg_connect.h"

namespace mccache::invalidator::delivery {
namespace {

// Column 1: the replay position (on a primary its insert position: it has everything).
// Column 2: how many of $1's transactions a new snapshot would still see running; always 0 on a
// replica, where replay is the test. Transaction ids from pgoutput are 32-bit: compare them with
// the snapshot's modulo 2^32, as the server does (a committed xid precedes xmax by < 2^31).
constexpr const char* kGateQuery = R"(
SELECT COALESCE(pg_last_wal_replay_lsn(), pg_current_wal_insert_lsn())::text,
       CASE WHEN pg_is_in_recovery() THEN 0 ELSE (
         SELECT count(*)
         FROM (SELECT pg_snapshot_xmax(s)::text::bigint & 4294967295 AS xmax,
                      ARRAY(SELECT x::text::bigint & 4294967295 FROM pg_snapshot_xip(s) x) AS xip
               FROM pg_current_snapshot() s) snap,
              unnest($1::bigint[]) t(xid)
         WHERE (snap.xmax - t.xid + 4294967296) % 4294967296 NOT BETWEEN 1 AND 2147483647
            OR t.xid = ANY (snap.xip))
       END)";

}  // namespace

std::string xid_array_literal(const std::vector<uint32_t>& xids) {
  std::string out = "{";
  for (size_t i = 0; i < xids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(xids[i]);
  }
  return out + "}";
}

ReplayGate::~ReplayGate() {
  if (conn_) PQfinish(conn_);
}

Result<bool> ReplayGate::poll_once(pgoutput::Lsn lsn, const std::string& xid_array) {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    if (conn_) PQfinish(conn_);
    position_ = 0;
    // Keepalives and a TCP user timeout: a replica that vanishes behind a partition must fail the
    // query (and be retried) instead of holding the stream on a dead connection forever.
    conn_ = replication::connect_postgres(dsn_, {{"connect_timeout", "2"},
                                                 {"application_name", "mcinval_gate"},
                                                 {"keepalives", "1"},
                                                 {"keepalives_idle", "5"},
                                                 {"keepalives_interval", "2"},
                                                 {"keepalives_count", "3"},
                                                 {"tcp_user_timeout", "10000"}});
    if (PQstatus(conn_) != CONNECTION_OK) {
      Error e{PQerrorMessage(conn_)};
      PQfinish(conn_);
      conn_ = nullptr;
      return e;
    }
  }
  ++polls_;
  const char* params[] = {xid_array.c_str()};
  PGresult* r = PQexecParams(conn_, kGateQuery, 1, nullptr, params, nullptr, nullptr, 0);
  bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0);
  pgoutput::Lsn replayed = 0;
  if (ok) ok = pgoutput::parse_lsn(PQgetvalue(r, 0, 0), replayed);
  if (!ok) {
    PQclear(r);
    return fail(PQerrorMessage(conn_));
  }
  position_ = std::max(position_, replayed);
  bool shown = replayed >= lsn && std::string_view(PQgetvalue(r, 0, 1)) == "0";
  PQclear(r);
  return shown;
}

bool ReplayGate::refresh_position() {
  // No transactions to look for: on the primary the visibility column is then 0.
  auto answered = poll_once(0, "{}");
  if (!answered) {
    position_ = 0;
    return false;
  }
  return true;
}

ReplayGate::Outcome ReplayGate::wait_for(pgoutput::Lsn lsn, const std::vector<uint32_t>& xids,
                                         const std::function<bool()>& keep_going,
                                         const std::function<void()>& idle) {
  auto start = clock_.now();
  auto xid_array = xid_array_literal(xids);
  auto sleep = std::chrono::microseconds(200);
  auto result = Outcome::kStopped;
  SteadyTime unreachable_since{};  // {}: it answered last time
  for (;;) {
    auto shown = poll_once(lsn, xid_array);
    if (!shown) {
      const auto& error = shown.error().message;
      if (error != last_error_) spdlog::warn("read gate: {}", error);
      last_error_ = error;
      // An SQL error on a live connection is not "unreachable": it keeps holding, and says why.
      bool unreachable = conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK;
      auto now = clock_.now();
      if (!unreachable)
        unreachable_since = {};
      else if (unreachable_since == SteadyTime{})
        unreachable_since = now;
      if (on_primary_ && unreachable && now - unreachable_since >= kPrimaryUnreachable) {
        result = Outcome::kPrimaryUnreachable;
        break;
      }
      sleep = on_primary_ ? std::chrono::microseconds(kPrimaryUnreachable) / 2
                          : std::chrono::microseconds(200000);
    } else {
      last_error_.clear();
      unreachable_since = {};
      if (*shown) {
        result = Outcome::kShown;
        break;
      }
    }
    if (!keep_going()) break;
    idle();
    clock_.sleep_for(sleep);
    sleep = std::min(sleep * 2, std::chrono::microseconds(2000));
  }
  total_wait_ += clock_.now() - start;
  return result;
}

}  // namespace mccache::invalidator::delivery
