// Standby status updates and gauges.
#include "invalidator/source/status_feedback.h"

#include <spdlog/spdlog.h>

#include "invalidator/pgoutput/stream_frame.h"

namespace mccache::invalidator::source {

void StatusFeedback::send(replication::ReplicationStream& stream, pgoutput::Lsn confirmed) {
  if (!stream.connected()) return;
  auto now = clock_.now();
  if (auto sent = stream.send_status(confirmed,
                                     pgoutput::pg_timestamp_from_unix_micros(clock_.unix_micros()));
      !sent) {
    spdlog::warn("{}replication: status update failed: {}", who_, sent.error().message);
    stream.close();
    return;
  }
  last_sent_ = now;
  last_sent_lsn_ = confirmed;
}

void StatusFeedback::ping(replication::ReplicationStream& stream) {
  if (last_sent_lsn_ == 0) return;  // nothing sent yet: the first status update comes soon
  auto last = last_sent_;
  send(stream, last_sent_lsn_);
  last_sent_ = last;  // not a status update of its own: the interval still runs
}

void StatusFeedback::update_gauges(pgoutput::Lsn confirmed, pgoutput::Lsn server_end,
                                   pgoutput::PgTimestamp oldest_commit) {
  metrics_.confirmed_flush_lsn.Set(static_cast<double>(confirmed));
  metrics_.lag_bytes.Set(server_end > confirmed ? static_cast<double>(server_end - confirmed) : 0);
  double lag = 0;
  if (oldest_commit != 0)
    lag = static_cast<double>(clock_.unix_micros() -
                              pgoutput::unix_micros_from_pg_timestamp(oldest_commit)) /
          1e6;
  metrics_.lag_seconds.Set(lag);
}

}  // namespace mccache::invalidator::source
