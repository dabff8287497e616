// Linear probing over a half-full power-of-two table: expected probes per add stay below 2.5
// whatever the number of keys, and doubling re-places each key a bounded number of times on
// average, so deduplicating a transaction is linear in its rows.
#include "invalidator/keys/unique_keys.h"

#include <functional>

namespace mccache::invalidator::keys {
namespace {

uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>{}(key); }
uint32_t tag_of(uint64_t h) { return static_cast<uint32_t>(h >> 32); }

}  // namespace

bool UniqueKeys::add(std::string_view key) {
  if ((keys_.size() + 1) * 2 > slots_.size()) grow();
  const uint64_t h = hash_of(key);
  const uint32_t tag = tag_of(h);
  const size_t mask = slots_.size() - 1;
  for (size_t i = static_cast<size_t>(h) & mask;; i = (i + 1) & mask) {
    ++probes_;
    Slot& s = slots_[i];
    if (s.position == 0) {
      keys_.emplace_back(key);
      s = {static_cast<uint32_t>(keys_.size()), tag};
      return true;
    }
    if (s.hash == tag && keys_[s.position - 1] == key) return false;
  }
}

void UniqueKeys::grow() {
  std::vector<Slot> bigger(slots_.empty() ? 16 : slots_.size() * 2);
  const size_t mask = bigger.size() - 1;
  for (uint32_t p = 0; p < keys_.size(); ++p) {
    const uint64_t h = hash_of(keys_[p]);
    size_t i = static_cast<size_t>(h) & mask;
    ++probes_;
    while (bigger[i].position != 0) {
      i = (i + 1) & mask;
      ++probes_;
    }
    bigger[i] = {p + 1, tag_of(h)};
  }
  slots_ = std::move(bigger);
}

std::vector<std::string> UniqueKeys::take() {
  std::vector<std::string> out = std::move(keys_);
  keys_ = {};
  slots_ = {};
  return out;
}

}  // namespace mccache::invalidator::keys
