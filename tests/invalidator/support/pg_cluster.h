// A PostgreSQL primary + streaming replica for integration tests, started by scripts/pgcluster in
// a temporary directory and stopped by it (pg_ctl stop by data dir), plus a tiny SQL client.
#pragma once

#include <libpq-fe.h>

#include <string>
#include <vector>

namespace mccache::testing {

class PgCluster {
 public:
  // Runs `scripts/pgcluster start DIR --replicas N`; throws on failure.
  PgCluster(const std::string& source_dir, int replicas);
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  const std::string& primary() const { return primary_; }
  const std::string& replica() const { return replica_; }
  // Every replica's DSN, in the order scripts/pgcluster started them (replica1, replica2, ...).
  const std::vector<std::string>& replicas() const { return replica_dsns_; }
  const std::string& dir() const { return dir_; }
  // Stops the primary (pg_ctl stop -m fast) / starts the whole cluster again on the same ports.
  void stop_primary();
  // Stops replica `i` (0-based: replicas()[i]) with pg_ctl stop -m fast.
  void stop_replica(size_t i);
  void restart();

 private:
  std::string script_;
  std::string dir_;
  int replicas_ = 0;
  std::string primary_;
  std::string replica_;
  std::vector<std::string> replica_dsns_;
};

// One libpq connection; query() returns the first column of the first row ("" for none/NULL) and
// throws on error.
class Sql {
 public:
  explicit Sql(const std::string& dsn);
  ~Sql();
  Sql(const Sql&) = delete;
  Sql& operator=(const Sql&) = delete;
  std::string query(const std::string& sql);

 private:
  PGconn* conn_ = nullptr;
};

}  // namespace mccache::testing
