// Frames, decoding and key assembly for one read pass.
#include "invalidator/source/stream_reader.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "invalidator/pgoutput/stream_frame.h"

namespace mccache::invalidator::source {
namespace {

// Messages per pass: the loop must get back to delivery, retries and status updates while a
// backlog streams in.
constexpr int kMessagesPerPass = 20000;

}  // namespace

void StreamReader::new_session() {
  txns_ = std::make_unique<keys::TransactionKeys>(options_, schema_);
  reported_stats_ = {};
  reported_rows_ = 0;
}

Status StreamReader::replace_options(const keys::TransactionKeysOptions& options) {
  std::string error;
  if (txns_ && !txns_->replace_options(options, error)) return fail(error);
  options_ = options;
  return Ok{};
}

ReadPass StreamReader::read(replication::ReplicationStream& stream, delivery::Batch& batch,
                            const delivery::BatchTrigger& trigger,
                            const std::function<void()>& reply_requested) {
  ReadPass pass{ReadPass::kFull};
  replication::CopyBuffer buf;
  for (int n = 0; n < kMessagesPerPass && !trigger.full(batch.key_count()); ++n) {
    auto got = stream.read(buf);
    if (!got) {
      spdlog::warn("{}replication: {}", who_, got.error().message);
      pass = {ReadPass::kFailed};
      break;
    }
    if (!*got) {
      pass = {ReadPass::kDry};
      break;
    }
    auto frame = pgoutput::decode_frame(buf.bytes());
    if (frame.status != pgoutput::Status::kOk) {
      spdlog::error("{}replication: bad CopyData ({}); reconnecting", who_, frame.error);
      pass = {ReadPass::kFailed};
      break;
    }
    if (auto* k = std::get_if<pgoutput::Keepalive>(&frame.frame)) {
      server_end_ = std::max(server_end_, k->wal_end);
      tracker_.keepalive(k->wal_end, txns_->in_transaction());
      if (k->reply_requested) reply_requested();
      continue;
    }
    auto& x = std::get<pgoutput::XLogData>(frame.frame);
    server_end_ = std::max(server_end_, x.wal_end);
    auto msg = pgoutput::decode(x.payload);
    if (msg.status != pgoutput::Status::kOk) {
      spdlog::error("{}pgoutput: cannot decode message at {}: {} ({}); stopping without confirming",
                    who_, pgoutput::format_lsn(x.wal_start), pgoutput::status_name(msg.status),
                    msg.error);
      pass = {ReadPass::kStopped, 1};
      break;
    }
    if (auto* begin = std::get_if<pgoutput::Begin>(&msg.message))
      open_final_lsn_ = begin->final_lsn;
    auto ev = txns_->on_message(std::move(msg.message));
    for (const auto& notice : ev.notices) report(notice);
    // A transaction with more keys than the batch has room for goes in parts, each delivered
    // when the batch is full; only the last one, at COMMIT, carries its position.
    if (size_t room = trigger.max_keys() - std::min(trigger.max_keys(), batch.key_count());
        txns_->open_keys() >= std::max<size_t>(room, 1)) {
      auto part = txns_->take_open_part();
      part.gate_lsn = open_final_lsn_ + 1;
      tracker_.read(0);
      batch.add(std::move(part));
    }
    if (ev.kind == keys::StreamEvent::kCommitted) {
      if (ev.txn.end_lsn != 0) metrics_.transactions.Increment();
      tracker_.read(ev.txn.end_lsn);
      batch.add(std::move(ev.txn));
    } else if (ev.kind == keys::StreamEvent::kHalt) {
      spdlog::error("{}{}; stopping at {} without confirming it (truncate policy)", who_,
                    ev.message, pgoutput::format_lsn(x.wal_start));
      pass = {ReadPass::kStopped, 2};
      break;
    } else if (ev.kind == keys::StreamEvent::kReconnect) {
      spdlog::warn("{}replication: {}; reconnecting", who_, ev.message);
      pass = {ReadPass::kFailed};
      break;
    } else if (ev.kind == keys::StreamEvent::kError) {
      spdlog::error("{}{}", who_, ev.message);
      pass = {ReadPass::kStopped, 1};
      break;
    }
  }
  record_key_stats();
  return pass;
}

void StreamReader::report(const keys::SchemaNotice& notice) {
  if (notice.unfollowed)
    spdlog::error("{}schema change: {}", who_, notice.message);
  else
    spdlog::warn("{}schema change: {}", who_, notice.message);
  metrics_.schema_changes[static_cast<size_t>(notice.change)]->Increment();
}

void StreamReader::record_key_stats() {
  if (!txns_) return;
  const auto& s = txns_->stats();
  metrics_.unnamed_changes.Increment(
      static_cast<double>(s.unnamed_changes - reported_stats_.unnamed_changes));
  metrics_.key_null_column.Increment(
      static_cast<double>(s.null_column - reported_stats_.null_column));
  metrics_.key_invalid.Increment(static_cast<double>(s.invalid_key - reported_stats_.invalid_key));
  if (s.unchanged_toast != reported_stats_.unchanged_toast)
    spdlog::warn(
        "{}{} key(s) skipped: an unchanged TOASTed key column without an old value "
        "(such a key would exceed 250 bytes anyway)",
        who_, s.unchanged_toast - reported_stats_.unchanged_toast);
  metrics_.key_unchanged_toast.Increment(
      static_cast<double>(s.unchanged_toast - reported_stats_.unchanged_toast));
  metrics_.rows.Increment(static_cast<double>(txns_->rows() - reported_rows_));
  reported_stats_ = s;
  reported_rows_ = txns_->rows();
}

}  // namespace mccache::invalidator::source
