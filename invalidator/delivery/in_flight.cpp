// In-flight batch bookkeeping.
#include "invalidator/delivery/in_flight.h"

#include <algorithm>
#include <utility>

namespace mccache::invalidator::delivery {

namespace {
bool waits_for(const Batch& b, size_t server) {
  return b.has_work(server) && !b.pipelines()[server].acked;
}
}  // namespace

void InFlight::push(std::unique_ptr<Batch> batch) {
  retained_keys_ += batch->key_count();
  batches_.push_back(std::move(batch));
}

void InFlight::pop_acked(const std::function<void(std::unique_ptr<Batch>)>& done) {
  while (!batches_.empty() && batches_.front()->all_acked()) {
    auto batch = std::move(batches_.front());
    batches_.pop_front();
    retained_keys_ -= batch->key_count();
    if (done) done(std::move(batch));
  }
}

std::deque<std::unique_ptr<Batch>> InFlight::take_all() {
  retained_keys_ = 0;
  return std::exchange(batches_, {});
}

void InFlight::clear() {
  batches_.clear();
  retained_keys_ = 0;
}

pgoutput::PgTimestamp InFlight::oldest_commit_time() const {
  // Batches are in commit order: the first one with a commit time has the oldest.
  for (const auto& b : batches_)
    if (auto t = b->oldest_commit_time()) return t;
  return 0;
}

std::vector<Batch*> InFlight::next_for(size_t server, size_t max_keys) const {
  std::vector<Batch*> out;
  size_t keys = 0;
  for (const auto& b : batches_) {
    if (!waits_for(*b, server)) continue;
    size_t n = b->pipelines()[server].keys.size();
    if (!out.empty() && (b->flush_region() || keys + n > max_keys)) break;
    out.push_back(b.get());
    keys += n;
  }
  return out;
}

}  // namespace mccache::invalidator::delivery
