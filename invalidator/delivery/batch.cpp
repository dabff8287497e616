// Batch bookkeeping and request encoding.
#include "invalidator/delivery/batch.h"

#include <algorithm>

#include "lease/plain_ops.h"
#include "pool/meta_commands.h"

namespace mccache::invalidator::delivery {

void Batch::add(CommittedTxn&& txn) {
  ++txns_;
  end_lsn_ = std::max(end_lsn_, txn.end_lsn);
  gate_lsn_ = std::max(gate_lsn_, txn.gate_lsn != 0 ? txn.gate_lsn : txn.end_lsn);
  if (txn.commit_time != 0) {
    if (oldest_commit_ == 0 || txn.commit_time < oldest_commit_) oldest_commit_ = txn.commit_time;
    commit_times_.push_back(txn.commit_time);
  }
  flush_region_ = flush_region_ || txn.flush_region;
  if (txn.xid != 0 && (!txn.keys.empty() || txn.flush_region)) xids_.push_back(txn.xid);
  for (auto& k : txn.keys) {
    auto [it, inserted] = seen_.insert(std::move(k));
    if (!inserted) continue;
    place(*it);
    ++keys_;
  }
}

void Batch::place(std::string_view key) {
  if (gutter_route_) pipelines_[pool_servers_ + gutter_route_(key)].keys.push_back(key);
  pipelines_[route_(key)].keys.push_back(key);
}

void Batch::reroute(size_t servers, Route route, size_t gutter_servers, Route gutter_route) {
  pipelines_.assign(servers + gutter_servers, ServerPipeline{});
  pool_servers_ = servers;
  route_ = std::move(route);
  gutter_route_ = gutter_servers > 0 ? std::move(gutter_route) : Route{};
  for (const auto& k : seen_) place(k);
}

bool Batch::all_acked() const {
  for (size_t i = 0; i < pipelines_.size(); ++i)
    if (has_work(i) && !pipelines_[i].acked) return false;
  return true;
}

void Batch::clear() {
  for (auto& p : pipelines_) {
    p.keys.clear();
    p.acked = false;
  }
  seen_.clear();
  keys_ = txns_ = 0;
  end_lsn_ = gate_lsn_ = 0;
  oldest_commit_ = 0;
  commit_times_.clear();
  xids_.clear();
  flush_region_ = false;
  ticket_ = 0;
}

void encode_pipeline(const std::vector<std::string_view>& keys, bool flush_all, DeleteMode mode,
                     uint32_t stale_ttl_s, std::string& out) {
  out.clear();
  if (flush_all) out += "flush_all\r\n";
  for (const auto& k : keys)
    lease::append_delete_command(out, k, mode, stale_ttl_s, /*quiet=*/true);
  pool::append_noop(out);
}

}  // namespace mccache::invalidator::delivery
