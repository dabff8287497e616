// Sends batches to the region's pool, server by server. A server that fails keeps its parts
// (and every later part for it) and is retried, while the other servers get theirs at once: a dead
// server delays only its own keys. A batch every server acknowledged goes to the ConfirmTracker,
// so the slot's position waits for the slowest server (on_server_down "hold"); under "skip" a
// server still down after a whole backoff ladder loses its parts.
// The wire is injected (Exchange): the daemon passes its memcached connections, tests a script.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/invalidator_config.h"
#include "invalidator/clock.h"
#include "invalidator/delivery/batch.h"
#include "invalidator/delivery/confirm_tracker.h"
#include "invalidator/delivery/in_flight.h"
#include "invalidator/delivery/meta_reply.h"
#include "invalidator/error.h"
#include "invalidator/metrics.h"
#include "pool/server_health.h"

namespace mccache::invalidator::delivery {

class Deliverer {
 public:
  // One exchange with server `server`: sends `request` (ending in mn) and scans the replies
  // until MN, within `timeout`.
  using Exchange =
      std::function<Status(size_t server, const std::string& request, MetaReplyScanner& replies,
                           std::chrono::milliseconds timeout)>;

  // `servers`: the pool's, then the gutter's (as in Batch), named in logs.
  Deliverer(std::vector<std::string> servers, const config::DeliveryConfig& cfg, Metrics& metrics,
            ConfirmTracker& tracker, const Clock& clock, Exchange exchange);

  // Hands over a batch that passed the read gate and seals its position with the tracker: each
  // server that is up gets its part now; a server that fails, or still has older parts waiting,
  // keeps this one for retry_due().
  void submit(std::unique_ptr<Batch> batch);
  // The pool changed: the batches in flight, oldest first, to place again over the new servers.
  std::deque<std::unique_ptr<Batch>> take_in_flight();
  // Takes over a batch already sealed (by another Deliverer over the old pool), after every one
  // still in flight here; each server with work in it gets its part as in submit().
  void adopt(std::unique_ptr<Batch> batch);
  // Retries the waiting servers whose backoff has run out, oldest parts first, many batches per
  // exchange.
  void retry_due();
  // Retries until nothing waits (true) or `keep_going` says stop (false); `idle` runs between
  // attempts. For slot recovery and shutdown.
  bool drain(const std::function<bool()>& keep_going, const std::function<void()>& idle);
  // Slot lost: forget every batch in flight.
  void clear();

  bool all_acked() const { return in_flight_.empty(); }
  // `server` has parts waiting for a retry (it failed last time).
  bool waiting(size_t server) const { return servers_[server].waiting; }
  // Keys kept in memory until every server acknowledged them (the read side pauses above a bound).
  size_t retained_keys() const { return in_flight_.retained_keys(); }
  pgoutput::PgTimestamp oldest_commit_time() const { return in_flight_.oldest_commit_time(); }
  // Time until the next retry is due; `cap` when none is.
  std::chrono::microseconds until_next_retry(std::chrono::microseconds cap) const;
  // A cleared batch from those already delivered, to fill next; nullptr when there is none.
  std::unique_ptr<Batch> spare() { return std::move(spare_); }

 private:
  struct Server {
    std::string name;
    pool::Backoff backoff;
    SteadyTime retry_at{};
    SteadyTime waiting_since{};
    bool waiting = false;  // has unacknowledged parts in flight
    bool down = false;     // the last exchange failed (logged once per outage)
  };

  // One exchange with `server` for these batches' parts; acknowledges them on success.
  bool send(size_t server, const std::vector<Batch*>& parts);
  // A bare `mn` with a short deadline: does a server that failed answer again?
  bool probe(size_t server);
  // Schedules the next retry of `server`, whose attempt begun at `attempt_started` failed; under
  // "skip", gives up on it once it has waited a whole backoff ladder.
  void on_failure(size_t server, SteadyTime attempt_started);
  // Hands what every server acknowledged to the tracker, updates metrics and gauges.
  void settle();

  config::DeliveryConfig cfg_;
  DeleteMode mode_;
  bool skip_down_servers_;
  Metrics& metrics_;
  ConfirmTracker& tracker_;
  const Clock& clock_;
  Exchange exchange_;
  std::vector<Server> servers_;
  InFlight in_flight_;
  std::unique_ptr<Batch> spare_;
  std::vector<std::string_view> keys_;  // scratch: the parts' keys of one exchange
  std::string request_;
  std::vector<double> latencies_;
};

}  // namespace mccache::invalidator::delivery
