// What each client request came to, as the metrics count it. Each proxy thread owns one
// RequestCounters and is its only writer (relaxed atomics: no lock, no shared cache line on the
// request path); the /metrics scrape sums them.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "mcproxy/protocol/request.h"
#include "pool/reply_parser.h"

namespace mccache::core {

enum class Result : uint8_t {
  kOk,
  kHit,
  kMiss,
  kNotStored,
  kExists,
  kNotFound,
  kClientError,
  kServerError,
  kBackendDown,
};
inline constexpr int kResultCount = static_cast<int>(Result::kBackendDown) + 1;
inline constexpr int kInvalidCommand = protocol::kCommandCount;  // lines that did not parse

// The Result of a reply passed to the client as memcached wrote it.
Result result_of(const pool::Reply& reply);

// What a lease-get key was answered (one count per key).
enum class LeaseGetOutcome : uint8_t { kHit, kGranted, kHotMiss, kError };
inline constexpr int kLeaseGetOutcomeCount = static_cast<int>(LeaseGetOutcome::kError) + 1;

// What a lease-set was answered, and why (NOT_STORED has several causes an operator tells apart:
// voided tokens are the races leases exist for; foreign-epoch ones follow a memcached restart).
enum class LeaseSetOutcome : uint8_t {
  kStored,
  kVoided,          // NOT_STORED, memcached EX: the item changed (invalidated, set, re-leased)
  kGone,            // NOT_STORED, memcached NF: deleted, or the lease window ran out
  kNotStored,       // NOT_STORED, memcached NS
  kSpecialToken,    // NOT_STORED locally: token 0 (hit) or 1 (hot miss)
  kForeignEpoch,    // NOT_STORED locally: issued before a memcached restart / for another server
  kMalformedToken,  // NOT_STORED locally: not a token mcproxy could have issued
  kError,           // SERVER_ERROR
};
inline constexpr int kLeaseSetOutcomeCount = static_cast<int>(LeaseSetOutcome::kError) + 1;

using Counter = std::atomic<uint64_t>;
// Only the owning thread writes, so a relaxed load+store is exact and avoids a locked add.
inline void bump(Counter& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct RequestCounters {
  std::array<std::array<Counter, kResultCount>, protocol::kCommandCount + 1> requests{};
  std::array<Counter, kLeaseGetOutcomeCount> lease_gets{};
  std::array<Counter, kLeaseSetOutcomeCount> lease_sets{};
  Counter lease_stale_served{0};  // lease-get misses answered with a stale value
  Counter give_backs{0};          // wins a plain get took on a stale copy, given back
  Counter epoch_refreshes{0};     // backend epochs read from `stats` on (re)connect
  Counter get_hits{0};
  Counter get_misses{0};
  Counter gutter_routed{0};  // keys and requests sent to the gutter because their server is down

  void count(protocol::Command c, Result r) {
    bump(requests[static_cast<size_t>(c)][static_cast<size_t>(r)]);
  }
  void count(LeaseGetOutcome o) { bump(lease_gets[static_cast<size_t>(o)]); }
  void count(LeaseSetOutcome o) { bump(lease_sets[static_cast<size_t>(o)]); }
};

}  // namespace mccache::core
