// Meta reply head parser: tokens by offset, no copies (as memcached's vendor/mcmc does).
#include "lease/meta_reply.h"

#include "lease/detail/ascii.h"

namespace mccache::lease {
namespace {

std::string_view next_token(std::string_view& rest) {
  size_t start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(start);
  size_t end = rest.find(' ');
  std::string_view token = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  return token;
}

bool apply_flag(std::string_view token, MetaFlags& flags) {
  std::string_view arg = token.substr(1);
  uint64_t u = 0;
  int64_t i = 0;
  switch (token[0]) {
    case 'W':
      flags.win = true;
      return true;
    case 'X':
      flags.stale = true;
      return true;
    case 'Z':
      flags.win_sent = true;
      return true;
    case 'c':
      if (!detail::parse_uint(arg, u)) return false;
      flags.cas = u;
      return true;
    case 'f':
      if (!detail::parse_uint(arg, u) || u > UINT32_MAX) return false;
      flags.client_flags = static_cast<uint32_t>(u);
      return true;
    case 't':
      if (!detail::parse_int(arg, i)) return false;
      flags.ttl = i;
      return true;
    default:
      return true;  // k, s, O, b, h, l...: not needed by lease/
  }
}

std::optional<MetaStatus> status_of(std::string_view code) {
  if (code.size() != 2) return std::nullopt;
  if (code == "VA") return MetaStatus::VA;
  if (code == "HD") return MetaStatus::HD;
  if (code == "EN") return MetaStatus::EN;
  if (code == "NF") return MetaStatus::NF;
  if (code == "NS") return MetaStatus::NS;
  if (code == "EX") return MetaStatus::EX;
  if (code == "MN") return MetaStatus::MN;
  return std::nullopt;
}

}  // namespace

std::optional<MetaHead> parse_meta_head(std::string_view line) {
  MetaHead head;
  for (auto [prefix, status] :
       {std::pair{std::string_view("SERVER_ERROR"), MetaStatus::ServerError},
        std::pair{std::string_view("CLIENT_ERROR"), MetaStatus::ClientError}}) {
    if (line.starts_with(prefix)) {
      head.reply.status = status;
      std::string_view msg = line.substr(prefix.size());
      if (!msg.empty() && msg.front() == ' ') msg.remove_prefix(1);
      head.reply.message = msg;
      return head;
    }
  }
  if (line == "ERROR") {
    head.reply.status = MetaStatus::Error;
    return head;
  }
  std::string_view rest = line;
  auto status = status_of(next_token(rest));
  if (!status) return std::nullopt;
  head.reply.status = *status;
  if (*status == MetaStatus::VA && !detail::parse_uint(next_token(rest), head.value_bytes)) {
    return std::nullopt;
  }
  for (std::string_view token = next_token(rest); !token.empty(); token = next_token(rest)) {
    if (!apply_flag(token, head.reply.flags)) return std::nullopt;
  }
  return head;
}

}  // namespace mccache::lease
