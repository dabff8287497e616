// PQconnectdbParams with the DSN expanded first and our options after it.
#include "invalidator/replication/pg_connect.h"

#include <vector>

namespace mccache::invalidator::replication {

PGconn* connect_postgres(const std::string& dsn, std::initializer_list<ConnectOption> options) {
  std::vector<const char*> keywords{"dbname"};
  std::vector<const char*> values{dsn.c_str()};
  for (const auto& [k, v] : options) {
    keywords.push_back(k);
    values.push_back(v);
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  // expand_dbname 1: the first dbname is a connection string or URI; later keywords override it.
  return PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1);
}

}  // namespace mccache::invalidator::replication
