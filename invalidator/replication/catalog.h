// Start-up work on a plain SQL connection to the primary: the replica identity of each configured
// table, and the publication and slot (created when missing and allowed). Throws std::runtime_error
// with a message naming the fix; the daemon prints it and exits 1.
#pragma once

#include <libpq-fe.h>

#include <string>
#include <vector>

#include "invalidator/keys/key_template.h"

namespace mccache::invalidator::replication {

class Catalog {
 public:
  explicit Catalog(const std::string& dsn);
  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  keys::TableIdentity table_identity(const std::string& schema_table);
  // CREATE PUBLICATION ... FOR TABLE ..., or ALTER ... ADD TABLE for tables it lacks.
  void ensure_publication(const std::string& name, const std::vector<std::string>& tables,
                          bool create);
  void ensure_slot(const std::string& slot, bool create);

 private:
  PGresult* exec(const std::string& sql, const std::vector<std::string>& params = {});
  PGconn* conn_ = nullptr;
};

}  // namespace mccache::invalidator::replication
