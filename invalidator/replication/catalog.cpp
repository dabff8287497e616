// Catalog queries and idempotent creation of the publication and slot.
#include "invalidator/replication/catalog.h"

#include "invalidator/pgoutput/stream_frame.h"
#include "invalidator/replication/pg_connect.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <stdexcept>

namespace mccache::invalidator::replication {
namespace {

std::string identifier(PGconn* conn, const std::string& s) {
  char* q = PQescapeIdentifier(conn, s.data(), s.size());
  std::string out = q ? q : s;
  if (q) PQfreemem(q);
  return out;
}

// The identity columns of the relation `c` (DEFAULT: the primary key; INDEX: the index marked
// indisreplident; FULL and NOTHING: none), as an EXISTS over attribute `a`.
constexpr const char* kIdentityColumn =
    "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND a.attnum = ANY(i.indkey)"
    "        AND ((c.relreplident = 'd' AND i.indisprimary) OR"
    "             (c.relreplident = 'i' AND i.indisreplident)))";

}  // namespace

std::string self_and_ancestors_sql(const std::string& oid) {
  return "(SELECT (" + oid + ")::oid AS relid UNION SELECT relid::oid"
         " FROM pg_partition_ancestors((" + oid + ")::regclass))";
}

std::string publication_streams_sql(const std::string& oid, const std::string& publication) {
  const std::string lineage = self_and_ancestors_sql(oid);
  return "EXISTS (SELECT 1 FROM pg_publication p WHERE p.pubname = " + publication +
         " AND (p.puballtables"
         " OR EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN " + lineage +
         " a ON a.relid = pr.prrelid WHERE pr.prpubid = p.oid)"
         " OR EXISTS (SELECT 1 FROM pg_publication_namespace pn"
         "   JOIN pg_class ac ON ac.relnamespace = pn.pnnspid JOIN " + lineage +
         " a ON a.relid = ac.oid WHERE pn.pnpubid = p.oid)))";
}

std::string Catalog::quoted(const std::string& schema_table) {
  auto dot = schema_table.find('.');
  return identifier(conn_, schema_table.substr(0, dot)) + "." +
         identifier(conn_, schema_table.substr(dot + 1));
}

Result Catalog::query(const std::string& sql, const std::vector<std::string>& params) {
  return Result(exec(sql, params));
}

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
  Result r(exec(std::string("SELECT c.relreplident::text, a.attname::text, ") + kIdentityColumn +
                    ", c.relkind::text, c.oid::text"
                    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
                    "   AND NOT a.attisdropped"
                    " WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')"
                    " ORDER BY a.attnum",
                {schema, table}));
  std::string oid;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    id.exists = true;
    id.replica_identity = PQgetvalue(r.get(), i, 0)[0];
    id.columns.emplace_back(PQgetvalue(r.get(), i, 1));
    if (PQgetvalue(r.get(), i, 2)[0] == 't') id.identity_columns.emplace_back(PQgetvalue(r.get(), i, 1));
    id.partitioned = PQgetvalue(r.get(), i, 3)[0] == 'p';
    oid = PQgetvalue(r.get(), i, 4);
    id.oid = static_cast<uint32_t>(std::stoul(oid));
  }
  if (!id.partitioned) return id;
  // Each leaf partition logs its rows with its own replica identity.
  Result leaves(exec(std::string("SELECT n.nspname || '.' || c.relname, c.relreplident::text,"
                                 " COALESCE(a.attname::text, '')"
                                 " FROM pg_partition_tree($1::oid::regclass) t"
                                 " JOIN pg_class c ON c.oid = t.relid"
                                 " JOIN pg_namespace n ON n.oid = c.relnamespace"
                                 " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
                                 "   AND NOT a.attisdropped AND ") +
                         kIdentityColumn + " WHERE t.isleaf ORDER BY 1",
                     {oid}));
  for (int i = 0; i < PQntuples(leaves.get()); ++i) {
    std::string name = PQgetvalue(leaves.get(), i, 0);
    if (id.partitions.empty() || id.partitions.back().name != name)
      id.partitions.push_back({name, PQgetvalue(leaves.get(), i, 1)[0], {}});
    std::string column = PQgetvalue(leaves.get(), i, 2);
    if (!column.empty()) id.partitions.back().identity_columns.push_back(column);
  }
  return id;
}

void Catalog::add_to_publication(const std::string& publication, const std::string& schema_table) {
  Result a(exec("ALTER PUBLICATION " + identifier(conn_, publication) + " ADD TABLE " +
                quoted(schema_table)));
  spdlog::info("added {} to publication {}", schema_table, publication);
}

void Catalog::ensure_publication(const std::string& name, const std::vector<std::string>& tables,
                                 bool create) {
  Result r(exec("SELECT pubviaroot FROM pg_publication WHERE pubname = $1", {name}));
  if (PQntuples(r.get()) == 0) {
    if (!create)
      throw std::runtime_error("publication \"" + name +
                               "\" does not exist and source.create_publication is false; "
                               "create it FOR TABLE the configured tables or allow creation");
    std::string list;
    for (const auto& t : tables) list += (list.empty() ? "" : ", ") + quoted(t);
    Result c(exec("CREATE PUBLICATION " + identifier(conn_, name) + " FOR TABLE " + list +
                  " WITH (publish_via_partition_root = false)"));
    spdlog::info("created publication {} for {}", name, list);
    return;
  }
  if (PQgetvalue(r.get(), 0, 0)[0] == 't') {
    std::string partitioned;
    for (const auto& t : tables)
      if (table_identity(t).partitioned) partitioned = t;
    if (!partitioned.empty()) {
      const std::string option = " SET (publish_via_partition_root = false)";
      if (!create)
        throw std::runtime_error(
            "publication \"" + name + "\" publishes partitions as their root "
            "(publish_via_partition_root), so PostgreSQL streams no TRUNCATE of a single "
            "partition of " + partitioned + " and hides each partition's replica identity; run "
            "ALTER PUBLICATION " + name + option + " or allow source.create_publication");
      Result a(exec("ALTER PUBLICATION " + identifier(conn_, name) + option));
      spdlog::info("publication {}: publish_via_partition_root set to false (partitions of {} "
                   "are streamed as themselves)", name, partitioned);
    }
  }
  for (const auto& t : tables) {
    auto dot = t.find('.');
    Result has(exec("SELECT " + publication_streams_sql("c.oid", "$1") +
                        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = $2 AND c.relname = $3",
                    {name, t.substr(0, dot), t.substr(dot + 1)}));
    if (PQntuples(has.get()) > 0 && PQgetvalue(has.get(), 0, 0)[0] == 't') continue;
    if (!create)
      throw std::runtime_error("publication \"" + name + "\" lacks table " + t +
                               "; ALTER PUBLICATION " + name + " ADD TABLE " + t +
                               " or allow source.create_publication");
    add_to_publication(name, t);
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
