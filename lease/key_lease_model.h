// KeyLeaseModel: the reference state machine of one key's lease semantics, as mcproxy gives them
// to clients on top of memcached 1.6.18 (docs/protocol.md). It is the specification the meta
// mapping is tested against; the proxy itself keeps no lease state.
//
//   Absent --lease-get--> Placeholder(lease T, lease_ttl) --lease-set T--> Fresh
//   Fresh --invalidate--> Stale(no lease, stale_ttl) --lease-get--> Stale(lease T) --set T--> Fresh
//   any --delete--> Absent;  Placeholder/Stale/Fresh(exptime) --time--> Absent
//   invalidate of Placeholder/Stale voids its lease; any replacement of the item voids it too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lease/backend_epoch.h"
#include "lease/clock.h"
#include "lease/lease_get.h"
#include "lease/lease_set.h"
#include "lease/settings.h"

namespace mccache::lease {

struct ModelValue {
  std::string bytes;
  uint32_t client_flags = 0;
  friend bool operator==(const ModelValue&, const ModelValue&) = default;
};

struct ModelLeaseGet {
  LeaseGetKind kind = LeaseGetKind::Hit;
  uint64_t token = 0;  // 0 hit, 1 hot miss, else a LeaseToken
  ModelValue value;    // hit value, stale copy, or empty
  bool stale = false;
};

class KeyLeaseModel {
 public:
  KeyLeaseModel(const Clock& clock, LeaseSettings settings, BackendEpoch epoch);

  ModelLeaseGet lease_get();
  // exptime_s: 0 never expires, > 0 relative seconds, < 0 already expired (as in `set`).
  LeaseSetResult lease_set(uint64_t token, ModelValue value, int64_t exptime_s = 0);
  // A plain get/gets through the proxy: only a fresh item is a hit.
  std::optional<ModelValue> get();
  // A plain set through the proxy (it replaces the item, so it voids any lease).
  void set(ModelValue value, int64_t exptime_s = 0);
  // A delete through the proxy or the invalidator; true if a fresh item was there (DELETED: a
  // stale copy or a placeholder is no item to a plain command).
  bool remove(DeleteMode mode);
  // memcached restarted: everything is gone and tokens of the old epoch must not validate.
  void restart(BackendEpoch new_epoch);

  BackendEpoch epoch() const { return epoch_; }

 private:
  enum class State { Absent, Fresh, Placeholder, Stale };

  void expire();
  uint64_t issue_token();
  void become_fresh(ModelValue value, int64_t exptime_s);

  const Clock& clock_;
  LeaseSettings settings_;
  BackendEpoch epoch_;
  uint64_t issued_ = 0;  // tokens issued in this epoch (memcached's CAS restarts too)
  State state_ = State::Absent;
  ModelValue value_;
  std::optional<TimePoint> expires_at_;
  std::optional<uint64_t> holder_;  // the one valid lease token, if any
};

}  // namespace mccache::lease
