// The invalidator's main loop: stream pgoutput from the slot, turn commits into keys, deliver them
// in batches (gated on the local replica), and confirm the slot's flush LSN only past acknowledged
// transactions. One thread; the metrics exposer runs its own.
#include "invalidator/daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <memory>
#include <stdexcept>
#include <thread>

#include "config/dsn.h"
#include "invalidator/delivery/deliverer.h"
#include "invalidator/delivery/replay_gate.h"
#include "invalidator/keys/transaction_keys.h"
#include "invalidator/metrics.h"
#include "invalidator/pgoutput/stream_frame.h"
#include "invalidator/replication/catalog.h"
#include "invalidator/replication/catalog_watch.h"
#include "invalidator/replication/slot_record.h"
#include "invalidator/replication/stream.h"
#include "pool/placement.h"
#include "pool/server_health.h"
#include "service/notify.h"

namespace mccache::invalidator {
namespace {

// SIGINT/SIGTERM count: the first finishes the batch (up to shutdown_timeout_ms), a second aborts.
std::atomic<int> g_stop_signals{0};
// SIGHUP count: each source's loop reloads when it sees a count it has not handled yet.
std::atomic<uint64_t> g_reloads{0};
extern "C" void on_stop_signal(int) { g_stop_signals.fetch_add(1); }
extern "C" void on_reload_signal(int) { g_reloads.fetch_add(1); }
bool stopping() { return g_stop_signals.load() > 0; }

using Clock = std::chrono::steady_clock;
using pgoutput::Lsn;

int64_t unix_micros_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The pool's servers, then the gutter's: the order of the deliverer's connections and metrics.
std::vector<config::HostPort> every_server(const config::PoolConfig& pool) {
  auto all = pool.servers;
  all.insert(all.end(), pool.gutter.servers.begin(), pool.gutter.servers.end());
  return all;
}

std::string table_where(const config::DatacenterConfig& c, const std::string& table, size_t i) {
  return c.file + ": invalidator.tables.\"" + table + "\"[" + std::to_string(i) + "]";
}

// Compiles templates and checks each against the table's replica identity (see docs/invalidator.md).
keys::TransactionKeysOptions prepare(const config::DatacenterConfig& c,
                                     replication::Catalog& catalog) {
  const auto& inv = *c.invalidator;
  keys::TransactionKeysOptions opt;
  opt.message_prefix = inv.message_prefix;
  opt.truncate = inv.truncate;
  for (const auto& [table, templates] : inv.tables) {
    auto identity = catalog.table_identity(table);
    opt.table_oids[table] = identity.oid;
    auto& compiled = opt.tables[table];
    for (size_t i = 0; i < templates.size(); ++i) {
      std::string error;
      auto t = keys::KeyTemplate::compile(templates[i], error);
      if (!t) throw std::runtime_error(table_where(c, table, i) + ": template " + error);
      if (auto problem = keys::check_replica_identity(table_where(c, table, i), table, *t, identity))
        throw std::runtime_error(*problem);
      compiled.push_back(std::move(*t));
    }
  }
  return opt;
}

class Invalidator {
 public:
  Invalidator(const config::DatacenterConfig& c, size_t source, keys::TransactionKeysOptions opt,
              prometheus::Registry& registry)
      : config_(c),
        cfg_(*config_.invalidator),
        src_(cfg_.sources.at(source)),
        who_(src_.name.empty() ? "" : "source " + src_.name + ": "),
        key_options_(std::move(opt)),
        metrics_(registry, src_.name, every_server(c.pool)),
        placement_(c.pool),
        deliverer_(c.pool, cfg_.delivery, metrics_),
        stream_({src_.dsn, src_.slot, src_.publication}),
        schema_watch_(watch_options()),
        batch_(new_batch()) {
    // Without a local replica the region reads the primary itself: gate on visibility there.
    gate_ = std::make_unique<delivery::ReplayGate>(src_.wait_for_replay.value_or(src_.dsn),
                                                   !src_.wait_for_replay.has_value());
  }

