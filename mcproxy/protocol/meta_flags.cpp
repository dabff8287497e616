// Meta flag acceptance; error texts are memcached 1.6.18's for the same refusal.
#include "mcproxy/protocol/meta_flags.h"

namespace mccache::protocol {
namespace {

// mg/ms say "duplicate flag" and "invalid flag"; md/ma say one thing for both.
std::string_view duplicate_error(Command c) {
  return c == Command::kMetaDelete || c == Command::kMetaArithmetic
             ? "CLIENT_ERROR invalid or duplicate flag\r\n"
             : "CLIENT_ERROR duplicate flag\r\n";
}
std::string_view invalid_error(Command c) {
  return c == Command::kMetaDelete || c == Command::kMetaArithmetic
             ? "CLIENT_ERROR invalid or duplicate flag\r\n"
             : "CLIENT_ERROR invalid flag\r\n";
}

bool is_control(unsigned char b) { return b < 0x21 || b >= 0x7f; }

}  // namespace

std::string_view accepted_meta_flags(Command c) {
  switch (c) {
    case Command::kMetaGet:
      return "bcfhklOqstuvNRT";
    case Command::kMetaSet:
      return "bcCFIkOqTM";
    case Command::kMetaDelete:
      return "bCIkOqT";
    case Command::kMetaArithmetic:
      return "bCNJDTMqtcvOk";
    case Command::kMetaDebug:
      return "b";
    default:
      return "";
  }
}

MetaFlagCheck check_meta_flag(Command c, std::string_view token, bool (&seen)[128]) {
  MetaFlagCheck r;
  auto first = static_cast<unsigned char>(token[0]);
  // memcached: a first byte >= 127 is "duplicate flag" (its table has 127 entries).
  if (first >= 127) {
    r.error = duplicate_error(c);
    return r;
  }
  if (seen[first]) {
    r.error = duplicate_error(c);
    return r;
  }
  seen[first] = true;
  for (char ch : token) {
    if (is_control(static_cast<unsigned char>(ch))) {
      r.error = invalid_error(c);
      return r;
    }
  }
  if (accepted_meta_flags(c).find(static_cast<char>(first)) == std::string_view::npos) {
    r.error = invalid_error(c);
    return r;
  }
  r.quiet = first == 'q';
  return r;
}

}  // namespace mccache::protocol
