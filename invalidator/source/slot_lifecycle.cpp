// Standby, slot loss and its recovery, with the log lines an operator acts on.
#include "invalidator/source/slot_lifecycle.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <optional>

#include "config/dsn.h"
#include "invalidator/pgoutput/stream_frame.h"
#include "invalidator/replication/slot_record.h"

namespace mccache::invalidator::source {

std::string state_file_path(const config::InvalidatorConfig& inv, const config::SourceConfig& src) {
  if (!src.state_file.empty() && src.state_file.front() == '/') return src.state_file;
  std::string dir = inv.state_dir;
  if (dir.empty()) {
    // systemd passes StateDirectory= as a colon-separated list of absolute paths.
    const char* env = std::getenv("STATE_DIRECTORY");
    dir = env != nullptr && *env != '\0' ? std::string(env).substr(0, std::string(env).find(':'))
                                         : "/var/lib/mccache";
  }
  std::string file = !src.state_file.empty() ? src.state_file
                     : src.name.empty()      ? src.slot + ".state"
                                             : src.name + "-" + src.slot + ".state";
  return dir + "/" + file;
}

SlotAtStart check_slot_at_start(replication::Catalog& catalog, const config::SourceConfig& src) {
  auto slot = catalog.slot_status(src.slot);
  SlotAtStart at;
  at.record = {src.slot, catalog.system_identifier(), std::nullopt};
  auto file = replication::read_slot_record(src.state_file);
  if (file && file->slot != src.slot) file.reset();  // another slot: a new deployment
  if (slot.lost) {
    at.lost = "wal_status is 'lost' (invalidated, e.g. past max_slot_wal_keep_size)";
    return at;
  }
  if (file && file->system_identifier != at.record.system_identifier) {
    at.lost = src.state_file + " records it on the cluster with system identifier " +
              file->system_identifier + ", but the source's is " + at.record.system_identifier;
    return at;
  }
  if (!slot.exists && file) {
    at.lost = "it does not exist, but " + src.state_file +
              " records that this invalidator streamed from it";
    return at;
  }
  if (file) {
    at.record.confirmed = file->confirmed;
    at.trust = file->confirmed ? SlotAtStart::kRecorded : SlotAtStart::kFresh;
  }
  catalog.ensure_slot(src.slot, src.create_slot);
  if (!slot.exists) {
    at.trust = SlotAtStart::kFresh;
    replication::write_slot_record(src.state_file, at.record);
  }
  return at;
}

SlotLifecycle::SlotLifecycle(const config::SourceConfig& src, SlotAtStart at_start, std::string who,
                             Metrics& metrics)
    : src_(src),
      record_(std::move(at_start.record)),
      trust_(at_start.trust),
      who_(std::move(who)),
      metrics_(metrics) {}

std::string SlotLifecycle::check_start(pgoutput::Lsn slot_confirmed) const {
  if (watched_ || trust_ == SlotAtStart::kFresh) return "";
  if (trust_ == SlotAtStart::kUnknown)
    return "no state file records it (" + src_.state_file +
           ") and no other invalidator was seen streaming from it, so where it started is "
           "unknown";
  if (slot_confirmed > *record_.confirmed)
    return "it starts at " + pgoutput::format_lsn(slot_confirmed) +
           ", after the last position this invalidator confirmed (" +
           pgoutput::format_lsn(*record_.confirmed) + ", in " + src_.state_file +
           "): it is not the slot this invalidator streamed from (dropped and created again?)";
  return "";
}

Status SlotLifecycle::write(pgoutput::Lsn confirmed) {
  auto next = record_;
  next.confirmed = confirmed;
  try {
    replication::write_slot_record(src_.state_file, next);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  record_ = std::move(next);
  trust_ = SlotAtStart::kRecorded;
  return Ok{};
}

Status SlotLifecycle::record_confirmed(pgoutput::Lsn confirmed) {
  if (record_.confirmed && confirmed <= *record_.confirmed) return Ok{};
  return write(confirmed);
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
      // Its progress is ours to take over from: recorded, so a takeover after a restart of this
      // process does not take that progress for a replaced slot.
      if (auto r = record_confirmed(started->confirmed_flush); !r)
        spdlog::warn("{}{}", who_, r.error().message);
      watched_ = true;
      return Connected::kStandby;
    case Start::kSlotMissing:
    case Start::kSlotLost:
      why_lost_ = started->detail;
      return Connected::kLost;
    case Start::kStreaming:
      break;
  }
  if (auto why = check_start(started->confirmed_flush); !why.empty()) {
    stream.close();  // before anything is read or confirmed
    why_lost_ = why;
    return Connected::kLost;
  }
  if (auto r = record_confirmed(started->confirmed_flush); !r) {
    stream.close();
    spdlog::warn("{}{}", who_, r.error().message);
    return Connected::kFailed;
  }
  watched_ = false;
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
                   "memcached pool, then drop the slot if it still exists and remove the state "
                   "file " +
                       src_.state_file +
                       ", and restart (a new slot is created); or set "
                       "on_slot_lost to \"flush_region\" and send SIGHUP");
  return true;
}

Result<pgoutput::Lsn> SlotLifecycle::replace() {
  try {
    replication::Catalog catalog(src_.dsn);
    auto bar = catalog.replace_lost_slot(src_.slot);
    record_ = {src_.slot, catalog.system_identifier(), std::nullopt};
    // The slot streams from at most `bar`; what lies below is covered by the flush.
    if (auto w = write(bar); !w) return w.error();
    watched_ = false;
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
