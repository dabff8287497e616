// Test code: a model of how memcached 1.6.18 reads one command of the text protocol from the front
// of a byte stream, written from its proto_text.c (try_read_command_ascii, tokenize_command,
// process_command_ascii, set_noreply_maybe, process_update_command, the meta commands and
// _meta_flag_preparse) and util.c (safe_strto*). It answers what the differential fuzzer needs:
// how many bytes the command takes (line, then the data block or the bytes swallowed after an
// error), its name and keys as memcached sees them, whether it stays silent (noreply, q), and
// whether memcached refuses it. Not modelled: what a command does to the cache, SASL, the binary
// protocol, and memcached's out-of-memory paths (they swallow the same bytes).
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace mccache::fuzz::memcached {

struct Command {
  enum class Status { kCommand, kNeedMore, kClose };
  Status status = Status::kNeedMore;
  size_t size = 0;                // bytes memcached consumes: line (+ data block or swallow)
  std::string name;               // tokens[0] after the NUL cut
  std::vector<std::string> keys;  // as memcached reads them (get: every key)
  std::string data;               // storage and ms: the data block without "\r\n"
  bool error = false;             // answered with ERROR / CLIENT_ERROR / SERVER_ERROR
  bool noreply = false;           // text commands: the trailing noreply memcached honours
  bool quiet = false;             // meta commands: a flag token starting with 'q', preparse passed
};

namespace detail {

constexpr size_t kMaxTokens = 24;      // MAX_TOKENS, the terminal token included
constexpr size_t kKeyMax = 250;        // KEY_MAX_LENGTH
constexpr size_t kMetaMaxTokens = 20;  // MFLAG_MAX_OPT_LENGTH, compared with ntokens

struct Tokens {
  std::vector<std::string_view> t;  // real tokens (at most kMaxTokens - 1)
  std::string_view rest;            // the terminal token's value: unread text, or empty (NULL)
  size_t ntokens() const { return t.size() + 1; }  // memcached's count, terminal included
};

// tokenize_command(): splits on ' ' only; after 23 tokens the rest is left unread.
inline Tokens tokenize(std::string_view s) {
  Tokens out;
  size_t start = 0, i = 0;
  for (; i < s.size(); ++i) {
    if (s[i] != ' ') continue;
    if (start != i) {
      out.t.push_back(s.substr(start, i - start));
      if (out.t.size() == kMaxTokens - 1) {
        out.rest = s.substr(i + 1);
        return out;
      }
    }
    start = i + 1;
  }
  if (start != i) out.t.push_back(s.substr(start, i - start));
  return out;
}

inline bool is_c_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// util.c: strtol/strtoul/strtoull on the token, then "*endptr is space or the end". The token is
// NUL-terminated in memcached (the tokenizer wrote a NUL over the space after it).
template <typename F>
bool safe_number(std::string_view token, F&& convert) {
  std::string s(token);
  errno = 0;
  char* end = nullptr;
  convert(s.c_str(), &end);
  if (errno == ERANGE || end == s.c_str()) return false;
  return *end == '\0' || is_c_space(*end);
}
inline bool safe_strtol(std::string_view t, int32_t& out) {
  long v = 0;
  bool ok = safe_number(t, [&](const char* p, char** e) { v = std::strtol(p, e, 10); });
  out = static_cast<int32_t>(v);  // memcached truncates to int32_t without a range check
  return ok;
}
inline bool safe_strtoul(std::string_view t) {
  unsigned long v = 0;
  bool ok = safe_number(t, [&](const char* p, char** e) { v = std::strtoul(p, e, 10); });
  if (ok && static_cast<long>(v) < 0 && std::string(t).find('-') != std::string::npos) return false;
  return ok;
}
inline bool safe_strtoull(std::string_view t) {
  unsigned long long v = 0;
  bool ok = safe_number(t, [&](const char* p, char** e) { v = std::strtoull(p, e, 10); });
  if (ok && static_cast<long long>(v) < 0 && std::string(t).find('-') != std::string::npos)
    return false;
  return ok;
}

// set_noreply_maybe(): the last real token, whatever the command's arity.
inline bool noreply_maybe(const Tokens& tk) { return !tk.t.empty() && tk.t.back() == "noreply"; }

// _meta_flag_preparse(), the parts that decide "refused" and "quiet": the first byte of each
// token from `start`, each at most once, from the set memcached 1.6.18 knows. Number checks are
// left out: a bad number is one CLIENT_ERROR, as an accepted flag is one reply.
inline bool meta_preparse(const Tokens& tk, size_t start, bool& quiet) {
  bool seen[127] = {};
  static constexpr std::string_view kKnown = "bNTRlOPLkstcfvhuqFCMJDI";
  for (size_t i = start; i < tk.t.size(); ++i) {
    auto o = static_cast<unsigned char>(tk.t[i][0]);
    if (o >= 127 || seen[o]) return false;
    seen[o] = true;
    if (kKnown.find(static_cast<char>(o)) == std::string_view::npos) return false;
    if (o == 'q') quiet = true;
  }
  return true;
}

}  // namespace detail

// One command from the front of `in` (memcached's view of a client connection's read buffer).
inline Command next_command(std::string_view in) {
  using namespace detail;
  Command c;
  size_t nl = in.find('\n');
  if (nl == std::string_view::npos) {
    // try_read_command_ascii: over 2048 bytes without a newline only a "get "/"gets " may go on.
    if (in.size() > 2048) {
      size_t sp = 0;
      while (sp < in.size() && in[sp] == ' ') ++sp;
      std::string_view p = in.substr(sp);
      if (sp > 100 || (!p.starts_with("get ") && !p.starts_with("gets ")))
        c.status = Command::Status::kClose;
    }
    return c;
  }
  std::string_view line = in.substr(0, nl);
  if (nl > 1 && in[nl - 1] == '\r') line.remove_suffix(1);
  if (size_t nul = line.find('\0'); nul != std::string_view::npos) line = line.substr(0, nul);
  c.status = Command::Status::kCommand;
  c.size = nl + 1;
  Tokens tk = tokenize(line);
  const size_t ntokens = tk.ntokens();
  auto refuse = [&] {
    c.error = true;
    return c;
  };
  if (ntokens < 2 || tk.t[0].size() < 2) return refuse();
  std::string_view cmd = tk.t[0];
  c.name = std::string(cmd);
  auto key = [&](size_t i) { c.keys.emplace_back(tk.t[i]); };

  // Reads "<vlen bytes>\r\n" after the line; `swallow`: the bytes are dropped after an error.
  auto data_block = [&](int32_t vlen, bool swallow) {
    size_t need = c.size + static_cast<size_t>(vlen) + 2;
    if (in.size() < need) {
      c.status = Command::Status::kNeedMore;
      return c;
    }
    std::string_view block = in.substr(c.size, static_cast<size_t>(vlen) + 2);
    c.size = need;
    if (swallow) return refuse();
    c.data = std::string(block.substr(0, static_cast<size_t>(vlen)));
    if (!block.ends_with("\r\n")) c.error = true;  // "CLIENT_ERROR bad data chunk"
    return c;
  };

  if (cmd.size() == 2 && cmd[0] == 'm') {
    switch (cmd[1]) {
      case 'n':
        return c;
      case 'g':
      case 'd':
      case 'a':
      case 'e': {
        if (ntokens < 3) return refuse();
        key(1);
        if (tk.t[1].size() > kKeyMax) return refuse();
        if (cmd[1] == 'e') return c;
        if (ntokens > kMetaMaxTokens) return refuse();
        bool quiet = false;
        if (!meta_preparse(tk, 2, quiet)) return refuse();
        c.quiet = quiet;
        return c;
      }
      case 's': {
        if (ntokens < 3) return refuse();
        key(1);
        if (tk.t[1].size() > kKeyMax || ntokens == 3 || ntokens > kMetaMaxTokens) return refuse();
        int32_t vlen = 0;
        if (!safe_strtol(tk.t[2], vlen) || vlen < 0 || vlen > INT32_MAX - 2) return refuse();
        bool quiet = false;
        if (!meta_preparse(tk, 3, quiet)) return data_block(vlen, true);
        c.quiet = quiet;
        return data_block(vlen, false);
      }
      default:
        return refuse();
    }
  }

  const bool get = cmd == "get" || cmd == "gets" || cmd == "bget";
  const bool gat = cmd == "gat" || cmd == "gats";
  if (get || gat) {
    if (ntokens < 3) return refuse();
    size_t first = 1;
    if (gat) {
      int32_t e = 0;
      if (!safe_strtol(tk.t[1], e)) return refuse();
      first = 2;
    }
    // process_get_command: the keys go on past the 23rd token (the line is tokenized again).
    for (size_t i = first; i < tk.t.size(); ++i) key(i);
    for (std::string_view rest = tk.rest; !rest.empty();) {
      Tokens more = tokenize(rest);
      for (auto k : more.t) c.keys.emplace_back(k);
      rest = more.rest;
    }
    for (const auto& k : c.keys)
      if (k.size() > kKeyMax) return refuse();
    return c;
  }

  const bool storage = cmd == "set" || cmd == "add" || cmd == "replace" || cmd == "append" ||
                       cmd == "prepend" || cmd == "cas";
  if (storage) {
    const bool cas = cmd == "cas";
    const size_t want = cas ? 7 : 6;
    if (ntokens != want && ntokens != want + 1) return refuse();
    c.noreply = noreply_maybe(tk);
    key(1);
    if (tk.t[1].size() > kKeyMax) return refuse();
    int32_t exptime = 0, vlen = 0;
    if (!safe_strtoul(tk.t[2]) || !safe_strtol(tk.t[3], exptime) || !safe_strtol(tk.t[4], vlen))
      return refuse();
    if (cas && !safe_strtoull(tk.t[5])) return refuse();
    if (vlen < 0 || vlen > INT32_MAX - 2) return refuse();
    return data_block(vlen, false);
  }
  if (cmd == "incr" || cmd == "decr" || cmd == "touch") {
    if (ntokens != 4 && ntokens != 5) return refuse();
    c.noreply = noreply_maybe(tk);
    key(1);
    if (tk.t[1].size() > kKeyMax) return refuse();
    int32_t e = 0;
    bool ok = cmd == "touch" ? safe_strtol(tk.t[2], e) : safe_strtoull(tk.t[2]);
    if (!ok) return refuse();
    return c;
  }
  if (cmd == "delete") {
    if (ntokens < 3 || ntokens > 5) return refuse();
    key(1);
    if (ntokens > 3) {
      bool hold_is_zero = tk.t[2] == "0";
      bool sets_noreply = noreply_maybe(tk);
      c.noreply = sets_noreply;
      bool valid = (ntokens == 4 && (hold_is_zero || sets_noreply)) ||
                   (ntokens == 5 && hold_is_zero && sets_noreply);
      if (!valid) {
        c.noreply = false;  // memcached clears noreply to send the usage error
        return refuse();
      }
    }
    if (tk.t[1].size() > kKeyMax) return refuse();
    return c;
  }
  if (cmd == "flush_all") {
    if (ntokens < 2 || ntokens > 4) return refuse();
    c.noreply = noreply_maybe(tk);
    if (ntokens != (c.noreply ? 3u : 2u)) {
      int32_t delay = 0;
      if (!safe_strtol(tk.t[1], delay)) return refuse();
    }
    return c;
  }
  if (cmd == "verbosity") {
    if (ntokens != 3 && ntokens != 4) return refuse();
    c.noreply = noreply_maybe(tk);
    return c;
  }
  if (cmd == "version" || cmd == "quit" || cmd == "stats" || cmd == "shutdown" || cmd == "slabs" ||
      cmd == "cache_memlimit" || cmd == "lru_crawler" || cmd == "watch" || cmd == "lru")
    return c;
  // An unknown command. Past the branches for these first letters, a line ending in an HTTP
  // version closes the connection.
  if (std::string_view("gsacidt").find(cmd[0]) == std::string_view::npos &&
      tk.t.back().starts_with("HTTP/"))
    c.status = Command::Status::kClose;
  return refuse();
}

}  // namespace mccache::fuzz::memcached
