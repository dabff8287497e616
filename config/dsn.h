// libpq connection strings in logs: never show a password.
#pragma once

#include <string>
#include <string_view>

namespace mccache::config {

// `text` with the value of every password=... keyword (quoted or not) of a key/value DSN and the
// password of every postgres:// or postgresql:// URI replaced by "***". For error messages that
// may quote a DSN.
std::string redact_dsns(std::string_view text);

// True when `dsn` carries its password inline; the config should point libpq at a passfile or
// the environment (PGPASSWORD, PGPASSFILE) instead.
bool has_inline_password(std::string_view dsn);

}  // namespace mccache::config
