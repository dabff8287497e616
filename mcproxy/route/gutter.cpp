// Expiry capping for the gutter pool, on the text and meta command lines as the client wrote them.
#include "mcproxy/route/gutter.h"

#include <algorithm>
#include <charconv>

namespace mccache::route {
namespace {

void append_number(std::string& out, int64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

// Calls f(index, token) for each space-separated token of `line`.
template <typename F>
void for_each_token(std::string_view line, F&& f) {
  size_t pos = 0;
  size_t index = 0;
  while (pos < line.size()) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    if (pos == line.size()) break;
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    f(index++, line.substr(pos, end - pos));
    pos = end;
  }
}

// Appends tokens separated by one space.
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

// A number, or nullopt-like `ok = false` for anything else (then the token passes unchanged and
// memcached answers the client's error itself).
bool parse_int(std::string_view s, int64_t& n) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  return ec == std::errc() && end == s.data() + s.size();
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

void append_text_for_gutter(std::string& out, std::string_view line, size_t exptime_index,
                            bool drop_noreply, uint32_t ttl_s, int64_t now_unix) {
  LineBuilder b(out);
  for_each_token(line, [&](size_t i, std::string_view tok) {
    if (i >= 2 && drop_noreply && tok == "noreply") return;
    int64_t n = 0;
    if (i == exptime_index && parse_int(tok, n)) {
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
  for_each_token(line, [&](size_t i, std::string_view tok) {
    if (i >= first_flag) {
      if (drop_quiet && tok == "q") return;
      int64_t n = 0;
      if ((tok[0] == 'T' || tok[0] == 'N') && parse_int(tok.substr(1), n)) {
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

}  // namespace mccache::route
