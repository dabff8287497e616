// Lease settings shared by the mapping and the model (filled from config's "leases" section).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mccache::lease {

// What a plain `delete` (and the invalidator) does to a key. Both void outstanding lease tokens:
// memcached bumps the CAS (Invalidate) or drops the item (Remove), and a token is a CAS.
enum class DeleteMode {
  Invalidate,  // md <key> I T<stale_ttl>: keep a stale copy for lease-get's hot misses
  Remove,      // md <key>
};

// "invalidate" / "delete", the names config/ uses; nullopt for anything else.
std::optional<DeleteMode> delete_mode_from_name(std::string_view name);

struct LeaseSettings {
  uint32_t lease_ttl_s = 10;  // life of a miss placeholder, i.e. of the lease it carries
  uint32_t stale_ttl_s = 10;  // life of an invalidated item's stale copy
  DeleteMode delete_mode = DeleteMode::Invalidate;
};

}  // namespace mccache::lease
