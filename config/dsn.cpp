// Password redaction for libpq key/value DSNs and URIs.
#include "config/dsn.h"

#include <cctype>

namespace mccache::config {
namespace {

constexpr std::string_view kMask = "***";

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// At `i`, "password" as a whole keyword followed by optional spaces and '='? Returns the index
// just past the '=' (and the spaces after it), or npos.
size_t password_value_start(std::string_view s, size_t i) {
  constexpr std::string_view kKey = "password";
  if (s.substr(i, kKey.size()) != kKey) return std::string_view::npos;
  if (i > 0 && word_char(s[i - 1])) return std::string_view::npos;
  size_t j = i + kKey.size();
  while (j < s.size() && s[j] == ' ') ++j;
  if (j >= s.size() || s[j] != '=') return std::string_view::npos;
  ++j;
  while (j < s.size() && s[j] == ' ') ++j;
  return j;
}

// The end of a key/value DSN value starting at `j`: a quoted value honours \' and \\.
size_t value_end(std::string_view s, size_t j) {
  if (j < s.size() && s[j] == '\'') {
    for (size_t k = j + 1; k < s.size(); ++k) {
      if (s[k] == '\\') {
        ++k;
      } else if (s[k] == '\'') {
        return k + 1;
      }
    }
    return s.size();
  }
  while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])) && s[j] != '"') ++j;
  return j;
}

// At `i`, "postgres://" or "postgresql://"? Returns the index past "://", or npos.
size_t uri_authority_start(std::string_view s, size_t i) {
  for (std::string_view scheme : {"postgresql://", "postgres://"})
    if (s.substr(i, scheme.size()) == scheme) return i + scheme.size();
  return std::string_view::npos;
}

}  // namespace

std::string redact_dsns(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (size_t j = password_value_start(s, i); j != std::string_view::npos) {
      out.append(s.substr(i, j - i)).append(kMask);
      i = value_end(s, j);
      continue;
    }
    if (size_t a = uri_authority_start(s, i); a != std::string_view::npos) {
      // user:password@host — the password runs from the first ':' to the last '@' before '/'.
      size_t end = a;
      while (end < s.size() && s[end] != '/' && s[end] != '?' &&
             !std::isspace(static_cast<unsigned char>(s[end])))
        ++end;
      auto authority = s.substr(a, end - a);
      size_t at = authority.rfind('@');
      size_t colon = authority.find(':');
      out.append(s.substr(i, a - i));
      if (at != std::string_view::npos && colon != std::string_view::npos && colon < at) {
        out.append(authority.substr(0, colon + 1)).append(kMask).append(authority.substr(at));
      } else {
        out.append(authority);
      }
      i = end;
      continue;
    }
    out.push_back(s[i++]);
  }
  return out;
}

bool has_inline_password(std::string_view dsn) { return redact_dsns(dsn) != dsn; }

}  // namespace mccache::config
