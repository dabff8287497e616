// Shared by the fuzz targets: an invariant check that stays on in Release builds, and the
// chunking a socket would impose on a byte stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

// abort() rather than assert(): the fuzz tree builds Release (-DNDEBUG) and libFuzzer must still
// see the violation as a crash and save the input.
#define FUZZ_CHECK(cond, what)                                                              \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, what, \
                   #cond);                                                                  \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace mccache::fuzz {

// True when `inner` lies entirely within `outer` (an empty view anywhere inside counts).
inline bool within(std::string_view inner, std::string_view outer) {
  if (inner.empty()) return true;
  auto b = reinterpret_cast<uintptr_t>(outer.data());
  auto i = reinterpret_cast<uintptr_t>(inner.data());
  return i >= b && i + inner.size() <= b + outer.size();
}

// An exact-size heap copy, so ASan flags a read even one byte past what the parser was given
// (std::string's spare capacity would hide it).
class ExactBuffer {
 public:
  explicit ExactBuffer(std::string_view bytes)
      : size_(bytes.size()), data_(new char[bytes.size() ? bytes.size() : 1]) {
    if (size_) std::memcpy(data_.get(), bytes.data(), size_);
  }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  size_t size_;
  std::unique_ptr<char[]> data_;
};

// Chunk sizes as the kernel might hand reads to a server: a small PRNG seeded from the fuzz input,
// so libFuzzer explores splits by mutating the seed. `max_chunk` 0 means "everything at once".
class ChunkPlan {
 public:
  ChunkPlan(uint32_t seed, size_t max_chunk) : state_(seed | 1u), max_chunk_(max_chunk) {}
  size_t next(size_t left) {
    if (max_chunk_ == 0) return left;
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    size_t n = 1 + state_ % max_chunk_;
    return n < left ? n : left;
  }

 private:
  uint32_t state_;
  size_t max_chunk_;
};

}  // namespace mccache::fuzz
