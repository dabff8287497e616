// Reply grammar from memcached's doc/protocol.txt ("Meta Get", "Retrieval command", "Statistics").
#include "pool/reply_parser.h"

#include <cstring>

#include "pool/ascii.h"
#include "pool/tokens.h"

namespace mccache::pool {
namespace {

// Finds the line at `from`; returns its size including "\n", or 0 if incomplete.
size_t line_at(std::string_view input, size_t from, std::string_view& line) {
  const void* nl = std::memchr(input.data() + from, '\n', input.size() - from);
  if (nl == nullptr) return 0;
  size_t size = static_cast<const char*>(nl) - (input.data() + from) + 1;
  line = input.substr(from, size - 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return size;
}

template <typename T>
bool read_number(std::string_view token, std::optional<T>& out) {
  T v{};
  if (!parse_number(token, v)) return false;
  out = v;
  return true;
}

// Reads the flags lease/ and the proxy use; false if one of them carries a malformed token.
bool read_flags(std::string_view flags, MetaFlags& out) {
  Tokens tokens(flags);
  for (std::string_view t = tokens.next(); !t.empty(); t = tokens.next()) {
    std::string_view arg = t.substr(1);
    bool ok = true;
    switch (t[0]) {
      case 'W':
        out.win = true;
        break;
      case 'X':
        out.stale = true;
        break;
      case 'Z':
        out.win_sent = true;
        break;
      case 'k':
        out.key = arg;
        break;
      case 'c':
        ok = read_number(arg, out.cas);
        break;
      case 'f':
        ok = read_number(arg, out.client_flags);
        break;
      case 't':
        ok = read_number(arg, out.ttl);
        break;
      default:
        break;
    }
    if (!ok) return false;
  }
  return true;
}

std::optional<ReplyStatus> meta_status(std::string_view code) {
  if (code == "HD") return ReplyStatus::kHeader;
  if (code == "EN") return ReplyStatus::kMiss;
  if (code == "NF") return ReplyStatus::kNotFound;
  if (code == "NS") return ReplyStatus::kNotStored;
  if (code == "EX") return ReplyStatus::kExists;
  if (code == "MN") return ReplyStatus::kNoop;
  return std::nullopt;
}

// "CLIENT_ERROR <message>" / "SERVER_ERROR <message>" / "ERROR".
std::optional<ReplyStatus> error_status(std::string_view line, std::string_view& message) {
  for (auto [prefix, status] :
       {std::pair{std::string_view("SERVER_ERROR"), ReplyStatus::kServerError},
        std::pair{std::string_view("CLIENT_ERROR"), ReplyStatus::kClientError}}) {
    if (line.starts_with(prefix)) {
      message = line.substr(prefix.size());
      if (!message.empty() && message.front() == ' ') message.remove_prefix(1);
      return status;
    }
  }
  if (line == "ERROR") return ReplyStatus::kError;
  return std::nullopt;
}

using Step = ReplyParser::Step;
using Status = ReplyParser::Status;

// Lines up to and including the one `is_last` accepts, each accepted by `is_line` (or a data
// block announced by it); the reply then spans [0, end). For VALUE...END and STAT...END.
template <typename Block>
Step run_until_end(std::string_view input, std::string_view first, size_t first_size,
                   size_t max_line_bytes, Block&& block) {
  size_t pos = 0;
  std::string_view line = first;
  size_t size = first_size;
  for (;;) {
    if (line == "END") return {Status::kReply, pos + size};
    size_t data = 0;
    if (!block(line, data)) return {Status::kError, 0};
    size_t next = pos + size;
    if (data > 0) {
      size_t block_end = next + data;
      if (input.size() < block_end) return {Status::kNeedMore, 0};
      if (input[block_end - 2] != '\r' || input[block_end - 1] != '\n') return {Status::kError, 0};
      next = block_end;
    }
    pos = next;
    size = line_at(input, pos, line);
    if (size == 0)
      return {input.size() - pos > max_line_bytes ? Status::kError : Status::kNeedMore, 0};
  }
}

}  // namespace

Step ReplyParser::next(std::string_view input, Reply& out) const {
  std::string_view line;
  size_t line_size = line_at(input, 0, line);
  if (line_size == 0)
    return {input.size() > max_line_bytes ? Status::kError : Status::kNeedMore, 0};
  out = Reply{};
  out.line = line;
  out.raw = input.substr(0, line_size);

  if (line.size() >= 2 && (line.size() == 2 || line[2] == ' ')) {
    Tokens tokens(line);
    std::string_view code = tokens.next();
    if (code == "VA") {
      size_t size = 0;
      if (!parse_number(tokens.next(), size) || size > max_value_bytes) return {Status::kError, 0};
      out.flags = tokens.rest();
      if (!read_flags(out.flags, out.meta)) return {Status::kError, 0};
      size_t total = line_size + size + 2;
      if (input.size() < total) return {Status::kNeedMore, 0};
      if (input[total - 2] != '\r' || input[total - 1] != '\n') return {Status::kError, 0};
      out.status = ReplyStatus::kValue;
      out.value = input.substr(line_size, size);
      out.raw = input.substr(0, total);
      return {Status::kReply, total};
    }
    if (auto status = meta_status(code)) {
      out.status = *status;
      out.flags = tokens.rest();
      if (!read_flags(out.flags, out.meta)) return {Status::kError, 0};
      return {Status::kReply, line_size};
    }
  }
  if (line.starts_with("VALUE ") || line == "END") {
    // A text retrieval answer runs until its END line: "VALUE <key> <flags> <bytes> [<cas>]".
    auto step = run_until_end(input, line, line_size, max_line_bytes,
                              [&](std::string_view l, size_t& data) {
                                Tokens t(l);
                                if (t.next() != "VALUE") return false;
                                t.next();
                                t.next();
                                size_t size = 0;
                                if (!parse_number(t.next(), size) || size > max_value_bytes)
                                  return false;
                                data = size + 2;
                                return true;
                              });
    if (step.status == Status::kReply) {
      out.status = ReplyStatus::kTextValues;
      out.raw = input.substr(0, step.consumed);
    }
    return step;
  }
  if (line.starts_with("STAT ")) {
    // A `stats` answer (the proxy's epoch probe) is one reply: STAT lines up to END.
    auto step = run_until_end(input, line, line_size, max_line_bytes,
                              [](std::string_view l, size_t&) { return l.starts_with("STAT "); });
    if (step.status == Status::kReply) {
      out.status = ReplyStatus::kStats;
      out.raw = input.substr(0, step.consumed);
    }
    return step;
  }
  if (auto status = error_status(line, out.message)) {
    out.status = *status;
    return {Status::kReply, line_size};
  }
  out.status = ReplyStatus::kText;
  return {Status::kReply, line_size};
}

}  // namespace mccache::pool
