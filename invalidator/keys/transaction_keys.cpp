// Decoded pgoutput messages → committed transactions with their keys.
#include "invalidator/keys/transaction_keys.h"

#include <type_traits>

namespace mccache::invalidator::keys {

const TableKeys* TransactionKeys::table_for(uint32_t relation_id) const {
  auto it = relations_.find(relation_id);
  return it == relations_.end() ? nullptr : &it->second;
}

bool TransactionKeys::replace_options(TransactionKeysOptions options, std::string& error) {
  if (in_txn_) {
    error = "a transaction is open";
    return false;
  }
  std::unordered_map<uint32_t, TableKeys> rebound;
  for (const auto& [id, rel] : seen_relations_) {
    auto it = options.tables.find(rel.schema + "." + rel.name);
    if (it == options.tables.end()) continue;
    TableKeys tk(it->second);
    if (!tk.bind(rel, error)) return false;
    rebound.emplace(id, std::move(tk));
  }
  options_ = std::move(options);
  relations_ = std::move(rebound);
  return true;
}

delivery::CommittedTxn TransactionKeys::take_open_part() {
  delivery::CommittedTxn part;
  part.commit_time = current_.commit_time;
  part.xid = current_.xid;
  part.keys = std::move(current_.keys);
  current_.keys.clear();
  return part;
}

StreamEvent TransactionKeys::on_message(pgoutput::Decoded&& message) {
  using namespace pgoutput;
  StreamEvent ev;
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Begin>) {
          in_txn_ = true;
          current_ = {};
          current_.commit_time = m.commit_time;
          current_.xid = m.xid;
        } else if constexpr (std::is_same_v<T, Commit>) {
          current_.end_lsn = m.end_lsn;
          current_.commit_time = m.commit_time;
          in_txn_ = false;
          ev.kind = StreamEvent::kCommitted;
          ev.txn = std::move(current_);
          current_ = {};
        } else if constexpr (std::is_same_v<T, Relation>) {
          // Relation messages precede changes and repeat after DDL: rebind every time.
          relations_.erase(m.id);
          seen_relations_.insert_or_assign(m.id, m);
          auto it = options_.tables.find(m.schema + "." + m.name);
          if (it == options_.tables.end()) return;
          TableKeys tk(it->second);
          std::string error;
          if (!tk.bind(m, error)) {
            ev.kind = StreamEvent::kError;
            ev.message = error;
            return;
          }
          relations_.emplace(m.id, std::move(tk));
        } else if constexpr (std::is_same_v<T, Insert>) {
          if (const auto* t = table_for(m.relation_id)) {
            ++rows_;
            t->keys_for(&m.new_tuple, nullptr, current_.keys, stats_);
          }
        } else if constexpr (std::is_same_v<T, Update>) {
          if (const auto* t = table_for(m.relation_id)) {
            ++rows_;
            t->keys_for(&m.new_tuple, m.old_kind ? &m.old_tuple : nullptr, current_.keys, stats_);
          }
        } else if constexpr (std::is_same_v<T, Delete>) {
          if (const auto* t = table_for(m.relation_id)) {
            ++rows_;
            t->keys_for(nullptr, &m.old_tuple, current_.keys, stats_);
          }
        } else if constexpr (std::is_same_v<T, Truncate>) {
          bool ours = false;
          for (auto id : m.relation_ids) ours = ours || table_for(id) != nullptr;
          if (!ours) return;
          if (options_.truncate == TruncatePolicy::kFlushRegion) current_.flush_region = true;
          if (options_.truncate == TruncatePolicy::kHalt) {
            ev.kind = StreamEvent::kHalt;
            ev.message = "TRUNCATE of a cached table and the truncate policy is \"halt\"";
          }
        } else if constexpr (std::is_same_v<T, Message>) {
          if (m.prefix != options_.message_prefix) return;
          if (m.transactional && in_txn_) {
            split_explicit_keys(m.content, current_.keys, stats_);
          } else {
            // Non-transactional: delivered as soon as decoded; it moves no slot position.
            ev.kind = StreamEvent::kCommitted;
            split_explicit_keys(m.content, ev.txn.keys, stats_);
          }
        }
      },
      message);
  return ev;
}

}  // namespace mccache::invalidator::keys
