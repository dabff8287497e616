// Bounds-checked big-endian reads over one message: every read reports failure instead of
// running past the end, so truncated or hostile bytes can never crash the decoder.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace mccache::invalidator::pgoutput {

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}

  bool u8(uint8_t& out) {
    if (left() < 1) return false;
    out = static_cast<uint8_t>(bytes_[pos_++]);
    return true;
  }
  bool u16(uint16_t& out) { return be(out); }
  bool u32(uint32_t& out) { return be(out); }
  bool u64(uint64_t& out) { return be(out); }
  bool i32(int32_t& out) {
    uint32_t v;
    if (!be(v)) return false;
    out = static_cast<int32_t>(v);
    return true;
  }
  bool i64(int64_t& out) {
    uint64_t v;
    if (!be(v)) return false;
    out = static_cast<int64_t>(v);
    return true;
  }
  // A NUL-terminated string (protocol "String").
  bool cstring(std::string_view& out) {
    auto end = bytes_.find('\0', pos_);
    if (end == std::string_view::npos) return false;
    out = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  bool bytes(size_t n, std::string_view& out) {
    if (left() < n) return false;
    out = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  std::string_view rest() {
    auto r = bytes_.substr(pos_);
    pos_ = bytes_.size();
    return r;
  }
  size_t left() const { return bytes_.size() - pos_; }
  size_t offset() const { return pos_; }

 private:
  template <typename T>
  bool be(T& out) {
    if (left() < sizeof(T)) return false;
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
      v = static_cast<T>((v << 8) | static_cast<uint8_t>(bytes_[pos_ + i]));
    pos_ += sizeof(T);
    out = v;
    return true;
  }

  std::string_view bytes_;
  size_t pos_ = 0;
};

}  // namespace mccache::invalidator::pgoutput
