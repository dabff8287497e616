// Grammar and error replies follow memcached 1.6's proto_text.c (arity errors are "ERROR", bad
// numbers "CLIENT_ERROR ..."), except that a refused storage command's data block is swallowed
// whenever its length is known, so one bad request never turns its payload into commands, and
// that mcproxy refuses what memcached would read differently from it: a NUL anywhere in a line
// (memcached cuts the line there), a key with a control byte (protocol.txt "Keys"), a meta flag
// it does not forward (meta_flags.h).
#include "mcproxy/protocol/request_parser.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "mcproxy/protocol/meta_flags.h"
#include "pool/ascii.h"
#include "pool/tokens.h"

namespace mccache::protocol {
namespace {

constexpr std::string_view kError = "ERROR\r\n";
constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format\r\n";
constexpr std::string_view kBadDataChunk = "CLIENT_ERROR bad data chunk\r\n";
constexpr std::string_view kLineTooLong = "CLIENT_ERROR line too long\r\n";
constexpr std::string_view kKeyTooLong = "CLIENT_ERROR key too long\r\n";
constexpr std::string_view kBadKey = "CLIENT_ERROR key has a control character\r\n";
constexpr std::string_view kNulInLine = "CLIENT_ERROR NUL byte in command line\r\n";
constexpr std::string_view kFlagsTooLong = "CLIENT_ERROR options flags too long\r\n";
constexpr std::string_view kInvalidFlag = "CLIENT_ERROR invalid flag\r\n";
constexpr std::string_view kValueTooLarge = "CLIENT_ERROR value too large\r\n";
constexpr std::string_view kBadDelta = "CLIENT_ERROR invalid numeric delta argument\r\n";
constexpr std::string_view kBadExptime = "CLIENT_ERROR invalid exptime argument\r\n";
constexpr std::string_view kBadDelete =
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";

constexpr std::string_view kBinaryProtocol =
    "CLIENT_ERROR binary protocol is not supported; use the text protocol\r\n";

constexpr size_t kMaxTokens = 24;  // memcached's MAX_TOKENS

struct LineTokens {
  std::array<std::string_view, kMaxTokens> t;
  size_t n = 0;
  bool overflow = false;
};

// The line's tokens (pool/tokens.h, memcached's tokenize_command rules), at most kMaxTokens.
void tokenize(std::string_view line, LineTokens& out) {
  pool::Tokens tokens(line);
  for (std::string_view t = tokens.next(); !t.empty(); t = tokens.next()) {
    if (out.n == kMaxTokens) {
      out.overflow = true;
      return;
    }
    out.t[out.n++] = t;
  }
}

using pool::parse_number;

struct CommandName {
  std::string_view name;
  Command command;
};

constexpr std::array<CommandName, 39> kCommands{{
    {"get", Command::kGet},
    {"gets", Command::kGets},
    {"gat", Command::kGat},
    {"gats", Command::kGats},
    {"set", Command::kSet},
    {"add", Command::kAdd},
    {"replace", Command::kReplace},
    {"append", Command::kAppend},
    {"prepend", Command::kPrepend},
    {"cas", Command::kCas},
    {"delete", Command::kDelete},
    {"incr", Command::kIncr},
    {"decr", Command::kDecr},
    {"touch", Command::kTouch},
    {"version", Command::kVersion},
    {"stats", Command::kStats},
    {"quit", Command::kQuit},
    {"flush_all", Command::kFlushAll},
    {"verbosity", Command::kVerbosity},
    {"shutdown", Command::kAdminOther},
    {"slabs", Command::kAdminOther},
    {"lru", Command::kAdminOther},
    {"lru_crawler", Command::kAdminOther},
    {"cache_memlimit", Command::kAdminOther},
    {"watch", Command::kAdminOther},
    {"misbehave", Command::kAdminOther},
    {"debugtime", Command::kAdminOther},
    {"extstore", Command::kAdminOther},
    {"refresh_certs", Command::kAdminOther},
    {"mg", Command::kMetaGet},
    {"ms", Command::kMetaSet},
    {"md", Command::kMetaDelete},
    {"ma", Command::kMetaArithmetic},
    {"mn", Command::kMetaNoop},
    {"me", Command::kMetaDebug},
    {"lease-get", Command::kLeaseGet},
    {"lease-set", Command::kLeaseSet},
    {"bget", Command::kGet},  // memcached's old alias of get
    {"lease_get", Command::kLeaseGet},
}};

bool lookup(std::string_view name, Command& out) {
  for (const auto& c : kCommands) {
    if (c.name == name) {
      out = c.command;
      return true;
    }
  }
  return false;
}

// protocol.txt "Keys": no control characters or whitespace. Bytes >= 0x80 are allowed (UTF-8).
bool has_control_byte(std::string_view key) {
  for (char ch : key) {
    auto b = static_cast<unsigned char>(ch);
    if (b < 0x21 || b == 0x7f) return true;
  }
  return false;
}

bool starts_retrieval(std::string_view input) {
  return input.starts_with("get") || input.starts_with("gat") || input.starts_with("bget");
}

}  // namespace

RequestParser::Step RequestParser::next(std::string_view input, Request& out) {
  size_t swallowed = 0;
  if (swallow_ > 0) {
    swallowed = std::min(swallow_, input.size());
    swallow_ -= swallowed;
    input.remove_prefix(swallowed);
    if (swallow_ > 0 || input.empty()) return {Status::kNeedMore, swallowed, {}, false};
  }
  // A binary-protocol client (magic byte 0x80) would otherwise wait forever for a reply to a
  // "line" that never ends; tell it plainly and close, as there is no text stream to resume.
  if (static_cast<unsigned char>(input[0]) == 0x80)
    return {Status::kError, swallowed + input.size(), kBinaryProtocol, true};
  const void* nl = std::memchr(input.data(), '\n', input.size());
  size_t limit =
      starts_retrieval(input) ? limits_.max_retrieval_line_bytes : limits_.max_line_bytes;
  if (nl == nullptr) {
    // Without a newline there is no place to resume from: memcached closes here too.
    if (input.size() > limit) return {Status::kError, swallowed + input.size(), kLineTooLong, true};
    return {Status::kNeedMore, swallowed, {}, false};
  }
  size_t line_size = static_cast<const char*>(nl) - input.data() + 1;
  std::string_view line = input.substr(0, line_size - 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  Step step;
  if (line.size() > limit) {
    step = {Status::kError, line_size, kLineTooLong, false};
  } else {
    step = parse_line(input, line, line_size, out);
    // memcached stops reading a line at its first NUL and would run what follows on its own, so
    // no line holding one is ever forwarded. Checked once the request is whole: its data block,
    // if any, is then consumed with it and cannot become commands.
    if (step.status == Status::kRequest && line.find('\0') != std::string_view::npos)
      step = {Status::kError, step.consumed, kNulInLine, false};
  }
  step.consumed += swallowed;
  return step;
}

RequestParser::Step RequestParser::data_error(std::string_view input, size_t line_size,
                                              int64_t bytes, std::string_view error) {
  if (bytes < 0) return {Status::kError, line_size, error, false};
  size_t block = static_cast<size_t>(bytes) + 2;
  size_t have = std::min(block, input.size() - line_size);
  swallow_ = block - have;
  return {Status::kError, line_size + have, error, false};
}

RequestParser::Step RequestParser::parse_line(std::string_view input, std::string_view line,
                                              size_t line_size, Request& out) {
  LineTokens tok;
  tokenize(line, tok);
  if (tok.n == 0) return {Status::kError, line_size, kError, false};
  Command cmd;
  if (!lookup(tok.t[0], cmd)) return {Status::kError, line_size, kError, false};

  out.command = cmd;
  out.line = line;
  out.data = {};
  out.keys.clear();
  out.meta_flags.clear();
  out.verbosity = 0;
  out.flags = 0;
  out.exptime = 0;
  out.cas_unique = 0;
  out.delta = 0;
  out.lease_token = 0;
  out.noreply = false;
  out.quiet = false;
  out.size = line_size;

  const size_t n = tok.n;
  auto ok = [&]() { return Step{Status::kRequest, out.size, {}, false}; };
  auto fail = [&](std::string_view e) { return Step{Status::kError, line_size, e, false}; };
  // memcached reads noreply before it checks incr/decr's and touch's arguments, so their errors
  // are silent too: a noreply client reads no reply, and one would put its stream out of step.
  auto fail_unless_noreply = [&](std::string_view e) { return fail(out.noreply ? "" : e); };
  // The reply for a refused key, or empty when the key is fine.
  auto key_error = [&](std::string_view k) -> std::string_view {
    if (k.size() > limits_.max_key_bytes) return kKeyTooLong;
    if (has_control_byte(k)) return kBadKey;
    return {};
  };

  // Reads "<bytes>\r\n<data>\r\n" after the line; `bytes` already validated non-negative.
  auto with_data = [&](int64_t bytes) -> Step {
    if (static_cast<uint64_t>(bytes) > limits_.max_value_bytes)
      return data_error(input, line_size, bytes, kValueTooLarge);
    size_t need = line_size + static_cast<size_t>(bytes) + 2;
    if (input.size() < need) return {Status::kNeedMore, 0, {}, false};
    std::string_view block = input.substr(line_size, static_cast<size_t>(bytes) + 2);
    if (block[block.size() - 2] != '\r' || block[block.size() - 1] != '\n')
      return {Status::kError, need, kBadDataChunk, false};
    out.data = block.substr(0, static_cast<size_t>(bytes));
    out.size = need;
    return ok();
  };

  if (tok.overflow && !is_retrieval(cmd) && !is_meta(cmd)) return fail(kError);

  switch (cmd) {
    case Command::kGet:
    case Command::kGets:
    case Command::kGat:
    case Command::kGats:
    case Command::kLeaseGet: {  // mcrouter's grammar: lease-get <key>+
      bool touch = cmd == Command::kGat || cmd == Command::kGats;
      size_t first_key = touch ? 2 : 1;
      if (n <= first_key) return fail(kError);
      if (touch && !parse_number(tok.t[1], out.exptime)) return fail(kBadExptime);
      // Keys are re-scanned from the line: a retrieval may carry more than kMaxTokens keys.
      pool::Tokens keys(line.substr(tok.t[first_key].data() - line.data()));
      for (std::string_view k = keys.next(); !k.empty(); k = keys.next()) {
        if (auto e = key_error(k); !e.empty()) return fail(e);
        out.keys.push_back(k);
      }
      return ok();
    }
    case Command::kSet:
    case Command::kAdd:
    case Command::kReplace:
    case Command::kAppend:
    case Command::kPrepend:
    case Command::kCas: {
      bool cas = cmd == Command::kCas;
      size_t base = cas ? 6 : 5;
      if (n != base && n != base + 1) return fail(kError);
      int64_t bytes = -1;
      if (!parse_number(tok.t[4], bytes) || bytes < 0) return fail(kBadFormat);
      if (n == base + 1) {
        if (tok.t[base] != "noreply") return data_error(input, line_size, bytes, kBadFormat);
        out.noreply = true;
      }
      if (auto e = key_error(tok.t[1]); !e.empty()) return data_error(input, line_size, bytes, e);
      if (!parse_number(tok.t[2], out.flags) || !parse_number(tok.t[3], out.exptime) ||
          (cas && !parse_number(tok.t[5], out.cas_unique)))
        return data_error(input, line_size, bytes, kBadFormat);
      out.keys.push_back(tok.t[1]);
      return with_data(bytes);
    }
    case Command::kDelete: {
      if (n < 2 || n > 4) return fail(kError);
      if (auto e = key_error(tok.t[1]); !e.empty()) return fail(e);
      // memcached accepts "delete <key> [0] [noreply]"; any other hold time is an error.
      size_t i = 2;
      if (i < n && tok.t[i] == "0") ++i;
      if (i < n && tok.t[i] == "noreply") {
        out.noreply = true;
        ++i;
      }
      if (i != n) return fail(kBadDelete);
      out.keys.push_back(tok.t[1]);
      return ok();
    }
    case Command::kIncr:
    case Command::kDecr: {
      if (n != 3 && n != 4) return fail(kError);
      if (n == 4) {
        if (tok.t[3] != "noreply") return fail(kError);
        out.noreply = true;
      }
      if (auto e = key_error(tok.t[1]); !e.empty()) return fail_unless_noreply(e);
      if (!parse_number(tok.t[2], out.delta)) return fail_unless_noreply(kBadDelta);
      out.keys.push_back(tok.t[1]);
      return ok();
    }
    case Command::kTouch: {
      if (n != 3 && n != 4) return fail(kError);
      if (n == 4) {
        if (tok.t[3] != "noreply") return fail(kError);
        out.noreply = true;
      }
      if (auto e = key_error(tok.t[1]); !e.empty()) return fail_unless_noreply(e);
      if (!parse_number(tok.t[2], out.exptime)) return fail_unless_noreply(kBadExptime);
      out.keys.push_back(tok.t[1]);
      return ok();
    }
    case Command::kVersion:
    case Command::kQuit:
      if (n != 1) return fail(kError);
      return ok();
    case Command::kStats:
    case Command::kAdminOther:
      return ok();
    case Command::kFlushAll: {
      if (n > 3) return fail(kError);
      size_t i = 1;
      if (i < n && tok.t[i] != "noreply") {
        int64_t delay;
        if (!parse_number(tok.t[i], delay)) return fail(kBadFormat);
        out.exptime = delay;
        ++i;
      }
      if (i < n) {
        if (tok.t[i] != "noreply") return fail(kError);
        out.noreply = true;
        ++i;
      }
      return i == n ? ok() : fail(kError);
    }
    case Command::kVerbosity: {
      if (n != 2 && n != 3) return fail(kError);
      if (n == 3) {
        if (tok.t[2] != "noreply") return fail(kError);
        out.noreply = true;
      }
      if (!parse_number(tok.t[1], out.verbosity)) return fail(kBadFormat);
      return ok();
    }
    case Command::kMetaNoop:
      return ok();
    case Command::kMetaGet:
    case Command::kMetaSet:
    case Command::kMetaDelete:
    case Command::kMetaArithmetic:
    case Command::kMetaDebug: {
      if (n < 2) return fail(kBadFormat);
      size_t first_flag = 2;
      int64_t bytes = -1;
      if (cmd == Command::kMetaSet) {
        if (n < 3 || !parse_number(tok.t[2], bytes) || bytes < 0) return fail(kBadFormat);
        first_flag = 3;
      }
      if (auto e = key_error(tok.t[1]); !e.empty()) return data_error(input, line_size, bytes, e);
      // An ms keeps room for the T flag the gutter may add: memcached refuses a line over its
      // limit before it knows the data length, and would then read the data block as commands.
      size_t max_tokens = cmd == Command::kMetaSet ? kMaxMetaTokens - 1 : kMaxMetaTokens;
      if (tok.overflow || n > max_tokens) return data_error(input, line_size, bytes, kFlagsTooLong);
      // me reads one optional token, exactly "b" (process_meta_command); nothing else is sent.
      if (cmd == Command::kMetaDebug && (n > 3 || (n == 3 && tok.t[2] != "b")))
        return fail(kInvalidFlag);
      bool seen[128] = {};
      for (size_t i = first_flag; i < n; ++i) {
        MetaFlagCheck flag = check_meta_flag(cmd, tok.t[i], seen);
        if (!flag.error.empty()) return data_error(input, line_size, bytes, flag.error);
        if (flag.quiet) {
          out.quiet = true;
        } else {
          out.meta_flags.push_back(tok.t[i]);
        }
      }
      out.keys.push_back(tok.t[1]);
      if (cmd == Command::kMetaSet) return with_data(bytes);
      return ok();
    }
    case Command::kLeaseSet: {
      // mcrouter: lease-set <key> <token> <flags> <exptime> <bytes> [noreply]
      if (n != 6 && n != 7) return fail(kError);
      int64_t bytes = -1;
      if (!parse_number(tok.t[5], bytes) || bytes < 0) return fail(kBadFormat);
      if (n == 7) {
        if (tok.t[6] != "noreply") return data_error(input, line_size, bytes, kBadFormat);
        out.noreply = true;
      }
      if (auto e = key_error(tok.t[1]); !e.empty()) return data_error(input, line_size, bytes, e);
      if (!parse_number(tok.t[2], out.lease_token) || !parse_number(tok.t[3], out.flags) ||
          !parse_number(tok.t[4], out.exptime))
        return data_error(input, line_size, bytes, kBadFormat);
      out.keys.push_back(tok.t[1]);
      return with_data(bytes);
    }
  }
  return fail(kError);
}

}  // namespace mccache::protocol
