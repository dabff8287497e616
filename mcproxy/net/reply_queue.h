// In-order replies for one pipelined client whose requests complete out of order (different
// backends, different speeds). The head slot writes straight into the output, so the common
// in-order case copies each reply once; later slots wait in reusable buffers (no allocation in
// steady state). The idea is Envoy redis_proxy's onResponse flushing from the head.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mccache::net {

class ReplyQueue {
 public:
  ReplyQueue() : slots_(16) {}

  // A slot for the next request, in request order; `request_bytes` count as unanswered until the
  // slot's reply reaches the output.
  uint64_t reserve(size_t request_bytes) {
    if (tail_ - head_ == slots_.size()) grow();
    Slot& s = slots_[tail_ & (slots_.size() - 1)];
    s.done = false;
    s.request_bytes = request_bytes;
    unanswered_ += request_bytes;
    return tail_++;
  }

  // Where the reply of slot `seq` is to be appended (call complete() when it is whole).
  std::string& buffer_for(uint64_t seq) {
    return seq == head_ ? output_ : slots_[seq & (slots_.size() - 1)].bytes;
  }

  void complete(uint64_t seq) {
    slots_[seq & (slots_.size() - 1)].done = true;
    while (head_ != tail_) {
      Slot& s = slots_[head_ & (slots_.size() - 1)];
      if (!s.done) break;
      if (!s.bytes.empty()) {
        output_.append(s.bytes);
        s.bytes.clear();
      }
      unanswered_ -= s.request_bytes;
      ++head_;
    }
  }

  std::string& output() { return output_; }
  const std::string& output() const { return output_; }
  size_t unanswered_bytes() const { return unanswered_; }
  size_t open_slots() const { return tail_ - head_; }

 private:
  struct Slot {
    std::string bytes;
    size_t request_bytes = 0;
    bool done = false;
  };

  void grow() {
    std::vector<Slot> bigger(slots_.size() * 2);
    for (uint64_t i = head_; i != tail_; ++i)
      bigger[i & (bigger.size() - 1)] = std::move(slots_[i & (slots_.size() - 1)]);
    slots_ = std::move(bigger);
  }

  std::vector<Slot> slots_;  // size is a power of two; slot of seq is seq & (size - 1)
  uint64_t head_ = 0;        // oldest slot not yet in output_
  uint64_t tail_ = 0;        // next slot to reserve
  size_t unanswered_ = 0;
  std::string output_;
};

}  // namespace mccache::net
