// Which incarnation of a memcached server a lease token belongs to. memcached restarts its CAS
// counter at 1, so a CAS alone cannot tell a pre-restart lease from a new item's CAS.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mccache::lease {

// The process identity memcached reports in `stats`: pid, and its start time as `time - uptime`
// (both derive from memcached's process_started, so the difference is stable for the process's
// whole life).
struct BackendIdentity {
  uint64_t pid = 0;
  int64_t started_at = 0;  // unix seconds
  friend bool operator==(const BackendIdentity&, const BackendIdentity&) = default;
};

// Reads pid, time and uptime from a `stats` reply ("STAT <name> <value>\r\n" lines, optionally
// ending with "END\r\n"). nullopt if one of the three is missing or not a number.
std::optional<BackendIdentity> identity_from_stats(std::string_view stats_reply);

// A 16-bit tag of (server name, pid, start time), placed in the top bits of every lease token.
// Never 0 (so tokens are never mcrouter's 0/1), never 0x7ace (mcrouter's own routed tokens start
// with 0x7aceb00c), never 0xffff (mcrouter's parser refuses token -1).
class BackendEpoch {
 public:
  // `server` must be the same string in every proxy of the region (the pool config's
  // "host:port"), so that a token issued by one proxy validates in another.
  static BackendEpoch of(std::string_view server, const BackendIdentity& identity);
  static std::optional<BackendEpoch> from_tag(uint16_t tag);  // nullopt for a reserved tag

  uint16_t tag() const { return tag_; }
  friend bool operator==(BackendEpoch, BackendEpoch) = default;

 private:
  explicit BackendEpoch(uint16_t tag) : tag_(tag) {}
  uint16_t tag_;
};

}  // namespace mccache::lease
