// Command lines rebuilt token by token (pool/tokens.h), joined by single spaces.
#include "mcproxy/core/forwarded_line.h"

#include <algorithm>

#include "pool/ascii.h"
#include "pool/tokens.h"

namespace mccache::core {
namespace {

using pool::append_number;

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
  void end() { out_.append("\r\n"); }

 private:
  std::string& out_;
  bool first_ = true;
};

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

void append_line_without(std::string& out, std::string_view line, std::string_view dropped) {
  LineBuilder b(out);
  pool::for_each_token(line, [&](size_t i, std::string_view tok) {
    if (i < 2 || tok != dropped) b.token(tok);
  });
  b.end();
}

void append_text_for_gutter(std::string& out, std::string_view line, size_t exptime_index,
                            bool drop_noreply, uint32_t ttl_s, int64_t now_unix) {
  LineBuilder b(out);
  pool::for_each_token(line, [&](size_t i, std::string_view tok) {
    if (i >= 2 && drop_noreply && tok == "noreply") return;
    // A token that is not a number passes unchanged: memcached answers the client's error itself.
    int64_t n = 0;
    if (i == exptime_index && pool::parse_number(tok, n)) {
      append_number(b.next(), gutter_exptime(n, ttl_s, now_unix));
    } else {
      b.token(tok);
    }
  });
  b.end();
}

void append_meta_for_gutter(std::string& out, std::string_view line, bool is_ms, bool drop_quiet,
                            uint32_t ttl_s, int64_t now_unix) {
  LineBuilder b(out);
  const size_t first_flag = is_ms ? 3 : 2;
  bool has_ttl = false;
  pool::for_each_token(line, [&](size_t i, std::string_view tok) {
    if (i >= first_flag) {
      if (drop_quiet && tok == "q") return;
      int64_t n = 0;
      if ((tok[0] == 'T' || tok[0] == 'N') && pool::parse_number(tok.substr(1), n)) {
        has_ttl = has_ttl || tok[0] == 'T';
        append_number(b.next().append(1, tok[0]), gutter_exptime(n, ttl_s, now_unix));
        return;
      }
    }
    b.token(tok);
  });
  if (is_ms && !has_ttl) append_number(b.next().append("T"), ttl_s);
  b.end();
}

}  // namespace mccache::core
