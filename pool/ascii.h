// Decimal numbers on the wire, written and read without allocating (the command builders, the
// reply parser and the client protocol all use these).
#pragma once

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>

namespace mccache::pool {

template <std::integral T>
void append_number(std::string& out, T v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// Parses all of `s` as a decimal of type T; false on empty, junk, a sign on an unsigned type, or
// overflow.
template <std::integral T>
bool parse_number(std::string_view s, T& v) {
  if (s.empty()) return false;
  auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

}  // namespace mccache::pool
