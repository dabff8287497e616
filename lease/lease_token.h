// LeaseToken: the 64-bit token a lease-get client sees, encoding the memcached CAS of the
// placeholder/stale item it won plus the backend's epoch. Layout: [epoch tag:16][cas:48].
#pragma once

#include <cstdint>
#include <optional>

#include "lease/backend_epoch.h"

namespace mccache::lease {

// mcrouter's special values (MockMc.h, AsciiSerialized.cpp): 0 on a hit, 1 on a hot miss.
inline constexpr uint64_t kHitToken = 0;
inline constexpr uint64_t kHotMissToken = 1;
// mcrouter marks the tokens it rewrites itself (LeaseTokenMap) with these high 32 bits; a token
// of ours must never look like one, or an mcrouter in front of us would route it as its own.
inline constexpr uint64_t kMcrouterMagicMask = 0xFFFFFFFF00000000ULL;
inline constexpr uint64_t kMcrouterMagic = 0x7aceb00c00000000ULL;

inline constexpr int kCasBits = 48;
inline constexpr uint64_t kMaxEncodableCas = (uint64_t{1} << kCasBits) - 1;

// Why a client token does (not) name a CAS on the current backend.
enum class TokenVerdict {
  Valid,         // issued by us for this backend incarnation: cas() is usable with ms C<cas>
  Special,       // 0 (hit) or 1 (hot miss): never a lease
  ForeignEpoch,  // issued before a memcached restart, or for another server
  Malformed,     // not a token we could have issued (cas 0, reserved tag)
};

class LeaseToken {
 public:
  // nullopt when cas is 0 or needs more than 48 bits (2.8e14 writes into one memcached life).
  static std::optional<LeaseToken> issue(BackendEpoch epoch, uint64_t cas);
  static constexpr LeaseToken from_wire(uint64_t wire) { return LeaseToken(wire); }

  constexpr uint64_t wire() const { return wire_; }
  TokenVerdict check(BackendEpoch current) const;
  constexpr uint64_t cas() const { return wire_ & kMaxEncodableCas; }
  constexpr uint16_t epoch_tag() const { return static_cast<uint16_t>(wire_ >> kCasBits); }

  friend bool operator==(LeaseToken, LeaseToken) = default;

 private:
  explicit constexpr LeaseToken(uint64_t wire) : wire_(wire) {}
  uint64_t wire_;
};

// True for values a lease-aware client or mcrouter gives a meaning of its own.
constexpr bool is_special_token(uint64_t wire) {
  return wire == kHitToken || wire == kHotMissToken || wire == ~uint64_t{0} ||
         (wire & kMcrouterMagicMask) == kMcrouterMagic;
}

}  // namespace mccache::lease
