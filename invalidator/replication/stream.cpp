// libpq replication connection: IDENTIFY_SYSTEM, START_REPLICATION, CopyBoth I/O.
#include "invalidator/replication/stream.h"

#include <poll.h>

#include <chrono>
#include <cstdlib>

#include "invalidator/pgoutput/stream_frame.h"

namespace mccache::invalidator::replication {
namespace {

std::string quoted_identifier(PGconn* conn, const std::string& s) {
  char* q = PQescapeIdentifier(conn, s.data(), s.size());
  std::string out = q ? q : s;
  if (q) PQfreemem(q);
  return out;
}

int64_t now_pg() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return pgoutput::pg_timestamp_from_unix_micros(us);
}

}  // namespace

void ReplicationStream::close() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

// Reads the slot's row in pg_replication_slots: missing, lost, or who streams from it.
ReplicationStream::Start ReplicationStream::slot_state(int& active_pid, std::string& error) {
  std::string slot_literal;
  {
    char* lit = PQescapeLiteral(conn_, options_.slot.data(), options_.slot.size());
    slot_literal = lit ? lit : "''";
    if (lit) PQfreemem(lit);
  }
  PGresult* r = PQexec(conn_, ("SELECT COALESCE(active_pid, 0), COALESCE(wal_status, '')"
                               " FROM pg_replication_slots WHERE slot_name = " + slot_literal)
                                  .c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    error = std::string("reading pg_replication_slots: ") + PQerrorMessage(conn_);
    PQclear(r);
    return Start::kFailed;
  }
  Start st = Start::kStreaming;
  if (PQntuples(r) == 0) {
    st = Start::kSlotMissing;
  } else if (std::string_view(PQgetvalue(r, 0, 1)) == "lost") {
    st = Start::kSlotLost;
  } else {
    active_pid = std::atoi(PQgetvalue(r, 0, 0));
    if (active_pid != 0) st = Start::kSlotActive;
  }
  PQclear(r);
  return st;
}

ReplicationStream::Start ReplicationStream::start(std::string& error, int& active_pid) {
  close();
  active_pid = 0;
  std::string dsn = options_.dsn +
                    " replication=database connect_timeout=5 application_name=mcinval_" +
                    options_.slot;
  conn_ = PQconnectdb(dsn.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    error = PQerrorMessage(conn_);
    close();
    return Start::kFailed;
  }
  if (auto st = slot_state(active_pid, error); st != Start::kStreaming) {
    if (st == Start::kSlotMissing) error = "replication slot \"" + options_.slot + "\" does not exist";
    if (st == Start::kSlotLost)
      error = "replication slot \"" + options_.slot + "\" was invalidated (wal_status 'lost')";
    if (st == Start::kSlotActive)
      error = "replication slot \"" + options_.slot + "\" is active for PID " +
              std::to_string(active_pid);
    close();
    return st;
  }
  PGresult* r = PQexec(conn_, "IDENTIFY_SYSTEM");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    error = std::string("IDENTIFY_SYSTEM: ") + PQerrorMessage(conn_);
    PQclear(r);
    close();
    return Start::kFailed;
  }
  PQclear(r);
  // From 0/0: the walsender starts at the slot's confirmed_flush_lsn, i.e. just after the last
  // transaction whose every key we acknowledged. publication_names is a quoted identifier list.
  std::string pub_literal;
  {
    std::string ident = quoted_identifier(conn_, options_.publication);
    char* lit = PQescapeLiteral(conn_, ident.data(), ident.size());
    pub_literal = lit ? lit : "''";
    if (lit) PQfreemem(lit);
  }
  std::string cmd = "START_REPLICATION SLOT " + quoted_identifier(conn_, options_.slot) +
                    " LOGICAL 0/0 (proto_version '1', publication_names " + pub_literal +
                    ", messages 'true')";
  r = PQexec(conn_, cmd.c_str());
  if (PQresultStatus(r) != PGRES_COPY_BOTH) {
    error = std::string("START_REPLICATION: ") + PQerrorMessage(conn_);
    PQclear(r);
    // Lost a race with another consumer, or the slot went away in between: say which.
    std::string ignored;
    auto st = slot_state(active_pid, ignored);
    close();
    return st == Start::kStreaming ? Start::kFailed : st;
  }
  PQclear(r);
  PQsetnonblocking(conn_, 1);
  return Start::kStreaming;
}

ReplicationStream::Read ReplicationStream::read(CopyBuffer& out, std::string& error) {
  char* buf = nullptr;
  int n = PQgetCopyData(conn_, &buf, 1);
  if (n == 0) {
    if (PQconsumeInput(conn_) == 0) {
      error = PQerrorMessage(conn_);
      return Read::kError;
    }
    n = PQgetCopyData(conn_, &buf, 1);
    if (n == 0) return Read::kNone;
  }
  if (n > 0) {
    out.reset(buf, n);
    return Read::kMessage;
  }
  if (n == -1) {
    PGresult* r = PQgetResult(conn_);
    error = std::string("replication stream ended: ") +
            (r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
    if (r) PQclear(r);
    return Read::kError;
  }
  error = PQerrorMessage(conn_);
  return Read::kError;
}

bool ReplicationStream::wait_readable_us(int64_t timeout_us) {
  pollfd p{PQsocket(conn_), POLLIN, 0};
  timespec ts{static_cast<time_t>(timeout_us / 1000000), static_cast<long>(timeout_us % 1000000) * 1000};
  return ::ppoll(&p, 1, &ts, nullptr) > 0;
}

bool ReplicationStream::send_status(pgoutput::Lsn flush, std::string& error) {
  auto msg = pgoutput::encode_standby_status(flush, flush, flush, now_pg(), false);
  if (PQputCopyData(conn_, msg.data(), static_cast<int>(msg.size())) != 1 || PQflush(conn_) < 0) {
    error = PQerrorMessage(conn_);
    return false;
  }
  return true;
}

}  // namespace mccache::invalidator::replication
