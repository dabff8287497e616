// Backend epoch: parse memcached's `stats` identity and hash it into a token tag.
#include "lease/backend_epoch.h"

#include "pool/ascii.h"
#include "pool/tokens.h"

namespace mccache::lease {
namespace {

constexpr uint16_t kMcrouterMagicTag = 0x7ace;  // high 16 bits of mcrouter's 0x7aceb00c tokens

bool reserved(uint16_t tag) { return tag == 0 || tag == kMcrouterMagicTag || tag == 0xffff; }

uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t fnv1a_u64(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::optional<BackendIdentity> identity_from_stats(std::string_view reply) {
  std::optional<uint64_t> pid;
  std::optional<int64_t> time;
  std::optional<int64_t> uptime;
  while (!reply.empty()) {
    size_t eol = reply.find('\n');
    std::string_view line = reply.substr(0, eol);
    reply = eol == std::string_view::npos ? std::string_view{} : reply.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pool::Tokens tokens(line);
    if (tokens.next() != "STAT") continue;
    std::string_view name = tokens.next();
    std::string_view value = tokens.rest();
    uint64_t u = 0;
    int64_t i = 0;
    if (name == "pid" && pool::parse_number(value, u)) pid = u;
    if (name == "time" && pool::parse_number(value, i)) time = i;
    if (name == "uptime" && pool::parse_number(value, i)) uptime = i;
  }
  if (!pid || !time || !uptime) return std::nullopt;
  return BackendIdentity{*pid, *time - *uptime};
}

BackendEpoch BackendEpoch::of(std::string_view server, const BackendIdentity& identity) {
  uint64_t h = 0xcbf29ce484222325ULL;
  h = fnv1a(h, server);
  h = fnv1a_u64(h, identity.pid);
  h = fnv1a_u64(h, static_cast<uint64_t>(identity.started_at));
  // Fold all 64 bits so every input bit reaches the 16-bit tag.
  uint16_t tag = static_cast<uint16_t>(h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48));
  // Reserved tags are remapped deterministically, so every proxy computes the same epoch.
  while (reserved(tag)) tag = static_cast<uint16_t>(tag * 31u + 7u);
  return BackendEpoch(tag);
}

std::optional<BackendEpoch> BackendEpoch::from_tag(uint16_t tag) {
  if (reserved(tag)) return std::nullopt;
  return BackendEpoch(tag);
}

}  // namespace mccache::lease
