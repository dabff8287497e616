// Reply grammar from memcached's doc/protocol.txt ("Meta Get", "Retrieval command").
#include "mcproxy/protocol/reply_parser.h"

#include <charconv>
#include <cstring>

namespace mccache::protocol {
namespace {

bool parse_size(std::string_view s, size_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Finds the line at `from`; returns its size including "\n", or 0 if incomplete.
size_t line_at(std::string_view input, size_t from, std::string_view& line) {
  const void* nl = std::memchr(input.data() + from, '\n', input.size() - from);
  if (nl == nullptr) return 0;
  size_t size = static_cast<const char*>(nl) - (input.data() + from) + 1;
  line = input.substr(from, size - 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return size;
}

std::string_view token_after(std::string_view line, size_t skip_tokens, std::string_view& rest) {
  size_t i = 0;
  std::string_view tok;
  for (size_t t = 0; t <= skip_tokens; ++t) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    tok = line.substr(start, i - start);
  }
  while (i < line.size() && line[i] == ' ') ++i;
  rest = line.substr(i);
  return tok;
}

}  // namespace

bool Reply::has_flag(char f) const {
  for (size_t i = 0; i < flags.size(); ++i) {
    if ((i == 0 || flags[i - 1] == ' ') && flags[i] == f) return true;
  }
  return false;
}

std::string_view Reply::flag(char f) const {
  for (size_t i = 0; i < flags.size(); ++i) {
    if ((i == 0 || flags[i - 1] == ' ') && flags[i] == f) {
      size_t end = flags.find(' ', i);
      if (end == std::string_view::npos) end = flags.size();
      return flags.substr(i + 1, end - i - 1);
    }
  }
  return {};
}

ReplyParser::Step ReplyParser::next(std::string_view input, Reply& out) const {
  std::string_view line;
  size_t line_size = line_at(input, 0, line);
  if (line_size == 0) {
    return {input.size() > max_line_bytes ? Status::kError : Status::kNeedMore, 0};
  }
  out = Reply{};
  out.line = line;
  out.raw = input.substr(0, line_size);

  auto meta = [&](ReplyCode code) {
    out.code = code;
    std::string_view rest;
    token_after(line, 0, rest);
    out.flags = rest;
    return Step{Status::kReply, line_size};
  };

  if (line.size() >= 2 && (line.size() == 2 || line[2] == ' ')) {
    std::string_view code = line.substr(0, 2);
    if (code == "VA") {
      std::string_view rest;
      size_t size;
      if (!parse_size(token_after(line, 1, rest), size) || size > max_value_bytes)
        return {Status::kError, 0};
      size_t total = line_size + size + 2;
      if (input.size() < total) return {Status::kNeedMore, 0};
      if (input[total - 2] != '\r' || input[total - 1] != '\n') return {Status::kError, 0};
      out.code = ReplyCode::kValue;
      out.flags = rest;
      out.value = input.substr(line_size, size);
      out.raw = input.substr(0, total);
      return {Status::kReply, total};
    }
    if (code == "HD") return meta(ReplyCode::kHeader);
    if (code == "EN") return meta(ReplyCode::kMiss);
    if (code == "NF") return meta(ReplyCode::kNotFound);
    if (code == "NS") return meta(ReplyCode::kNotStored);
    if (code == "EX") return meta(ReplyCode::kExists);
    if (code == "MN") return meta(ReplyCode::kNoop);
  }
  if (line.starts_with("VALUE ") || line == "END") {
    // A text retrieval answer runs until its END line.
    size_t pos = 0;
    std::string_view l = line;
    size_t ls = line_size;
    while (l != "END") {
      if (!l.starts_with("VALUE ")) return {Status::kError, 0};
      std::string_view rest;
      size_t size;
      if (!parse_size(token_after(l, 3, rest), size) || size > max_value_bytes)
        return {Status::kError, 0};
      size_t block_end = pos + ls + size + 2;
      if (input.size() < block_end) return {Status::kNeedMore, 0};
      if (input[block_end - 2] != '\r' || input[block_end - 1] != '\n')
        return {Status::kError, 0};
      pos = block_end;
      ls = line_at(input, pos, l);
      if (ls == 0) {
        return {input.size() - pos > max_line_bytes ? Status::kError : Status::kNeedMore, 0};
      }
    }
    out.code = ReplyCode::kTextValues;
    out.raw = input.substr(0, pos + ls);
    return {Status::kReply, pos + ls};
  }
  if (line.starts_with("STAT ")) {
    // A `stats` answer (the proxy's epoch probe) is one reply: STAT lines up to END.
    size_t pos = line_size;
    std::string_view l;
    for (;;) {
      size_t ls = line_at(input, pos, l);
      if (ls == 0) {
        return {input.size() - pos > max_line_bytes ? Status::kError : Status::kNeedMore, 0};
      }
      pos += ls;
      if (l == "END") break;
      if (!l.starts_with("STAT ")) return {Status::kError, 0};
    }
    out.code = ReplyCode::kText;
    out.raw = input.substr(0, pos);
    return {Status::kReply, pos};
  }
  if (line == "ERROR" || line.starts_with("CLIENT_ERROR") || line.starts_with("SERVER_ERROR")) {
    out.code = ReplyCode::kError;
    return {Status::kReply, line_size};
  }
  out.code = ReplyCode::kText;
  return {Status::kReply, line_size};
}

}  // namespace mccache::protocol
