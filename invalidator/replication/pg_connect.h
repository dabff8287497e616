// Every connection the invalidator opens to PostgreSQL: the configured DSN, key=value or a
// postgres:// / postgresql:// URI, with options of our own on top. libpq expands the DSN given as
// dbname and applies the keywords after it over it, so no text is ever appended to a DSN (which
// broke URIs).
#pragma once

#include <libpq-fe.h>

#include <initializer_list>
#include <string>
#include <utility>

namespace mccache::invalidator::replication {

using ConnectOption = std::pair<const char*, const char*>;

// Blocking PQconnectdbParams; the caller checks PQstatus and PQfinish-es the connection.
PGconn* connect_postgres(const std::string& dsn, std::initializer_list<ConnectOption> options);

}  // namespace mccache::invalidator::replication
