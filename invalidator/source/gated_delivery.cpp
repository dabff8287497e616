// Read gate, then delivery; a new pool on reload.
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
    : delivery_config_(config.invalidator->delivery),
      metrics_(metrics),
      tracker_(tracker),
      clock_(clock),
      // Without a local replica the region reads the primary itself: gate on visibility there.
      gate_(src.wait_for_replay.value_or(src.dsn), !src.wait_for_replay.has_value(), clock) {
  connect_pool(config.pool);
}

void GatedDelivery::connect_pool(const config::PoolConfig& pool) {
  placement_ = std::make_unique<pool::Placement>(pool);
  auto servers = every_server(pool);
  connections_.clear();
  auto timeout = std::chrono::milliseconds(delivery_config_.request_timeout_ms);
  for (const auto& s : servers) connections_.emplace_back(s, timeout);
  metrics_.set_servers(servers);
  deliverer_ = std::make_unique<delivery::Deliverer>(
      names(servers), delivery_config_, metrics_, tracker_, clock_,
      [this](size_t server, const std::string& request, delivery::MetaReplyScanner& replies,
             std::chrono::milliseconds timeout) {
        return connections_[server].exchange(request, replies, timeout);
      });
}

void GatedDelivery::reroute(delivery::Batch& batch) const {
  auto route = [p = placement_.get()](std::string_view k) { return p->server_for(k); };
  if (!placement_->has_gutter()) return batch.reroute(placement_->servers(), route);
  batch.reroute(placement_->servers(), route, placement_->gutter_servers(),
                [p = placement_.get()](std::string_view k) { return p->gutter_for(k); });
}

void GatedDelivery::change_pool(const config::PoolConfig& pool, delivery::Batch& filling) {
  auto moving = deliverer_->take_in_flight();
  connect_pool(pool);
  reroute(filling);
  // Oldest first, with their tickets: the slot's position still waits for each of them.
  for (auto& b : moving) {
    reroute(*b);
    deliverer_->adopt(std::move(b));
  }
}

std::unique_ptr<delivery::Batch> GatedDelivery::new_batch() {
  if (auto spare = deliverer_->spare()) return spare;
  auto batch = std::make_unique<delivery::Batch>(0, [](std::string_view) { return size_t{0}; });
  reroute(*batch);
  return batch;
}

GatedDelivery::Gate GatedDelivery::gate(const delivery::Batch& batch, pgoutput::Lsn lsn,
                                        const KeepGoing& keep_going, const Idle& idle) {
  auto before = gate_.total_wait();
  auto polls = gate_.polls();
  auto outcome = gate_.wait_for(lsn, batch.xids(), keep_going, idle);
  metrics_.replica_wait_seconds.Increment(
      std::chrono::duration<double>(gate_.total_wait() - before).count());
  metrics_.replica_polls.Increment(static_cast<double>(gate_.polls() - polls));
  return outcome;
}

GatedDelivery::Gate GatedDelivery::deliver(std::unique_ptr<delivery::Batch>& batch,
                                           const KeepGoing& keep_going, const Idle& idle) {
  bool has_work = batch->key_count() > 0 || batch->flush_region();
  if (has_work)
    if (auto g = gate(*batch, batch->gate_lsn(), keep_going, idle); g != Gate::kShown) return g;
  // A batch without keys still goes through the deliverer: its position may be confirmed only
  // after the batches before it.
  deliverer_->submit(std::move(batch));
  batch = new_batch();
  return Gate::kShown;
}

void GatedDelivery::refresh_gate_position() {
  gate_.refresh_position();
  metrics_.replica_polls.Increment();
}

Status GatedDelivery::send_to_owner(std::string_view key, const std::string& request,
                                    delivery::MetaReplyScanner& replies) {
  // As Deliverer::probe: a hung server must cost the loop little.
  constexpr std::chrono::milliseconds kTimeout{100};
  size_t server = placement_->server_for(key);
  if (deliverer_->waiting(server)) return fail("its server is down");
  return connections_[server].exchange(
      request, replies,
      std::min(kTimeout, std::chrono::milliseconds(delivery_config_.request_timeout_ms)));
}

bool GatedDelivery::flush_region(pgoutput::Lsn bar, const KeepGoing& keep_going, const Idle& idle) {
  auto flush = new_batch();
  delivery::CommittedTxn everything;
  everything.flush_region = true;
  flush->add(std::move(everything));
  // A reader that misses after the flush must read a replica that has every change the new slot
  // will not stream, or it could refill the cache from an older row (design.md, race 2).
  if (gate(*flush, bar, keep_going, idle) != Gate::kShown) return false;
  deliverer_->submit(std::move(flush));
  return deliverer_->drain(keep_going, idle);
}

}  // namespace mccache::invalidator::source