  int run();
  // Start-up found the slot missing or invalidated: begin in the slot-lost state.
  void start_slot_lost(const std::string& why) { on_slot_lost(why); }

 private:
  replication::ReplicationStream::Start connect();
  void on_slot_lost(const std::string& why);
  // on_slot_lost "flush_region": new slot, wait for the replica, flush_all every server.
  bool recover_lost_slot();
  void reload();
  bool keep_delivering() const;
  bool reload_requested() const { return g_reloads.load() != reloads_seen_; }
  // An empty batch over the pool's servers, then the gutter's (one already delivered, if any).
  std::unique_ptr<delivery::Batch> new_batch() {
    if (auto spare = deliverer_.spare()) return spare;
    auto route = [this](std::string_view k) { return placement_.server_for(k); };
    if (!placement_.has_gutter())
      return std::make_unique<delivery::Batch>(placement_.servers(), route);
    return std::make_unique<delivery::Batch>(
        placement_.servers(), route, placement_.gutter_servers(),
        [this](std::string_view k) { return placement_.gutter_for(k); });
  }
  // Reading pauses while this many keys wait for a down server (memory stays bounded).
  bool too_many_held() const {
    return deliverer_.retained_keys() >= static_cast<size_t>(cfg_.delivery.max_held_keys);
  }
  // Reads what is buffered; returns false when the stream failed.
  bool read_available(bool& more, int& exit_code);
  bool deliver_batch();
  void send_status(bool force);
  void update_gauges();
  void record_key_stats();
  // Schema changes under the cached tables (keys/schema.h): logged and counted.
  void report(const keys::SchemaNotice& notice);
  replication::SchemaWatch::Options watch_options() const {
    std::vector<std::string> tables;
    for (const auto& [t, _] : cfg_.tables) tables.push_back(t);
    return {src_.dsn, src_.publication, src_.slot, src_.create_publication, key_options_.truncate,
            tables, key_options_.table_oids};
  }

