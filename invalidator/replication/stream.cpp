// libpq replication connection: IDENTIFY_SYSTEM, START_REPLICATION, CopyBoth I/O.
#include "invalidator/replication/stream.h"

#include <poll.h>

#include <cstdlib>

#include "invalidator/pgoutput/stream_frame.h"
#include "invalidator/replication/pg_connect.h"

namespace mccache::invalidator::replication {
namespace {

std::string quoted_identifier(PGconn* conn, const std::string& s) {
  char* q = PQescapeIdentifier(conn, s.data(), s.size());
  std::string out = q ? q : s;
  if (q) PQfreemem(q);
  return out;
}

}  // namespace

void ReplicationStream::close() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

// Reads the slot's row in pg_replication_slots: missing, lost, or who streams from it.
invalidator::Result<ReplicationStream::Started> ReplicationStream::slot_state() {
  std::string slot_literal;
  {
    char* lit = PQescapeLiteral(conn_, options_.slot.data(), options_.slot.size());
    slot_literal = lit ? lit : "''";
    if (lit) PQfreemem(lit);
  }
  PGresult* r = PQexec(conn_, ("SELECT COALESCE(active_pid, 0), COALESCE(wal_status, ''),"
                               " COALESCE(confirmed_flush_lsn, '0/0')::text"
                               " FROM pg_replication_slots WHERE slot_name = " +
                               slot_literal)
                                  .c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    PQclear(r);
    return fail(std::string("reading pg_replication_slots: ") + PQerrorMessage(conn_));
  }
  Started st;
  auto slot = "replication slot \"" + options_.slot + "\"";
  if (PQntuples(r) == 0) {
    st = {Start::kSlotMissing, 0, 0, slot + " does not exist"};
  } else if (std::string_view(PQgetvalue(r, 0, 1)) == "lost") {
    st = {Start::kSlotLost, 0, 0, slot + " was invalidated (wal_status 'lost')"};
  } else if (int pid = std::atoi(PQgetvalue(r, 0, 0)); pid != 0) {
    st = {Start::kSlotActive, pid, 0, slot + " is active for PID " + std::to_string(pid)};
  }
  if (PQntuples(r) == 1) pgoutput::parse_lsn(PQgetvalue(r, 0, 2), st.confirmed_flush);
  PQclear(r);
  return st;
}

invalidator::Result<ReplicationStream::Started> ReplicationStream::start() {
  close();
  auto give_up = [this](std::string why) {
    close();
    return fail(std::move(why));
  };
  std::string application = "mcinval_" + options_.slot;
  conn_ = connect_postgres(options_.dsn, {{"replication", "database"},
                                          {"connect_timeout", "5"},
                                          {"application_name", application.c_str()}});
  if (PQstatus(conn_) != CONNECTION_OK) return give_up(PQerrorMessage(conn_));
  auto found = slot_state();
  if (!found || found->state != Start::kStreaming) {
    close();
    return found;
  }
  PGresult* r = PQexec(conn_, "IDENTIFY_SYSTEM");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    PQclear(r);
    return give_up(std::string("IDENTIFY_SYSTEM: ") + PQerrorMessage(conn_));
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
    std::string error = std::string("START_REPLICATION: ") + PQerrorMessage(conn_);
    PQclear(r);
    // Lost a race with another consumer, or the slot went away in between: say which.
    auto now = slot_state();
    close();
    if (now && now->state != Start::kStreaming) return now;
    return fail(error);
  }
  PQclear(r);
  PQsetnonblocking(conn_, 1);
  return *found;
}

invalidator::Result<bool> ReplicationStream::read(CopyBuffer& out) {
  char* buf = nullptr;
  int n = PQgetCopyData(conn_, &buf, 1);
  if (n == 0) {
    if (PQconsumeInput(conn_) == 0) return fail(PQerrorMessage(conn_));
    n = PQgetCopyData(conn_, &buf, 1);
    if (n == 0) return false;
  }
  if (n > 0) {
    out.reset(buf, n);
    return true;
  }
  if (n == -1) {
    PGresult* r = PQgetResult(conn_);
    Error e{std::string("replication stream ended: ") +
            (r ? PQresultErrorMessage(r) : PQerrorMessage(conn_))};
    if (r) PQclear(r);
    return e;
  }
  return fail(PQerrorMessage(conn_));
}

bool ReplicationStream::wait_readable_us(int64_t timeout_us) {
  pollfd p{PQsocket(conn_), POLLIN, 0};
  timespec ts{static_cast<time_t>(timeout_us / 1000000),
              static_cast<long>(timeout_us % 1000000) * 1000};
  return ::ppoll(&p, 1, &ts, nullptr) > 0;
}

Status ReplicationStream::send_status(pgoutput::Lsn flush, pgoutput::PgTimestamp now) {
  auto msg = pgoutput::encode_standby_status(flush, flush, flush, now, false);
  if (PQputCopyData(conn_, msg.data(), static_cast<int>(msg.size())) != 1 || PQflush(conn_) < 0)
    return fail(PQerrorMessage(conn_));
  return Ok{};
}

}  // namespace mccache::invalidator::replication
