// Standby, slot loss and its recovery, with the log lines an operator acts on.
#include "invalidator/source/slot_lifecycle.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "config/dsn.h"
#include "invalidator/pgoutput/stream_frame.h"
#include "invalidator/replication/slot_record.h"

namespace mccache::invalidator::source {

std::string check_slot_at_start(replication::Catalog& catalog, const config::SourceConfig& src) {
  auto slot = catalog.slot_status(src.slot);
  replication::SlotRecord here{src.slot, catalog.system_identifier()};
  std::optional<replication::SlotRecord> record;
  if (!src.state_file.empty()) record = replication::read_slot_record(src.state_file);
  if (record && record->slot != here.slot) record.reset();  // another slot: a new deployment
  if (slot.lost) return "wal_status is 'lost' (invalidated, e.g. past max_slot_wal_keep_size)";
  if (record && record->system_identifier != here.system_identifier)
    return src.state_file + " records it on the cluster with system identifier " +
           record->system_identifier + ", but the source's is " + here.system_identifier;
  if (!slot.exists && record)
    return "it does not exist, but " + src.state_file +
           " records that this invalidator streamed from it";
  catalog.ensure_slot(src.slot, src.create_slot);
  if (!src.state_file.empty() && !(record && *record == here))
    replication::write_slot_record(src.state_file, here);
  return "";
}

SlotLifecycle::Connected SlotLifecycle::connect(replication::ReplicationStream& stream) {
  using Start = replication::ReplicationStream::Start;
  auto started = stream.start();
  if (!started) {
    spdlog::warn("{}replication: {}", who_, config::redact_dsns(started.error().message));
    return Connected::kFailed;
  }
  switch (started->state) {
    case Start::kSlotActive:
      if (started->active_pid != standby_pid_)
        spdlog::info("{}standby: {} (another invalidator streams from it); retrying every {} ms",
                     who_, started->detail, src_.standby_retry_ms);
      standby_pid_ = started->active_pid;
      return Connected::kStandby;
    case Start::kSlotMissing:
    case Start::kSlotLost:
      why_lost_ = started->detail;
      return Connected::kLost;
    case Start::kStreaming:
      break;
  }
  standby_pid_ = 0;
  spdlog::info("{}replication: streaming slot {} (publication {})", who_, src_.slot,
               src_.publication);
  return Connected::kStreaming;
}

bool SlotLifecycle::lose(const std::string& why, pgoutput::Lsn confirmed) {
  metrics_.active.Set(0);
  metrics_.slot_lost.Set(1);
  if (lost_) return false;
  lost_ = true;
  spdlog::error(
      "{}replication slot {} is lost ({}): the changes since confirmed flush LSN {} "
      "cannot be streamed any more, so this region's cache may keep stale values. {}",
      who_, src_.slot, why.empty() ? why_lost_ : why, pgoutput::format_lsn(confirmed),
      recovers() ? "source.on_slot_lost is \"flush_region\": flushing every server of the "
                   "pool, then streaming from a new slot"
                 : "source.on_slot_lost is \"halt\": not streaming. Flush the region's "
                   "memcached pool, then remove source.state_file and restart (a new slot is "
                   "created), or set on_slot_lost to \"flush_region\" and send SIGHUP");
  return true;
}

Result<pgoutput::Lsn> SlotLifecycle::replace() {
  try {
    replication::Catalog catalog(src_.dsn);
    auto bar = catalog.replace_lost_slot(src_.slot);
    if (!src_.state_file.empty())
      replication::write_slot_record(src_.state_file, {src_.slot, catalog.system_identifier()});
    return bar;
  } catch (const std::exception& e) {
    // Start-up code throws; here a failure only means "try again after a while".
    spdlog::warn("{}slot recovery: {}", who_, config::redact_dsns(e.what()));
    return fail(e.what());
  }
}

void SlotLifecycle::replaced() {
  spdlog::warn("{}slot {} replaced and every server of the pool flushed; streaming resumes", who_,
               src_.slot);
  lost_ = false;
  metrics_.slot_lost.Set(0);
}

}  // namespace mccache::invalidator::source