  config::DatacenterConfig config_;  // as loaded, or as last reloaded (templates only)
  config::InvalidatorConfig& cfg_;
  config::SourceConfig src_;  // the primary this loop follows
  std::string who_;           // "source <name>: " in front of log lines when there are several
  keys::TransactionKeysOptions key_options_;
  Metrics metrics_;
  pool::Placement placement_;  // the pool's servers and the gutter's, if any
  delivery::Deliverer deliverer_;
  replication::ReplicationStream stream_;
  replication::SchemaWatch schema_watch_;
  std::unique_ptr<keys::TransactionKeys> txns_;
  std::unique_ptr<delivery::ReplayGate> gate_;
  std::unique_ptr<delivery::Batch> batch_;  // filling; handed to deliverer_ when delivered
  Lsn confirmed_ = 0;
  Lsn sent_status_ = 0;
  Lsn server_end_ = 0;
  Lsn heartbeat_end_ = 0;  // a keepalive's WAL end seen outside any transaction
  Clock::time_point last_status_{};
  keys::KeyStats reported_stats_{};
  uint64_t reported_rows_ = 0;
  Clock::time_point batch_started_{};
  bool reported_paused_ = false;
  bool slot_lost_ = false;
  bool reload_pending_ = false;
  // 0, not the count at construction: a SIGHUP that came during start-up (after READY=1 was
  // sent) is still applied.
  uint64_t reloads_seen_ = 0;
  int standby_pid_ = 0;  // the other consumer we last saw holding the slot
  bool final_attempt_ = false;
  Clock::time_point shutdown_deadline_{};
};

bool Invalidator::keep_delivering() const {
  // After the first SIGTERM the batch gets one bounded last attempt; a second signal ends it.
  if (final_attempt_) return g_stop_signals.load() < 2 && Clock::now() < shutdown_deadline_;
  return !stopping() && !reload_requested();
}

replication::ReplicationStream::Start Invalidator::connect() {
  using Start = replication::ReplicationStream::Start;
  std::string error;
  int active_pid = 0;
  auto st = stream_.start(error, active_pid);
  if (st == Start::kSlotActive) {
    if (active_pid != standby_pid_)
      spdlog::info("standby: {} (another invalidator streams from it); retrying every {} ms",
                   error, src_.standby_retry_ms);
    standby_pid_ = active_pid;
    return st;
  }
  if (st == Start::kSlotMissing || st == Start::kSlotLost) {
    on_slot_lost(error);
    return st;
  }
  if (st != Start::kStreaming) {
    spdlog::warn("replication: {}", error);
    return st;
  }
  standby_pid_ = 0;
  metrics_.active.Set(1);
  // pgoutput resends Relation messages in every session; a half-read transaction is resent too.
  txns_ = std::make_unique<keys::TransactionKeys>(key_options_, &schema_watch_);
  reported_stats_ = {};
  reported_rows_ = 0;
  heartbeat_end_ = 0;
  spdlog::info("replication: streaming slot {} (publication {})", src_.slot,
               src_.publication);
  return st;
}

void Invalidator::on_slot_lost(const std::string& why) {
  stream_.close();
  metrics_.active.Set(0);
  metrics_.slot_lost.Set(1);
  if (slot_lost_) return;
  slot_lost_ = true;
  // Everything read but unconfirmed, and every change the slot dropped, is unknown now.
  batch_->clear();
  deliverer_.clear();
  batch_started_ = {};
  txns_.reset();
  spdlog::error("replication slot {} is lost ({}): the changes since confirmed flush LSN {} cannot "
                "be streamed any more, so this region's cache may keep stale values. {}",
                src_.slot, why, pgoutput::format_lsn(confirmed_),
                src_.on_slot_lost == config::SlotLostPolicy::kFlushRegion
                    ? "source.on_slot_lost is \"flush_region\": flushing every server of the "
                      "pool, then streaming from a new slot"
                    : "source.on_slot_lost is \"halt\": not streaming. Flush the region's "
                      "memcached pool, then remove source.state_file and restart (a new slot is "
                      "created), or set on_slot_lost to \"flush_region\" and send SIGHUP");
}

bool Invalidator::recover_lost_slot() {
  pgoutput::Lsn bar = 0;
  try {
    replication::Catalog catalog(src_.dsn);
    bar = catalog.replace_lost_slot(src_.slot);
    if (!src_.state_file.empty())
      replication::write_slot_record(src_.state_file,
                                     {src_.slot, catalog.system_identifier()});
  } catch (const std::exception& e) {
    spdlog::warn("slot recovery: {}", e.what());
    return false;
  }
  auto keep_going = [this] { return keep_delivering(); };
  auto idle = [] {};
  // A reader that misses after the flush must read a replica that has every change the new slot
  // will not stream, or it could refill the cache from an older row (design.md, race 2).
  if (!gate_->wait_for(bar, {}, keep_going, idle)) return false;
  auto flush = new_batch();
  delivery::CommittedTxn everything;
  everything.flush_region = true;
  flush->add(std::move(everything));
  deliverer_.submit(std::move(flush));
  if (!deliverer_.drain(keep_going, idle)) return false;
  spdlog::warn("slot {} replaced and every server of the pool flushed; streaming resumes",
               src_.slot);
  slot_lost_ = false;
  metrics_.slot_lost.Set(0);
  confirmed_ = sent_status_ = server_end_ = heartbeat_end_ = 0;
  return true;
}

// SIGHUP: re-read the file, validate it exactly like --check-config plus the start-up checks of
// the templates against the tables' replica identity, and swap the templates between
// transactions. A bad file is refused (logged) and the running config stays.
void Invalidator::reload() {
  service::Reloading reloading;
  config::DatacenterConfig next;
  keys::TransactionKeysOptions options;
  const config::SourceConfig* same = nullptr;  // this loop's source in the new file
  try {
    next = config::load_config(config_.file, config::Role::kInvalidator);
    for (const auto& s : next.invalidator->sources)
      if (s.name == src_.name) same = &s;
    if (same == nullptr)
      throw std::runtime_error(config_.file + ": source \"" + src_.name +
                               "\" is gone; adding or removing sources needs a restart");
    replication::Catalog catalog(same->dsn);
    options = prepare(next, catalog);
    std::vector<std::string> tables;
    for (const auto& [t, _] : next.invalidator->tables) tables.push_back(t);
    if (!tables.empty())
      catalog.ensure_publication(same->publication, tables, same->create_publication);
  } catch (const std::exception& e) {
    metrics_.reloads_refused.Increment();
    spdlog::error("{}reload refused, the running config stays: {}", who_, config::redact_dsns(e.what()));
    return;
  }
  const auto& n = *next.invalidator;
  if (!(next.pool.servers == config_.pool.servers) || same->dsn != src_.dsn ||
      same->slot != src_.slot || same->publication != src_.publication ||
      same->wait_for_replay != src_.wait_for_replay ||
      n.sources.size() != cfg_.sources.size())
    spdlog::warn("{}reload: pool, sources (dsn, slot, publication, wait_for_replay) need a "
                 "restart; only tables, message_prefix, truncate and on_slot_lost are reloaded",
                 who_);
  std::string error;
  if (txns_ && !txns_->replace_options(options, error)) {
    metrics_.reloads_refused.Increment();
    spdlog::error("{}reload refused, the running config stays: {}: {}", who_, config_.file, error);
    return;
  }
  key_options_ = std::move(options);
  cfg_.tables = n.tables;
  cfg_.message_prefix = n.message_prefix;
  cfg_.truncate = n.truncate;
  src_.on_slot_lost = same->on_slot_lost;
  schema_watch_.reset(watch_options());
  metrics_.reloads_applied.Increment();
  spdlog::info("{}reloaded {}: {} tables", who_, config_.file, cfg_.tables.size());
}

void Invalidator::report(const keys::SchemaNotice& notice) {
  if (notice.unfollowed)
    spdlog::error("{}schema change: {}", who_, notice.message);
  else
    spdlog::warn("{}schema change: {}", who_, notice.message);
  metrics_.schema_changes[static_cast<size_t>(notice.change)]->Increment();
}

void Invalidator::record_key_stats() {
  const auto& s = txns_->stats();
  metrics_.unnamed_changes.Increment(
      static_cast<double>(s.unnamed_changes - reported_stats_.unnamed_changes));
  metrics_.key_null_column.Increment(static_cast<double>(s.null_column - reported_stats_.null_column));
  metrics_.key_invalid.Increment(static_cast<double>(s.invalid_key - reported_stats_.invalid_key));
  if (s.unchanged_toast != reported_stats_.unchanged_toast)
    spdlog::warn("{} key(s) skipped: an unchanged TOASTed key column without an old value "
                 "(such a key would exceed 250 bytes anyway)",
                 s.unchanged_toast - reported_stats_.unchanged_toast);
  metrics_.key_unchanged_toast.Increment(
      static_cast<double>(s.unchanged_toast - reported_stats_.unchanged_toast));
  metrics_.rows.Increment(static_cast<double>(txns_->rows() - reported_rows_));
  reported_stats_ = s;
  reported_rows_ = txns_->rows();
}

bool Invalidator::read_available(bool& more, int& exit_code) {
  more = true;
  replication::CopyBuffer buf;
  for (int n = 0; n < 20000; ++n) {
    if (batch_->key_count() >= static_cast<size_t>(cfg_.delivery.batch_max_keys)) return true;
    std::string error;
    auto r = stream_.read(buf, error);
    if (r == replication::ReplicationStream::Read::kNone) {
      more = false;
      return true;
    }
    if (r == replication::ReplicationStream::Read::kError) {
      spdlog::warn("replication: {}", error);
      return false;
    }
    auto frame = pgoutput::decode_frame(buf.bytes());
    if (frame.status != pgoutput::Status::kOk) {
      spdlog::error("replication: bad CopyData ({}); reconnecting", frame.error);
      return false;
    }
    if (auto* k = std::get_if<pgoutput::Keepalive>(&frame.frame)) {
      server_end_ = std::max(server_end_, k->wal_end);
      // Every change before this keepalive has been read; outside a transaction nothing between
      // the last commit and wal_end concerns us, so the slot may advance to it (heartbeat).
      if (!txns_->in_transaction()) heartbeat_end_ = std::max(heartbeat_end_, k->wal_end);
      if (k->reply_requested) send_status(true);
      continue;
    }
    auto& x = std::get<pgoutput::XLogData>(frame.frame);
    server_end_ = std::max(server_end_, x.wal_end);
    auto msg = pgoutput::decode(x.payload);
    if (msg.status != pgoutput::Status::kOk) {
      // Skipping a message could lose an invalidation: stop instead, the slot replays it.
      spdlog::error("pgoutput: cannot decode message at {}: {} ({}); stopping without confirming",
                    pgoutput::format_lsn(x.wal_start), pgoutput::status_name(msg.status), msg.error);
      exit_code = 1;
      return false;
    }
    auto ev = txns_->on_message(std::move(msg.message));
    for (const auto& notice : ev.notices) report(notice);
    switch (ev.kind) {
      case keys::StreamEvent::kCommitted:
        if (ev.txn.end_lsn != 0) metrics_.transactions.Increment();
        batch_->add(std::move(ev.txn));
        break;
      case keys::StreamEvent::kHalt:
        spdlog::error("{}; stopping at {} without confirming it (truncate policy)", ev.message,
                      pgoutput::format_lsn(x.wal_start));
        exit_code = 2;
        return false;
      case keys::StreamEvent::kError:
        spdlog::error("{}", ev.message);
        exit_code = 1;
        return false;
      case keys::StreamEvent::kReconnect:
        spdlog::warn("replication: {}; reconnecting", ev.message);
        return false;
      case keys::StreamEvent::kNone:
        break;
    }
  }
  return true;
}

void Invalidator::send_status(bool force) {
  if (!stream_.connected()) return;
  auto now = Clock::now();
  // Only every status_interval_ms (or when asked): each update makes the walsender move the
  // slot, which may rewrite the slot's state file; one per batch slowed a backlog replay down.
  if (!force && now - last_status_ < std::chrono::milliseconds(cfg_.status_interval_ms)) return;
  std::string error;
  if (!stream_.send_status(confirmed_, error)) {
    spdlog::warn("replication: status update failed: {}", error);
    stream_.close();
    return;
  }
  sent_status_ = confirmed_;
  last_status_ = now;
}

// Gates the batch on the readers' database, then hands it to the deliverer: healthy servers get
// their keys now, a down server keeps its part. False when the gate was interrupted (a signal).
bool Invalidator::deliver_batch() {
  auto keep_going = [this] { return keep_delivering(); };
  auto idle = [this] { send_status(false); };
  if (batch_->key_count() > 0 || batch_->flush_region()) {
    auto before = gate_->total_wait();
    auto polls = gate_->polls();
    bool shown = gate_->wait_for(batch_->end_lsn(), batch_->xids(), keep_going, idle);
    metrics_.replica_wait_seconds.Increment(
        std::chrono::duration<double>(gate_->total_wait() - before).count());
    metrics_.replica_polls.Increment(static_cast<double>(gate_->polls() - polls));
    if (!shown) return false;
  }
  // A batch without keys still goes through the deliverer: its position may be confirmed only
  // after the batches before it.
  deliverer_.submit(std::move(batch_));
  batch_ = new_batch();
  confirmed_ = std::max(confirmed_, deliverer_.acked_through());
  return true;
}

void Invalidator::update_gauges() {
  metrics_.confirmed_flush_lsn.Set(static_cast<double>(confirmed_));
  metrics_.lag_bytes.Set(server_end_ > confirmed_ ? static_cast<double>(server_end_ - confirmed_) : 0);
  double lag = 0;
  auto oldest = deliverer_.oldest_commit_time();
  if (oldest == 0) oldest = batch_->oldest_commit_time();
  if (oldest != 0)
    lag = static_cast<double>(unix_micros_now() - pgoutput::unix_micros_from_pg_timestamp(oldest)) /
          1e6;
  metrics_.lag_seconds.Set(lag);
}

int Invalidator::run() {
  using Start = replication::ReplicationStream::Start;
  auto backoff = pool::Backoff(std::chrono::milliseconds(cfg_.delivery.retry_initial_ms),
                               std::chrono::milliseconds(cfg_.delivery.retry_max_ms));
  auto nap = [this](std::chrono::milliseconds d) {
    auto until = Clock::now() + d;
    while (Clock::now() < until && !stopping() && !reload_requested())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  int exit_code = 0;
  while (!stopping()) {
    if (reload_requested()) {
      reloads_seen_ = g_reloads.load();
      reload_pending_ = true;
    }
    // Templates change only between transactions: one transaction's keys come from one config.
    if (reload_pending_ && !(txns_ && txns_->in_transaction())) {
      reload_pending_ = false;
      reload();
    }
    if (slot_lost_) {
      if (src_.on_slot_lost != config::SlotLostPolicy::kFlushRegion || !recover_lost_slot()) {
        nap(std::chrono::milliseconds(cfg_.delivery.retry_max_ms));
        continue;
      }
    }
    if (!stream_.connected()) {
      auto st = connect();
      if (st == Start::kSlotActive) {
        metrics_.active.Set(0);
        nap(std::chrono::milliseconds(src_.standby_retry_ms));
        continue;
      }
      if (st != Start::kStreaming) {
        metrics_.active.Set(0);
        if (st == Start::kFailed) {
          metrics_.reconnects.Increment();
          nap(backoff.next());
        }
        continue;
      }
      backoff.reset();
    }
    for (const auto& notice : schema_watch_.tick(Clock::now())) report(notice);
    // Servers that failed get their waiting keys again once their backoff has run out.
    deliverer_.retry_due();
    confirmed_ = std::max(confirmed_, deliverer_.acked_through());
    if (too_many_held()) {
      // A server down for long: stop reading until it answers (or "skip" gives up on it), so
      // memory stays bounded; the slot keeps what is not read.
      if (!reported_paused_)
        spdlog::warn("{}{} keys wait for a down memcached server (delivery.max_held_keys): "
                     "reading the stream pauses until it answers",
                     who_, deliverer_.retained_keys());
      reported_paused_ = true;
      update_gauges();
      send_status(false);
      std::this_thread::sleep_for(deliverer_.until_next_retry(std::chrono::milliseconds(20)));
      continue;
    }
    reported_paused_ = false;
    bool more = false;
    bool ok = read_available(more, exit_code);
    record_key_stats();
    if (exit_code != 0) break;
    if (!ok) {
      stream_.close();
      metrics_.active.Set(0);
      metrics_.reconnects.Increment();
    }
    // Deliver when the batch is full, or the stream has gone quiet (nothing arrived during a
    // 200 us nap: a lone commit goes out at once), or the batch is 2 ms old. While a backlog
    // streams in, the walsender sends message by message; waking per packet or delivering each
    // time libpq's buffer runs dry would cost a context switch per transaction and make thousands
    // of tiny batches, each a memcached round trip competing with the walsender for the CPU.
    if (!batch_->empty() && batch_started_ == Clock::time_point{}) batch_started_ = Clock::now();
    bool quiet = false;
    if (!more && ok) {
      if (!batch_->empty()) std::this_thread::sleep_for(std::chrono::microseconds(200));
      quiet = batch_->empty() || !stream_.wait_readable_us(0);
    }
    if (!batch_->empty() &&
        (!ok || quiet || batch_->key_count() >= static_cast<size_t>(cfg_.delivery.batch_max_keys) ||
         Clock::now() - batch_started_ >= std::chrono::milliseconds(2))) {
      // Held by a paused replica and interrupted by a signal: a reload is applied at the top of
      // the loop and delivery resumes; a stop leaves the loop.
      if (deliver_batch()) batch_started_ = {};
      else if (stopping()) break;
    }
    // A keepalive outside a transaction moves the slot on, once nothing read before it waits.
    if (batch_->empty() && deliverer_.all_acked() && txns_ && !txns_->in_transaction())
      confirmed_ = std::max(confirmed_, heartbeat_end_);
    update_gauges();
    send_status(false);
    if (quiet && batch_->empty() && stream_.connected() && !reload_requested()) {
      auto wait = deliverer_.until_next_retry(std::chrono::milliseconds(100));
      stream_.wait_readable_us(static_cast<int>(wait.count()));
    }
  }
  service::notify_stopping();
  // SIGINT/SIGTERM: finish what was read and confirm it, but what a down server or a paused
  // replica holds gets only shutdown_timeout_ms more; it is not confirmed, so the slot replays it.
  if (exit_code == 0 && !slot_lost_ && (!batch_->empty() || !deliverer_.all_acked())) {
    final_attempt_ = true;
    shutdown_deadline_ = Clock::now() + std::chrono::milliseconds(cfg_.shutdown_timeout_ms);
    auto keep_going = [this] { return keep_delivering(); };
    auto idle = [this] { send_status(false); };
    bool done = (batch_->empty() || deliver_batch()) && deliverer_.drain(keep_going, idle);
    confirmed_ = std::max(confirmed_, deliverer_.acked_through());
    if (!done)
      spdlog::warn("stopping with {} keys not acknowledged by every server; the slot replays "
                   "them after a restart",
                   deliverer_.retained_keys() + batch_->key_count());
  }
  send_status(true);
  update_gauges();
  stream_.close();
  metrics_.active.Set(0);
  if (slot_lost_ && exit_code == 0) exit_code = 3;
  spdlog::info("invalidator stopped; confirmed flush LSN {}", pgoutput::format_lsn(confirmed_));
  return exit_code;
}

// Start-up of one source: the templates checked against its tables, its publication, and its
// slot — or why the slot counts as lost, which the loop then reports and handles.
struct PreparedSource {
  keys::TransactionKeysOptions options;
  std::string lost;
};

PreparedSource prepare_source(const config::DatacenterConfig& config,
                              const config::SourceConfig& src) {
  const auto& inv = *config.invalidator;
  PreparedSource p;
  replication::Catalog catalog(src.dsn);
  p.options = prepare(config, catalog);
  std::vector<std::string> tables;
  for (const auto& [t, _] : inv.tables) tables.push_back(t);
  if (!tables.empty()) catalog.ensure_publication(src.publication, tables, src.create_publication);
  auto slot = catalog.slot_status(src.slot);
  replication::SlotRecord here{src.slot, catalog.system_identifier()};
  std::optional<replication::SlotRecord> record;
  if (!src.state_file.empty()) record = replication::read_slot_record(src.state_file);
  if (record && record->slot != here.slot) record.reset();  // another slot: a new deployment
  if (slot.lost) {
    p.lost = "wal_status is 'lost' (invalidated, e.g. past max_slot_wal_keep_size)";
  } else if (record && record->system_identifier != here.system_identifier) {
    p.lost = src.state_file + " records it on the cluster with system identifier " +
             record->system_identifier + ", but the source's is " + here.system_identifier;
  } else if (!slot.exists && record) {
    p.lost = "it does not exist, but " + src.state_file +
             " records that this invalidator streamed from it";
  } else {
    catalog.ensure_slot(src.slot, src.create_slot);
    if (!src.state_file.empty() && !(record && *record == here))
      replication::write_slot_record(src.state_file, here);
  }
  return p;
}

// One source's life, in its own thread: start-up unless `prepared` already holds it, retried
// while its primary is unreachable (a down shard must not stop the others), then the streaming
// loop. Returns the exit code.
int run_source(const config::DatacenterConfig& config, size_t index,
               std::optional<PreparedSource> prepared, prometheus::Registry& registry) {
  const auto& inv = *config.invalidator;
  const auto& src = inv.sources[index];
  std::string who = src.name.empty() ? "" : "source " + src.name + ": ";
  pool::Backoff backoff(std::chrono::milliseconds(inv.delivery.retry_initial_ms),
                        std::chrono::milliseconds(inv.delivery.retry_max_ms));
  try {
    while (!prepared) {
      try {
        prepared = prepare_source(config, src);
      } catch (const replication::ConnectError& e) {
        auto wait = backoff.next();
        spdlog::warn("{}{}; retrying in {} ms", who, config::redact_dsns(e.what()), wait.count());
        auto until = Clock::now() + wait;
        while (Clock::now() < until && !stopping())
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (stopping()) return 0;
      }
    }
    Invalidator daemon(config, index, std::move(prepared->options), registry);
    spdlog::info("{}invalidator for {} started: {} tables, {} memcached servers, {}", who,
                 config.datacenter, inv.tables.size(), config.pool.servers.size(),
                 src.wait_for_replay ? "gated on the local replica"
                                     : "gated on the primary's visibility");
    if (!prepared->lost.empty()) daemon.start_slot_lost(prepared->lost);
    return daemon.run();
  } catch (const std::exception& e) {
    spdlog::error("{}{}", who, config::redact_dsns(e.what()));
    return 1;
  }
}

}  // namespace

int run_invalidator(const config::DatacenterConfig& config) {
  if (!config.invalidator) {
    spdlog::error("{}: no \"invalidator\" section", config.file);
    return 1;
  }
  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = on_reload_signal;
  sigaction(SIGHUP, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  const auto& sources = config.invalidator->sources;
  // Start-up checks first, so a bad template or replica identity stops the process before it
  // serves anything, and the metrics port opens only once the slots exist; a source whose
  // primary is unreachable is retried in its own loop.
  std::vector<std::optional<PreparedSource>> prepared(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    const auto& src = sources[i];
    if (config::has_inline_password(src.dsn) ||
        (src.wait_for_replay && config::has_inline_password(*src.wait_for_replay)))
      spdlog::warn("{}: a DSN carries its password inline; prefer passfile=... in the DSN or the "
                   "PGPASSFILE / PGPASSWORD environment (docs/security.md)",
                   src.name.empty() ? "source" : "source " + src.name);
    try {
      prepared[i] = prepare_source(config, src);
    } catch (const replication::ConnectError& e) {
      spdlog::warn("{}{}; its loop retries", src.name.empty() ? "" : "source " + src.name + ": ",
                   config::redact_dsns(e.what()));
    } catch (const std::exception& e) {
      spdlog::error("{}", config::redact_dsns(e.what()));
      return 1;
    }
  }
  std::unique_ptr<MetricsEndpoint> endpoint;
  try {
    endpoint = std::make_unique<MetricsEndpoint>(config.invalidator->metrics_listen);
  } catch (const std::exception& e) {
    spdlog::error("metrics_listen {}: {}", config.invalidator->metrics_listen->str(), e.what());
    return 1;
  }
  service::notify_ready();
  if (sources.size() == 1) return run_source(config, 0, std::move(prepared[0]), *endpoint->registry);
  // Sharded primaries: one loop per source, each with its own connections; one that stops (an
  // error, a halt policy) leaves the others running. The process ends when all have.
  std::vector<int> codes(sources.size(), 0);
  std::vector<std::thread> loops;
  for (size_t i = 0; i < sources.size(); ++i)
    loops.emplace_back([&, i] {
      codes[i] = run_source(config, i, std::move(prepared[i]), *endpoint->registry);
      if (codes[i] != 0)
        spdlog::error("source {} stopped with exit code {}; the other sources keep running",
                      sources[i].name, codes[i]);
    });
  for (auto& t : loops) t.join();
  return *std::max_element(codes.begin(), codes.end());
}

}  // namespace mccache::invalidator
