// KeyLeaseModel transitions.
#include "lease/key_lease_model.h"

#include "lease/lease_token.h"

namespace mccache::lease {

using std::chrono::seconds;

KeyLeaseModel::KeyLeaseModel(const Clock& clock, LeaseSettings settings, BackendEpoch epoch)
    : clock_(clock), settings_(settings), epoch_(epoch) {}

void KeyLeaseModel::expire() {
  if (state_ != State::Absent && expires_at_ && clock_.now() >= *expires_at_) {
    state_ = State::Absent;
    value_ = {};
    expires_at_.reset();
    holder_.reset();
  }
}

uint64_t KeyLeaseModel::issue_token() {
  // Never fails below 2^48 issued tokens per epoch.
  return LeaseToken::issue(epoch_, ++issued_)->wire();
}

void KeyLeaseModel::become_fresh(ModelValue value, int64_t exptime_s) {
  state_ = State::Fresh;
  value_ = std::move(value);
  holder_.reset();
  if (exptime_s == 0) {
    expires_at_.reset();
  } else {
    expires_at_ = clock_.now() + seconds(exptime_s < 0 ? 0 : exptime_s);
  }
}

ModelLeaseGet KeyLeaseModel::lease_get() {
  expire();
  ModelLeaseGet r;
  switch (state_) {
    case State::Fresh:
      r.kind = LeaseGetKind::Hit;
      r.token = kHitToken;
      r.value = value_;
      return r;
    case State::Absent:
      // The first miss in a lease window gets the lease; the placeholder is the window.
      state_ = State::Placeholder;
      value_ = {};
      expires_at_ = clock_.now() + seconds(settings_.lease_ttl_s);
      holder_ = issue_token();
      r.kind = LeaseGetKind::LeaseGranted;
      r.token = *holder_;
      return r;
    case State::Placeholder:
    case State::Stale:
      r.value = value_;
      r.stale = state_ == State::Stale;
      if (!holder_) {
        // A stale copy's lease lasts as long as the copy (memcached keeps the win on the item).
        holder_ = issue_token();
        r.kind = LeaseGetKind::LeaseGranted;
        r.token = *holder_;
      } else {
        r.kind = LeaseGetKind::HotMiss;
        r.token = kHotMissToken;
      }
      return r;
  }
  return r;
}

LeaseSetResult KeyLeaseModel::lease_set(uint64_t token, ModelValue value, int64_t exptime_s) {
  if (LeaseToken::from_wire(token).check(epoch_) != TokenVerdict::Valid) {
    return LeaseSetResult::NotStored;
  }
  expire();
  bool leased = state_ == State::Placeholder || state_ == State::Stale;
  if (!leased || holder_ != token) return LeaseSetResult::NotStored;
  become_fresh(std::move(value), exptime_s);
  return LeaseSetResult::Stored;
}

std::optional<ModelValue> KeyLeaseModel::get() {
  expire();
  if (state_ != State::Fresh) return std::nullopt;
  return value_;
}

void KeyLeaseModel::set(ModelValue value, int64_t exptime_s) {
  become_fresh(std::move(value), exptime_s);
}

bool KeyLeaseModel::remove(DeleteMode mode) {
  expire();
  if (state_ == State::Absent) return false;
  // A stale copy or a placeholder is absent to a plain delete, as to a plain get, though the
  // delete still voids its lease.
  bool was_fresh = state_ == State::Fresh;
  if (mode == DeleteMode::Remove || settings_.stale_ttl_s == 0) {
    state_ = State::Absent;
    value_ = {};
    expires_at_.reset();
    holder_.reset();
    return was_fresh;
  }
  // Invalidate: the copy (empty for a placeholder) stays as stale for stale_ttl and any lease
  // on it is void; the next lease-get wins a new one.
  state_ = State::Stale;
  holder_.reset();
  expires_at_ = clock_.now() + seconds(settings_.stale_ttl_s);
  return was_fresh;
}

void KeyLeaseModel::restart(BackendEpoch new_epoch) {
  epoch_ = new_epoch;
  issued_ = 0;
  state_ = State::Absent;
  value_ = {};
  expires_at_.reset();
  holder_.reset();
}

}  // namespace mccache::lease
