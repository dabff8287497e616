// Read gate, then delivery.
#include "invalidator/source/gated_delivery.h"

#include "invalidator/source/startup.h"

namespace mccache::invalidator::source {
namespace {

std::vector<std::string> names(const std::vector<config::HostPort>& servers) {
  std::vector<std::string> out;
  for (const auto& s : servers) out.push_back(s.str());
  return out;
}

}  // namespace

GatedDelivery::GatedDelivery(const config::DatacenterConfig& config,
                             const config::SourceConfig& src, Metrics& metrics,
                             delivery::ConfirmTracker& tracker, const Clock& clock)
    : max_held_keys_(config.invalidator->delivery.max_held_keys),
      metrics_(metrics),
      placement_(config.pool),
      deliverer_(names(every_server(config.pool)), config.invalidator->delivery, metrics, tracker,
                 clock,
                 [this](size_t server, const std::string& request,
                        delivery::MetaReplyScanner& replies, std::chrono::milliseconds timeout) {
                   return connections_[server].exchange(request, replies, timeout);
                 }),
      // Without a local replica the region reads the primary itself: gate on visibility there.
      gate_(src.wait_for_replay.value_or(src.dsn), !src.wait_for_replay.has_value(), clock) {
  auto timeout = std::chrono::milliseconds(config.invalidator->delivery.request_timeout_ms);
  for (const auto& s : every_server(config.pool)) connections_.emplace_back(s, timeout);
}

std::unique_ptr<delivery::Batch> GatedDelivery::new_batch() {
  if (auto spare = deliverer_.spare()) return spare;
  auto route = [this](std::string_view k) { return placement_.server_for(k); };
  if (!placement_.has_gutter())
    return std::make_unique<delivery::Batch>(placement_.servers(), route);
  return std::make_unique<delivery::Batch>(
      placement_.servers(), route, placement_.gutter_servers(),
      [this](std::string_view k) { return placement_.gutter_for(k); });
}

bool GatedDelivery::gate(const delivery::Batch& batch, pgoutput::Lsn lsn,
                         const KeepGoing& keep_going, const Idle& idle) {
  auto before = gate_.total_wait();
  auto polls = gate_.polls();
  bool shown = gate_.wait_for(lsn, batch.xids(), keep_going, idle);
  metrics_.replica_wait_seconds.Increment(
      std::chrono::duration<double>(gate_.total_wait() - before).count());
  metrics_.replica_polls.Increment(static_cast<double>(gate_.polls() - polls));
  return shown;
}

bool GatedDelivery::deliver(std::unique_ptr<delivery::Batch>& batch, const KeepGoing& keep_going,
                            const Idle& idle) {
  bool has_work = batch->key_count() > 0 || batch->flush_region();
  if (has_work && !gate(*batch, batch->end_lsn(), keep_going, idle)) return false;
  // A batch without keys still goes through the deliverer: its position may be confirmed only
  // after the batches before it.
  deliverer_.submit(std::move(batch));
  batch = new_batch();
  return true;
}

bool GatedDelivery::flush_region(pgoutput::Lsn bar, const KeepGoing& keep_going, const Idle& idle) {
  auto flush = new_batch();
  delivery::CommittedTxn everything;
  everything.flush_region = true;
  flush->add(std::move(everything));
  // A reader that misses after the flush must read a replica that has every change the new slot
  // will not stream, or it could refill the cache from an older row (design.md, race 2).
  if (!gate(*flush, bar, keep_going, idle)) return false;
  deliverer_.submit(std::move(flush));
  return deliverer_.drain(keep_going, idle);
}

}  // namespace mccache::invalidator::source
