// Polls the local replica's replay position over a plain libpq connection.
#include "invalidator/delivery/replay_gate.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "invalidator/pgoutput/stream_frame.h"

namespace mccache::invalidator::delivery {

ReplayGate::~ReplayGate() {
  if (conn_) PQfinish(conn_);
}

bool ReplayGate::poll_once(std::string& error) {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    if (conn_) PQfinish(conn_);
    conn_ = PQconnectdb((dsn_ + " connect_timeout=2 application_name=mcinval_gate").c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      error = PQerrorMessage(conn_);
      PQfinish(conn_);
      conn_ = nullptr;
      return false;
    }
  }
  ++polls_;
  // On a server that is not in recovery (the primary's own region) replay is NULL: every committed
  // transaction is already visible there, so its insert position is the bar.
  PGresult* r = PQexec(conn_,
                       "SELECT COALESCE(pg_last_wal_replay_lsn(), pg_current_wal_insert_lsn())");
  bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
  pgoutput::Lsn lsn = 0;
  if (ok && !PQgetisnull(r, 0, 0)) ok = pgoutput::parse_lsn(PQgetvalue(r, 0, 0), lsn);
  if (!ok) error = PQerrorMessage(conn_);
  PQclear(r);
  if (ok) last_ = std::max(last_, lsn);
  return ok;
}

bool ReplayGate::wait_for(pgoutput::Lsn lsn, const std::function<bool()>& keep_going,
                          const std::function<void()>& idle) {
  if (last_ >= lsn) return true;
  auto start = std::chrono::steady_clock::now();
  auto sleep = std::chrono::microseconds(500);
  bool result = false;
  for (;;) {
    std::string error;
    if (!poll_once(error)) {
      if (error != last_error_) spdlog::warn("replica gate: {}", error);
      last_error_ = error;
      sleep = std::chrono::microseconds(200000);
    } else {
      last_error_.clear();
    }
    if (last_ >= lsn) {
      result = true;
      break;
    }
    if (!keep_going()) break;
    idle();
    std::this_thread::sleep_for(sleep);
    sleep = std::min(sleep * 2, std::chrono::microseconds(2000));
  }
  total_wait_ += std::chrono::steady_clock::now() - start;
  return result;
}

}  // namespace mccache::invalidator::delivery
