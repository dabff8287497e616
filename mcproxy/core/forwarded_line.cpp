// Backend requests rebuilt from the parsed request, token by token, joined by single spaces.
#include "mcproxy/core/forwarded_line.h"

#include <algorithm>
#include <string_view>

#include "pool/ascii.h"

namespace mccache::core {
namespace {

using pool::append_number;
using protocol::Command;

// Appends tokens separated by one space, then "\r\n".
class LineBuilder {
 public:
  explicit LineBuilder(std::string& out) : out_(out) {}
  std::string& next() {
    if (!first_) out_.push_back(' ');
    first_ = false;
    return out_;
  }
  void token(std::string_view t) { next().append(t); }
  template <typename T>
  void number(T n) {
    append_number(next(), n);
  }
  void end() { out_.append("\r\n"); }

 private:
  std::string& out_;
  bool first_ = true;
};

int64_t capped(int64_t exptime, const std::optional<GutterCap>& cap) {
  return cap ? gutter_exptime(exptime, cap->ttl_s, cap->now_unix) : exptime;
}

void append_meta(LineBuilder& b, const protocol::Request& r, const std::optional<GutterCap>& cap) {
  if (r.command == Command::kMetaSet) b.number(r.data.size());
  bool has_ttl = false;
  for (std::string_view flag : r.meta_flags) {
    // A T or N value that is not a number passes unchanged: memcached answers the client's error.
    int64_t n = 0;
    if (cap && (flag[0] == 'T' || flag[0] == 'N') && pool::parse_number(flag.substr(1), n)) {
      has_ttl = has_ttl || flag[0] == 'T';
      append_number(b.next().append(1, flag[0]), gutter_exptime(n, cap->ttl_s, cap->now_unix));
    } else {
      b.token(flag);
    }
  }
  if (cap && r.command == Command::kMetaSet && !has_ttl)
    append_number(b.next().append("T"), cap->ttl_s);
}

}  // namespace

int64_t gutter_exptime(int64_t exptime, uint32_t ttl_s, int64_t now_unix) {
  const int64_t cap = ttl_s;
  if (exptime < 0) return exptime;
  if (exptime == 0) return cap;
  if (exptime <= kMaxRelativeExptime) return std::min(exptime, cap);
  int64_t left = exptime - now_unix;
  if (left <= 0) return exptime;  // absolute and already past: memcached expires it at once
  return std::min(left, cap);
}

void append_forwarded_request(std::string& out, const protocol::Request& r,
                              std::optional<GutterCap> cap) {
  LineBuilder b(out);
  b.token(protocol::command_name(r.command));
  switch (r.command) {
    case Command::kFlushAll:
      if (r.exptime != 0) b.number(r.exptime);
      break;
    case Command::kVerbosity:
      b.number(r.verbosity);
      break;
    case Command::kIncr:
    case Command::kDecr:
      b.token(r.key());
      b.number(r.delta);
      break;
    case Command::kTouch:
      b.token(r.key());
      b.number(capped(r.exptime, cap));
      break;
    default:
      b.token(r.key());
      if (protocol::is_meta(r.command)) {
        append_meta(b, r, cap);
      } else {  // storage: <key> <flags> <exptime> <bytes> [<cas unique>]
        b.number(r.flags);
        b.number(capped(r.exptime, cap));
        b.number(r.data.size());
        if (r.command == Command::kCas) b.number(r.cas_unique);
      }
      break;
  }
  b.end();
  if (protocol::has_data_block(r.command)) out.append(r.data).append("\r\n");
}

}  // namespace mccache::core
