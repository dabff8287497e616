// Batches handed to the pool but not yet acknowledged by every server, oldest first. Pure.
// A down server keeps its parts here while the healthy servers get theirs at once, so one dead
// server delays only its own keys. Batches leave in order, once fully acknowledged; what that
// means for the slot's position is the ConfirmTracker's to say.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "invalidator/delivery/batch.h"

namespace mccache::invalidator::delivery {

class InFlight {
 public:
  void push(std::unique_ptr<Batch> batch);
  // Drops the fully acknowledged batches at the front, oldest first, handing each to `done`.
  void pop_acked(const std::function<void(std::unique_ptr<Batch>)>& done = {});
  // Forgets every batch (the slot was lost).
  void clear();
  // Hands every batch over, oldest first, and is empty then (the pool changed).
  std::deque<std::unique_ptr<Batch>> take_all();
  bool empty() const { return batches_.empty(); }
  size_t batches() const { return batches_.size(); }
  // Keys kept alive for the servers still waiting: a waiting batch counts whole, because it owns
  // every server's keys.
  size_t retained_keys() const { return retained_keys_; }
  // The oldest commit timestamp still unacknowledged (0: none).
  pgoutput::PgTimestamp oldest_commit_time() const;
  // The batches `server` still has to acknowledge, oldest first, to send together in one
  // exchange: at most `max_keys` keys (but at least one batch), and a batch that flushes the
  // region only first, since its flush_all must precede every key sent with it.
  std::vector<Batch*> next_for(size_t server, size_t max_keys) const;

 private:
  std::deque<std::unique_ptr<Batch>> batches_;
  size_t retained_keys_ = 0;
};

}  // namespace mccache::invalidator::delivery
