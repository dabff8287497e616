// One source's streaming loop: connect (or stand by), read into the filling batch, deliver it when
// the BatchTrigger says so, confirm what the ConfirmTracker allows and publish the region's
// watermark from it, reload between transactions,
// recover a lost slot under "flush_region", and stop in bounded time. Runs in its own thread.
#pragma once

#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "config/config.h"
#include "invalidator/clock.h"
#include "invalidator/delivery/batch.h"
#include "invalidator/delivery/batch_trigger.h"
#include "invalidator/delivery/confirm_tracker.h"
#include "invalidator/metrics.h"
#include "invalidator/replication/catalog_watch.h"
#include "invalidator/replication/stream.h"
#include "invalidator/signals.h"
#include "invalidator/source/gated_delivery.h"
#include "invalidator/source/slot_lifecycle.h"
#include "invalidator/source/startup.h"
#include "invalidator/source/status_feedback.h"
#include "invalidator/source/stream_reader.h"
#include "invalidator/source/watermark_publisher.h"

namespace mccache::invalidator::source {

class SourceLoop {
 public:
  // `prepared`: the source's start-up (startup.h); a slot found lost there starts the loop in
  // the slot-lost state.
  SourceLoop(const config::DatacenterConfig& config, size_t source, PreparedSource prepared,
             prometheus::Registry& registry, const Clock& clock = system_clock());

  // Until SIGINT/SIGTERM (0), a halt (2), an undecodable stream (1) or, after slot loss under
  // "halt", a stop (3).
  int run();

 private:
  bool keep_delivering() const;
  bool reload_requested() const { return reload_requests() != reloads_seen_; }
  // Sleeps up to `d`, waking early for a signal.
  void nap(std::chrono::milliseconds d);
  void slot_lost(const std::string& why);
  // The primary gate cannot reach the primary: hold the batch, close the stream.
  void let_go_of_stream();
  bool recover_slot();
  void reload();
  // Reads a pass and delivers the batch if it is due; false when the source must stop.
  bool step(int& exit_code);
  // SIGINT/SIGTERM: one bounded last attempt for what was read.
  void finish();
  void feedback(bool force);
  replication::SchemaWatch::Options watch_options() const;

  config::DatacenterConfig config_;  // as loaded, or as last reloaded (templates only)
  config::SourceConfig src_;         // the primary this loop follows
  std::string who_;  // "source <name>: " in front of log lines when there are several
  const Clock& clock_;
  Metrics metrics_;
  delivery::ConfirmTracker tracker_;
  GatedDelivery delivery_;
  replication::ReplicationStream stream_;
  replication::SchemaWatch schema_watch_;  // the cached tables' catalog, between transactions
  StreamReader reader_;
  SlotLifecycle slot_;
  StatusFeedback status_;
  WatermarkPublisher watermark_;
  delivery::BatchTrigger trigger_;
  std::unique_ptr<delivery::Batch> batch_;  // filling; handed to delivery_ when due
  // 0, not the count at construction: a SIGHUP that came during start-up (after READY=1 was
  // sent) is still applied.
  uint64_t reloads_seen_ = 0;
  bool reload_pending_ = false;
  bool reported_paused_ = false;
  bool gate_unreachable_ = false;  // the last gate attempt could not reach the primary
  bool final_attempt_ = false;
  pgoutput::Lsn pinged_end_ = 0;  // the server's end when the walsender was last pinged
  SteadyTime next_ping_{};
  static constexpr std::chrono::milliseconds kPingInterval{5};
  SteadyTime shutdown_deadline_{};
};

}  // namespace mccache::invalidator::source
