// Catalog queries and idempotent creation of the publication and slot.
#include "invalidator/replication/catalog.h"

#include "invalidator/pgoutput/stream_frame.h"
#include "invalidator/replication/pg_connect.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <stdexcept>

namespace mccache::invalidator::replication {
namespace {

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

std::string qualified(PGconn* conn, const std::string& schema_table) {
  auto dot = schema_table.find('.');
  auto quote = [&](const std::string& s) {
    char* q = PQescapeIdentifier(conn, s.data(), s.size());
    std::string out = q ? q : s;
    if (q) PQfreemem(q);
    return out;
  };
  return quote(schema_table.substr(0, dot)) + "." + quote(schema_table.substr(dot + 1));
}

}  // namespace

Catalog::Catalog(const std::string& dsn) {
  conn_ = connect_postgres(dsn, {{"connect_timeout", "5"}, {"application_name", "mcinval_setup"}});
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string e = PQerrorMessage(conn_);
    PQfinish(conn_);
    conn_ = nullptr;
    throw ConnectError("cannot connect to the source database: " + e);
  }
}

Catalog::~Catalog() {
  if (conn_) PQfinish(conn_);
}

PGresult* Catalog::exec(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0);
  auto st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    std::string e = PQresultErrorMessage(r);
    PQclear(r);
    throw std::runtime_error(e);
  }
  return r;
}

keys::TableIdentity Catalog::table_identity(const std::string& schema_table) {
  keys::TableIdentity id;
  auto dot = schema_table.find('.');
  std::string schema = schema_table.substr(0, dot), table = schema_table.substr(dot + 1);
  // DEFAULT uses the primary key, INDEX the index marked indisreplident; FULL logs every column
  // and NOTHING none (PostgreSQL docs, ALTER TABLE ... REPLICA IDENTITY).
  Result r(exec(
      "SELECT c.relreplident::text, a.attname::text,"
      "  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND a.attnum = ANY(i.indkey)"
      "          AND ((c.relreplident = 'd' AND i.indisprimary) OR"
      "               (c.relreplident = 'i' AND i.indisreplident)))"
      " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
      " WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')"
      " ORDER BY a.attnum",
      {schema, table}));
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    id.exists = true;
    id.replica_identity = PQgetvalue(r.get(), i, 0)[0];
    id.columns.emplace_back(PQgetvalue(r.get(), i, 1));
    if (PQgetvalue(r.get(), i, 2)[0] == 't') id.identity_columns.emplace_back(PQgetvalue(r.get(), i, 1));
  }
  return id;
}

void Catalog::ensure_publication(const std::string& name, const std::vector<std::string>& tables,
                                 bool create) {
  Result r(exec("SELECT puballtables FROM pg_publication WHERE pubname = $1", {name}));
  std::string list;
  if (PQntuples(r.get()) == 0) {
    if (!create)
      throw std::runtime_error("publication \"" + name +
                               "\" does not exist and source.create_publication is false; "
                               "create it FOR TABLE the configured tables or allow creation");
    for (const auto& t : tables) list += (list.empty() ? "" : ", ") + qualified(conn_, t);
    char* q = PQescapeIdentifier(conn_, name.data(), name.size());
    std::string sql = "CREATE PUBLICATION " + std::string(q) + " FOR TABLE " + list;
    PQfreemem(q);
    Result c(exec(sql));
    spdlog::info("created publication {} for {}", name, list);
    return;
  }
  if (PQgetvalue(r.get(), 0, 0)[0] == 't') return;
  for (const auto& t : tables) {
    auto dot = t.find('.');
    Result has(exec("SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2"
                    " AND tablename = $3",
                    {name, t.substr(0, dot), t.substr(dot + 1)}));
    if (PQntuples(has.get()) > 0) continue;
    if (!create)
      throw std::runtime_error("publication \"" + name + "\" lacks table " + t +
                               "; ALTER PUBLICATION " + name + " ADD TABLE " + t +
                               " or allow source.create_publication");
    char* q = PQescapeIdentifier(conn_, name.data(), name.size());
    std::string sql = "ALTER PUBLICATION " + std::string(q) + " ADD TABLE " + qualified(conn_, t);
    PQfreemem(q);
    Result a(exec(sql));
    spdlog::info("added {} to publication {}", t, name);
  }
}

void Catalog::ensure_slot(const std::string& slot, bool create) {
  Result r(exec("SELECT plugin::text, slot_type::text, database::text = current_database()"
                " FROM pg_replication_slots WHERE slot_name = $1",
                {slot}));
  if (PQntuples(r.get()) > 0) {
    if (std::string(PQgetvalue(r.get(), 0, 0)) != "pgoutput" ||
        PQgetvalue(r.get(), 0, 2)[0] != 't')
      throw std::runtime_error("replication slot \"" + slot +
                               "\" exists but is not a pgoutput logical slot of this database; "
                               "drop it or configure another source.slot");
    return;
  }
  if (!create)
    throw std::runtime_error("replication slot \"" + slot +
                             "\" does not exist and source.create_slot is false; create it with "
                             "pg_create_logical_replication_slot('" + slot +
                             "', 'pgoutput') or allow creation");
  Result c(exec("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", {slot}));
  spdlog::info("created logical replication slot {} (pgoutput)", slot);
}

Catalog::SlotStatus Catalog::slot_status(const std::string& slot) {
  Result r(exec("SELECT COALESCE(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1",
                {slot}));
  SlotStatus st;
  st.exists = PQntuples(r.get()) > 0;
  st.lost = st.exists && std::string(PQgetvalue(r.get(), 0, 0)) == "lost";
  return st;
}

std::string Catalog::system_identifier() {
  Result r(exec("SELECT system_identifier::text FROM pg_control_system()"));
  return PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
}

pgoutput::Lsn Catalog::replace_lost_slot(const std::string& slot) {
  Result d(exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                " WHERE slot_name = $1 AND wal_status = 'lost'",
                {slot}));
  if (!slot_status(slot).exists) {
    Result c(exec("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", {slot}));
    spdlog::warn("created a new logical replication slot {} at {}", slot, PQgetvalue(c.get(), 0, 0));
  }
  Result r(exec("SELECT pg_current_wal_insert_lsn()::text"));
  pgoutput::Lsn lsn = 0;
  pgoutput::parse_lsn(PQgetvalue(r.get(), 0, 0), lsn);
  return lsn;
}

}  // namespace mccache::invalidator::replication
