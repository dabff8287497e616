// Decoded pgoutput messages → committed transactions with their keys.
#include "invalidator/keys/transaction_keys.h"

#include <type_traits>
#include <utility>

namespace mccache::invalidator::keys {

SchemaView::Origin TransactionKeys::origin_of(const pgoutput::Relation& rel) {
  using Origin = SchemaView::Origin;
  std::string name = rel.schema + "." + rel.name;
  bool configured = options_.tables.count(name) > 0;
  // Seen earlier in this session: the same relation (OID), perhaps renamed since.
  if (auto it = origins_.find(rel.id);
      it != origins_.end() && (!configured || it->second.table == name))
    return it->second;
  if (schema_ != nullptr) return schema_->origin(rel);
  for (const auto& [table, oid] : options_.table_oids)
    if (oid == rel.id && options_.tables.count(table))
      return {Origin::kTable, table, false, {}, {}};
  // The streamed name is the one the relation had when the change was made, so a match holds
  // even for a table dropped since.
  if (configured) return {Origin::kTable, name, false, {}, {}};
  return {};
}

StreamEvent TransactionKeys::on_relation(const pgoutput::Relation& rel) {
  StreamEvent ev;
  seen_relations_.insert_or_assign(rel.id, rel);
  relations_.erase(rel.id);
  auto origin = origin_of(rel);
  if (origin.kind == SchemaView::Origin::kUnknown) {
    ev.kind = StreamEvent::kReconnect;
    ev.message = "cannot tell whether relation " + rel.schema + "." + rel.name + " (OID " +
                 std::to_string(rel.id) + ") holds rows of a cached table: " + origin.detail;
    return ev;
  }
  if (origin.notice) ev.notices.push_back(*std::exchange(origin.notice, std::nullopt));
  origins_.insert_or_assign(rel.id, origin);
  if (origin.kind == SchemaView::Origin::kNotCached) return ev;
  auto t = options_.tables.find(origin.table);
  if (origin.kind == SchemaView::Origin::kTable && t == options_.tables.end()) return ev;
  static const std::vector<KeyTemplate> kNone;
  relations_.insert_or_assign(
      rel.id, bind_streamed(rel, origin, t == options_.tables.end() ? kNone : t->second,
                            options_.truncate, ev.notices));
  return ev;
}

void TransactionKeys::apply_policy(const std::string& why, StreamEvent& ev) {
  switch (options_.truncate) {
    case TruncatePolicy::kFlushRegion:
      current_.flush_region = true;
      break;
    case TruncatePolicy::kIgnore:
      break;
    case TruncatePolicy::kHalt:
      ev.kind = StreamEvent::kHalt;
      ev.message = why + ", and the truncate policy is \"halt\"";
      break;
  }
}

void TransactionKeys::on_row(uint32_t relation_id, const RowChange& change, StreamEvent& ev) {
  auto it = relations_.find(relation_id);
  if (it == relations_.end()) return;
  ++rows_;
  const auto& rel = it->second;
  if (rel.keys && rel.keys->keys_for(change, keys_, stats_)) return;
  ++stats_.unnamed_changes;
  apply_policy("a change of " + rel.name + " whose keys cannot be named: " + rel.unnamed, ev);
}

// A marker of ours: a schema change the stream does not show happened before this point.
void TransactionKeys::on_marker(const pgoutput::Message& m, StreamEvent& ev) {
  if (schema_ == nullptr || !m.transactional || !in_txn_) return;
  auto reason = decode_schema_marker(m.content, schema_->slot());
  if (reason) apply_policy(*reason, ev);
}

bool TransactionKeys::replace_options(TransactionKeysOptions options, std::string& error) {
  if (in_txn_) {
    error = "a transaction is open";
    return false;
  }
  std::unordered_map<uint32_t, StreamedRelation> rebound;
  for (const auto& [id, rel] : seen_relations_) {
    auto origin = origins_.count(id) ? origins_[id] : SchemaView::Origin{};
    if (options.tables.count(rel.schema + "." + rel.name))
      origin = {SchemaView::Origin::kTable, rel.schema + "." + rel.name, false, {}, {}};
    if (origin.kind != SchemaView::Origin::kTable) continue;
    auto t = options.tables.find(origin.table);
    if (t == options.tables.end()) continue;
    std::vector<SchemaNotice> notices;
    auto bound = bind_streamed(rel, origin, t->second, options.truncate, notices);
    for (const auto& n : notices)
      if (n.change == SchemaChange::kColumns) {
        error = n.message;
        return false;
      }
    rebound.insert_or_assign(id, std::move(bound));
  }
  for (auto& [id, bound] : relations_)  // former members stay unnamed
    if (!bound.keys) rebound.insert_or_assign(id, bound);
  options_ = std::move(options);
  relations_ = std::move(rebound);
  return true;
}

delivery::CommittedTxn TransactionKeys::take_open_part() {
  delivery::CommittedTxn part;
  part.commit_time = current_.commit_time;
  part.xid = current_.xid;
  part.keys = keys_.take();
  return part;
}

StreamEvent TransactionKeys::on_message(pgoutput::Decoded&& message) {
  using namespace pgoutput;
  if (auto* rel = std::get_if<Relation>(&message)) return on_relation(*rel);
  StreamEvent ev;
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Begin>) {
          in_txn_ = true;
          current_ = {};
          keys_.clear();
          current_.commit_time = m.commit_time;
          current_.xid = m.xid;
        } else if constexpr (std::is_same_v<T, Commit>) {
          current_.end_lsn = m.end_lsn;
          current_.commit_time = m.commit_time;
          current_.keys = keys_.take();
          in_txn_ = false;
          ev.kind = StreamEvent::kCommitted;
          ev.txn = std::move(current_);
          current_ = {};
        } else if constexpr (std::is_same_v<T, Insert>) {
          on_row(m.relation_id, {RowChange::kInsert, &m.new_tuple, nullptr, 0}, ev);
        } else if constexpr (std::is_same_v<T, Update>) {
          on_row(
              m.relation_id,
              {RowChange::kUpdate, &m.new_tuple, m.old_kind ? &m.old_tuple : nullptr, m.old_kind},
              ev);
        } else if constexpr (std::is_same_v<T, Delete>) {
          on_row(m.relation_id, {RowChange::kDelete, nullptr, &m.old_tuple, m.old_kind}, ev);
        } else if constexpr (std::is_same_v<T, Truncate>) {
          bool ours = false;
          for (auto id : m.relation_ids) ours = ours || relations_.count(id) > 0;
          if (!ours) return;
          if (options_.truncate == TruncatePolicy::kFlushRegion) current_.flush_region = true;
          if (options_.truncate == TruncatePolicy::kHalt) {
            ev.kind = StreamEvent::kHalt;
            ev.message = "TRUNCATE of a cached table and the truncate policy is \"halt\"";
          }
        } else if constexpr (std::is_same_v<T, Message>) {
          if (m.prefix == kSchemaMarkerPrefix) return on_marker(m, ev);
          if (m.prefix != options_.message_prefix) return;
          if (m.transactional && in_txn_) {
            split_explicit_keys(m.content, keys_, stats_);
          } else {
            // Non-transactional: delivered as soon as decoded; it moves no slot position.
            UniqueKeys keys;
            split_explicit_keys(m.content, keys, stats_);
            ev.kind = StreamEvent::kCommitted;
            ev.txn.keys = keys.take();
          }
        }
      },
      message);
  return ev;
}

}  // namespace mccache::invalidator::keys
