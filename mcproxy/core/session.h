// One client as the core sees it: its replies in request order, whatever order the backends
// answer in (Envoy redis_proxy's onResponse flushing from the head of its pending queue), and
// what holds it open. The shell's client connection (net/client_connection) is a Session that
// also owns the socket.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mccache::core {

// The head slot writes straight into the output, so the common in-order case copies each reply
// once; later slots wait in reusable buffers (no allocation in steady state).
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

class Session {
 public:
  Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  ReplyQueue& replies() { return replies_; }
  const ReplyQueue& replies() const { return replies_; }
  // A reply the proxy gives itself: reserve, append and complete in one go.
  void reply_now(size_t request_bytes, std::string_view bytes) {
    uint64_t seq = replies_.reserve(request_bytes);
    replies_.buffer_for(seq).append(bytes);
    replies_.complete(seq);
  }

  // Closed: replies still arriving for it are dropped (a plain get still gives back its win).
  bool closed() const { return closed_; }
  // Its requests waiting on the shared backend connections (they bound its share of them).
  size_t backend_requests() const { return backend_requests_; }

  // Backend requests and the flush list hold the session by count: the shell forgets a closed
  // one only once nothing holds it.
  void add_ref() { ++refs_; }
  // True once the session is closed and nothing holds it any more.
  bool release() {
    --refs_;
    return forgettable();
  }
  bool forgettable() const { return closed_ && refs_ == 0; }

  void backend_request_sent() {
    ++backend_requests_;
    add_ref();
  }
  // Called only with the session on the flush list, which still holds it (Flushes::session).
  void backend_request_done() {
    --backend_requests_;
    --refs_;
  }

  bool flush_queued = false;  // on the flush list already

 protected:
  void mark_closed() { closed_ = true; }

 private:
  ReplyQueue replies_;
  size_t backend_requests_ = 0;
  int refs_ = 0;
  bool closed_ = false;
};

}  // namespace mccache::core
