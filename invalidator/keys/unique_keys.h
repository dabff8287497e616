// One transaction's distinct cache keys in first-seen order, deduplicated in O(1) per key: an
// open-addressing index of positions into the key list, so a key is stored once and the index
// costs 8 bytes a slot (at most 4 slots per key). Pure code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mccache::invalidator::keys {

class UniqueKeys {
 public:
  // Adds `key` unless it is already here; true when it was new.
  bool add(std::string_view key);
  const std::vector<std::string>& keys() const { return keys_; }
  size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }
  // Hands the keys over and starts empty (capacity is not kept: a huge transaction's memory goes
  // with its keys).
  std::vector<std::string> take();
  void clear() { (void)take(); }

  // Index slots inspected by add() and by re-placing keys when the index doubles, over the
  // object's life: tests check that this stays linear
  // in the number of add() calls (no timer needed).
  uint64_t probes() const { return probes_; }

 private:
  struct Slot {
    uint32_t position = 0;  // index into keys_ + 1; 0: empty
    uint32_t hash = 0;      // high bits of the key's hash, compared before the strings
  };
  void grow();

  std::vector<std::string> keys_;
  std::vector<Slot> slots_;  // a power of two, at most half full
  uint64_t probes_ = 0;
};

}  // namespace mccache::invalidator::keys
