// scripts/pgcluster driven from C++, and a minimal libpq client.
#include "tests/invalidator/support/pg_cluster.h"

#include <rapidjson/document.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace mccache::testing {
namespace {

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + cmd);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  if (pclose(p) != 0) throw std::runtime_error(cmd + " failed: " + out);
  return out;
}

}  // namespace

PgCluster::PgCluster(const std::string& source_dir, int replicas)
    : script_(source_dir + "/scripts/pgcluster"), replicas_(replicas) {
  char tmpl[] = "/tmp/mcinval_pg_XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  try {
    auto out = run(script_ + " start " + dir_ + " --replicas " + std::to_string(replicas));
    rapidjson::Document d;
    d.Parse(out.c_str());
    if (d.HasParseError() || !d.IsObject()) throw std::runtime_error("pgcluster printed: " + out);
    primary_ = d["primary"].GetString();
    for (const auto& r : d["replicas"].GetArray()) replica_dsns_.emplace_back(r.GetString());
    if (!replica_dsns_.empty()) replica_ = replica_dsns_[0];
  } catch (...) {
    // No destructor runs for a half-built object: stop whatever servers did start.
    try {
      run(script_ + " stop " + dir_);
    } catch (...) {
    }
    throw;
  }
}

void PgCluster::stop_primary() {
  std::string pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl stop -m fast -D " + dir_ + "/primary";
  run((geteuid() == 0 ? "runuser -u postgres -- " : "") + pg_ctl + " 2>&1");
}

void PgCluster::stop_replica(size_t i) {
  std::string pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl stop -m fast -D " + dir_ + "/replica" +
                       std::to_string(i + 1);
  run((geteuid() == 0 ? "runuser -u postgres -- " : "") + pg_ctl + " 2>&1");
}

void PgCluster::restart() {
  run(script_ + " start " + dir_ + " --replicas " + std::to_string(replicas_));
}

PgCluster::~PgCluster() {
  try {
    run(script_ + " stop " + dir_);
    std::filesystem::remove_all(dir_);
  } catch (...) {
  }
}

Sql::Sql(const std::string& dsn) {
  conn_ = PQconnectdb(dsn.c_str());
  if (PQstatus(conn_) != CONNECTION_OK)
    throw std::runtime_error(std::string("connect: ") + PQerrorMessage(conn_));
}

Sql::~Sql() { PQfinish(conn_); }

std::string Sql::query(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  auto st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    std::string e = PQresultErrorMessage(r);
    PQclear(r);
    throw std::runtime_error(sql + ": " + e);
  }
  std::string out;
  if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) out = PQgetvalue(r, 0, 0);
  PQclear(r);
  return out;
}

}  // namespace mccache::testing
