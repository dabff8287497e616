// A backend channel's connect and failure: the probe that reads the lease epoch goes first; a
// failure answers everything waiting.
#include "mcproxy/core/backend_channel.h"

#include "mcproxy/core/reply_translate.h"

namespace mccache::core {

void BackendChannel::connected(TimePoint now) {
  out_.insert(0, "stats\r\n");
  Pending probe{nullptr, 0, {ReplyKind::kEpochProbe, protocol::Command::kStats}, now};
  pending_.insert(pending_.begin() + static_cast<std::ptrdiff_t>(head_), probe);
}

void BackendChannel::release_hold() {
  if (held_.empty()) return;
  Held& first = held_.front();
  out_.append(first.out);
  if (head_ > 0 && head_ == pending_.size()) {
    pending_.clear();
    head_ = 0;
  }
  pending_.insert(pending_.end(), first.pending.begin(), first.pending.end());
  held_.pop_front();
}

void BackendChannel::fail(std::string_view reason, Context& ctx) {
  epoch_.reset();
  probe_done_ = false;
  out_.clear();
  // Moved out first: answering may close clients, which never re-enters this channel, but the
  // loop is then simple to reason about.
  std::vector<Pending> waiting(pending_.begin() + static_cast<std::ptrdiff_t>(head_),
                               pending_.end());
  for (const Held& h : held_) waiting.insert(waiting.end(), h.pending.begin(), h.pending.end());
  held_.clear();
  pending_.clear();
  head_ = 0;
  replies_seen_ = 0;
  head_absent_ = false;
  for (const auto& p : waiting) fail_waiting(p, reason, ctx);
}

}  // namespace mccache::core
