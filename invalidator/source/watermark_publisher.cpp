// The region watermark's writes.
#include "invalidator/source/watermark_publisher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "invalidator/pgoutput/stream_frame.h"
#include "pool/meta_commands.h"

namespace mccache::invalidator::source {
namespace {
// While W waits only for the read gate (a keepalive moved the tracker past the replica's last
// known position), ask the gate again after 1 ms, backing off to 20 ms while it shows nothing
// new (a paused replica): a token read waits for it, but a lagging replica is not hammered.
constexpr std::chrono::microseconds kFirstGatePoll{1000};
constexpr std::chrono::microseconds kLastGatePoll{20000};
}  // namespace

WatermarkPublisher::WatermarkPublisher(const std::string& source_name, Metrics& metrics,
                                       const Clock& clock)
    : key_(delivery::watermark_key(source_name)), metrics_(metrics), clock_(clock) {}

void WatermarkPublisher::update(GatedDelivery& delivery, const delivery::ConfirmTracker& tracker,
                                bool streaming, bool idle) {
  using Action = delivery::RegionWatermark::Action;
  auto now = clock_.now();
  delivery::WatermarkInput in{tracker.applied(), delivery.gate_position(), streaming};
  if (idle && watermark_.wants_gate(in) && now >= next_gate_poll_) {
    auto before = in.gate;
    delivery.refresh_gate_position();
    in.gate = delivery.gate_position();
    gate_poll_ = in.gate > before ? kFirstGatePoll : std::min(gate_poll_ * 2, kLastGatePoll);
    next_gate_poll_ = now + gate_poll_;
  }
  pending_ = (idle && watermark_.wants_gate(in)) || watermark_.behind(in, now);
  if (!watermark_.wants_gate(in)) gate_poll_ = kFirstGatePoll;
  auto d = watermark_.decide(in, now);
  if (d.action == Action::kNone) return;
  request_.clear();
  if (d.action == Action::kPublish) {
    auto text = pgoutput::format_lsn(d.lsn);
    pool::MetaRequest::set(request_, key_, text.size())
        .flag('T', watermark_.timing().ttl_s)
        .end_with_data(text);
  } else {
    pool::MetaRequest::del(request_, key_).end();
  }
  pool::append_noop(request_);
  delivery::MetaReplyScanner replies;
  auto sent = delivery.send_to_owner(key_, request_, replies);
  // ms answers HD; md answers HD or NF (already gone). Anything else: not written.
  bool ok = sent && replies.server_errors() == 0 && replies.client_errors() == 0 &&
            replies.ok() + (d.action == Action::kWithdraw ? replies.not_found() : 0) == 1;
  watermark_.done(d, ok, clock_.now());
  metrics_.applied_lsn.Set(static_cast<double>(watermark_.published()));
  if (ok) {
    if (std::exchange(failing_, false)) spdlog::info("watermark {}: written again", key_);
    return;
  }
  metrics_.watermark_write_failures.Increment();
  if (!std::exchange(failing_, true))
    spdlog::warn("watermark {}: not written ({}); readers waiting for it fall back meanwhile", key_,
                 sent ? std::string("unexpected reply") : sent.error().message);
}

}  // namespace mccache::invalidator::source
