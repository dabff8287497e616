// Pure batching of committed transactions' keys into one pipeline per memcached server.
// A batch is the unit of acknowledgement: its highest commit end LSN becomes confirmable only when
// every server holding one of its keys has answered MN (so every key of every transaction in it was
// deleted or not found).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "invalidator/pgoutput/decoder.h"
#include "lease/settings.h"

namespace mccache::invalidator::delivery {

// A committed transaction's keys, or a part of them: a big transaction is delivered in parts while
// it is read, and only its last part (read at COMMIT) carries its position.
struct CommittedTxn {
  pgoutput::Lsn end_lsn = 0;  // 0: carries no position (a non-transactional message, a part)
  // What the readers' database must have replayed to show it; 0: end_lsn. A part read before the
  // COMMIT message gates on its Begin's final_lsn + 1: a replica whose replay passed the commit
  // record's start has replayed that record (replay advances record by record).
  pgoutput::Lsn gate_lsn = 0;
  pgoutput::PgTimestamp commit_time = 0;
  uint32_t xid = 0;  // 0: none (a non-transactional message)
  std::vector<std::string> keys;
  bool flush_region = false;  // a TRUNCATE under the flush_region policy
};

// What a delete does (lease/settings.h): Invalidate keeps a stale copy and voids leases.
using DeleteMode = lease::DeleteMode;

struct ServerPipeline {
  std::vector<std::string_view> keys;  // views of the batch's own copies (Batch::seen_)
  bool acked = false;
};

class Batch {
 public:
  using Route = std::function<size_t(std::string_view)>;
  // Pipelines [0, servers) are the pool's, placed by `route`; with a gutter pool, each key also
  // goes to gutter server `gutter_route(key)`, pipeline servers + that index: while a pool server
  // is down mcproxy keeps its keys there, so an invalidation must reach the gutter too.
  Batch(size_t servers, Route route, size_t gutter_servers = 0, Route gutter_route = {})
      : pipelines_(servers + gutter_servers),
        pool_servers_(servers),
        route_(std::move(route)),
        gutter_route_(gutter_servers > 0 ? std::move(gutter_route) : Route{}) {}

  void add(CommittedTxn&& txn);
  bool empty() const { return txns_ == 0; }
  size_t key_count() const { return keys_; }
  size_t txn_count() const { return txns_; }
  pgoutput::Lsn end_lsn() const { return end_lsn_; }
  // The read gate's position for the whole batch (CommittedTxn::gate_lsn).
  pgoutput::Lsn gate_lsn() const { return gate_lsn_; }
  pgoutput::PgTimestamp oldest_commit_time() const { return oldest_commit_; }
  const std::vector<pgoutput::PgTimestamp>& commit_times() const { return commit_times_; }
  // The transactions whose keys are in the batch: they must be visible before the keys go.
  const std::vector<uint32_t>& xids() const { return xids_; }
  bool flush_region() const { return flush_region_; }
  // The ConfirmTracker's ticket for this batch's position, set when it is sealed for delivery.
  uint64_t ticket() const { return ticket_; }
  void set_ticket(uint64_t t) { ticket_ = t; }

  std::vector<ServerPipeline>& pipelines() { return pipelines_; }
  const std::vector<ServerPipeline>& pipelines() const { return pipelines_; }
  // True when every server has acknowledged its part (servers with nothing to do count as acked).
  bool all_acked() const;
  void ack(size_t server) { pipelines_[server].acked = true; }
  // Does `server` have anything to send?
  bool has_work(size_t server) const { return flush_region_ || !pipelines_[server].keys.empty(); }
  void clear();
  // Places every key again over other servers (a reloaded pool); every server must then
  // acknowledge its part anew.
  void reroute(size_t servers, Route route, size_t gutter_servers = 0, Route gutter_route = {});

 private:
  void place(std::string_view key);

  std::vector<ServerPipeline> pipelines_;
  size_t pool_servers_;
  Route route_;
  Route gutter_route_;
  // Owns the batch's distinct keys (a key touched by many transactions is sent once); the
  // pipelines view them. A node-based set never moves its elements, so the views stay valid
  // until clear().
  std::unordered_set<std::string> seen_;
  size_t keys_ = 0;
  size_t txns_ = 0;
  pgoutput::Lsn end_lsn_ = 0;
  pgoutput::Lsn gate_lsn_ = 0;
  pgoutput::PgTimestamp oldest_commit_ = 0;
  std::vector<pgoutput::PgTimestamp> commit_times_;
  std::vector<uint32_t> xids_;
  bool flush_region_ = false;
  uint64_t ticket_ = 0;
};

// The bytes for one server: optional flush_all, quiet deletes, then the closing mn, built by the
// lease library (lease/plain_ops.h) so the proxy and the invalidator send the same md:
// Invalidate: `md <key> I T<ttl> q` keeps a stale copy for lease-get and voids leases;
// Remove (or a stale TTL of 0): `md <key> q`.
void encode_pipeline(const std::vector<std::string_view>& keys, bool flush_all, DeleteMode mode,
                     uint32_t stale_ttl_s, std::string& out);

}  // namespace mccache::invalidator::delivery
