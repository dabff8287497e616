// Small ASCII number writers shared by the command and reply builders (append, never allocate
// beyond the caller's buffer growth).
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace mccache::lease::detail {

inline void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

inline void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// Parses all of `s` as an unsigned decimal; false on empty, junk or overflow.
inline bool parse_uint(std::string_view s, uint64_t& v) {
  if (s.empty()) return false;
  auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

inline bool parse_int(std::string_view s, int64_t& v) {
  if (s.empty()) return false;
  auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

}  // namespace mccache::lease::detail
