// LeaseToken encode/decode.
#include "lease/lease_token.h"

namespace mccache::lease {

std::optional<LeaseToken> LeaseToken::issue(BackendEpoch epoch, uint64_t cas) {
  if (cas == 0 || cas > kMaxEncodableCas) return std::nullopt;
  // The tag is never 0, 0x7ace or 0xffff, so the result is >= 2^48 (never 0/1), never has
  // mcrouter's magic high half and is never ~0; cas sits in the low bits unchanged, so distinct
  // CAS values under one epoch give distinct tokens.
  return LeaseToken((uint64_t{epoch.tag()} << kCasBits) | cas);
}

TokenVerdict LeaseToken::check(BackendEpoch current) const {
  if (wire_ == kHitToken || wire_ == kHotMissToken) return TokenVerdict::Special;
  if (!BackendEpoch::from_tag(epoch_tag()) || cas() == 0) return TokenVerdict::Malformed;
  if (epoch_tag() != current.tag()) return TokenVerdict::ForeignEpoch;
  return TokenVerdict::Valid;
}

}  // namespace mccache::lease
