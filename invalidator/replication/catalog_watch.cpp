// The periodic catalog check: read the followed tables' state in three queries, compare it with
// the last one (keys/catalog_changes), republish, and write schema markers.
#include "invalidator/replication/catalog_watch.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>

namespace mccache::invalidator::replication {
namespace {

// A PostgreSQL array literal of strings: {"a","b"} with \ and " escaped.
std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string oid_array(const std::set<uint32_t>& oids) {
  std::string out = "{";
  for (auto oid : oids) out += (out.size() > 1 ? "," : "") + std::to_string(oid);
  return out + "}";
}

uint32_t oid_of(const char* text) { return static_cast<uint32_t>(std::strtoul(text, nullptr, 10)); }
bool is_true(const char* text) { return text[0] == 't'; }

// Per followed table: its name, whether the publication streams it, and each leaf relation
// holding its rows (itself when not partitioned): name, and whether it holds no data.
const std::string kRootsSql =
    "SELECT r.oid::text, rn.nspname || '.' || rc.relname, " +
    publication_streams_sql("r.oid", "$2") +
    "::text,"
    " l.relid::oid::text, ln.nspname || '.' || lc.relname,"
    " (pg_relation_size(l.relid) = 0)::text"
    " FROM unnest($1::oid[]) AS r(oid)"
    " JOIN pg_class rc ON rc.oid = r.oid JOIN pg_namespace rn ON rn.oid = rc.relnamespace"
    // pg_partition_tree() lists nothing for a table that is not partitioned: it is its own leaf.
    " LEFT JOIN LATERAL (SELECT t.relid::oid AS relid FROM pg_partition_tree(r.oid::regclass) t"
    "   WHERE t.isleaf UNION SELECT r.oid WHERE rc.relkind = 'r') l ON true"
    " LEFT JOIN pg_class lc ON lc.oid = l.relid"
    " LEFT JOIN pg_namespace ln ON ln.oid = lc.relnamespace";

// The tables of the configured names now.
const std::string kNamesSql =
    "SELECT t.name, c.oid::text FROM unnest($1::text[]) AS t(name)"
    " JOIN pg_namespace n ON n.nspname = split_part(t.name, '.', 1)"
    " JOIN pg_class c ON c.relnamespace = n.oid"
    "   AND c.relname = substr(t.name, strpos(t.name, '.') + 1) AND c.relkind IN ('r', 'p')";

// Does the publication list anything but the followed tables?
const std::string kOthersSql =
    "SELECT (p.puballtables"
    " OR EXISTS (SELECT 1 FROM pg_publication_namespace WHERE pnpubid = p.oid)"
    " OR EXISTS (SELECT 1 FROM pg_publication_rel pr WHERE pr.prpubid = p.oid"
    "            AND pr.prrelid <> ALL ($2::oid[])))::text"
    " FROM pg_publication p WHERE p.pubname = $1";

// A relation's ancestors and itself, now: name, is it the relation, does the publication stream it.
const std::string kPlaceSql =
    "SELECT n.nspname || '.' || c.relname, (a.relid = $1::oid)::text, " +
    publication_streams_sql("$1::oid", "$2") + "::text FROM " + self_and_ancestors_sql("$1::oid") +
    " a JOIN pg_class c ON c.oid = a.relid JOIN pg_namespace n ON n.oid = c.relnamespace";

}  // namespace

SchemaWatch::SchemaWatch(Options options) { reset(std::move(options)); }

void SchemaWatch::reset(Options options) {
  options_ = std::move(options);
  state_.reset();
  last_check_ = {};
  tick(Clock::now());  // the baseline, when the primary answers
}

bool SchemaWatch::connected() {
  if (catalog_) return true;
  try {
    catalog_ = std::make_unique<Catalog>(options_.dsn);
    // A check must never wait behind a long lock (ALTER PUBLICATION) or query.
    catalog_->query("SET lock_timeout = '200ms'");
    catalog_->query("SET statement_timeout = '5s'");
    unreachable_ = false;
    return true;
  } catch (const std::exception& e) {
    catalog_.reset();
    if (!unreachable_) spdlog::warn("schema check: {}; retrying", e.what());
    unreachable_ = true;
    return false;
  }
}

std::vector<keys::SchemaNotice> SchemaWatch::tick(Clock::time_point now) {
  if (now - last_check_ >= kInterval && connected()) {
    last_check_ = now;
    try {
      check();
    } catch (const std::exception& e) {
      spdlog::warn("schema check: {}; retrying", e.what());
      catalog_.reset();
    }
  }
  return std::exchange(notices_, {});
}

keys::CatalogState SchemaWatch::read_state() {
  std::map<std::string, std::set<uint32_t>> roots;
  std::set<uint32_t> all;
  for (const auto& t : options_.tables) roots[t];
  if (state_) {
    for (const auto& [table, ts] : *state_)
      for (const auto& [oid, _] : ts.roots) roots[table].insert(oid);
  } else {
    for (const auto& [table, oid] : options_.table_oids)
      if (oid != 0 && roots.count(table)) roots[table].insert(oid);
  }
  auto names = catalog_->query(kNamesSql, {text_array(options_.tables)});
  for (int i = 0; i < PQntuples(names.get()); ++i)
    roots[PQgetvalue(names.get(), i, 0)].insert(oid_of(PQgetvalue(names.get(), i, 1)));
  for (const auto& [_, oids] : roots) all.insert(oids.begin(), oids.end());

  std::map<uint32_t, keys::RootState> found;
  auto rows = catalog_->query(kRootsSql, {oid_array(all), options_.publication});
  for (int i = 0; i < PQntuples(rows.get()); ++i) {
    auto& root = found[oid_of(PQgetvalue(rows.get(), i, 0))];
    root.name = PQgetvalue(rows.get(), i, 1);
    root.covered = is_true(PQgetvalue(rows.get(), i, 2));
    if (PQgetisnull(rows.get(), i, 3)) continue;  // a partitioned table without partitions
    root.storage[oid_of(PQgetvalue(rows.get(), i, 3))] = {PQgetvalue(rows.get(), i, 4),
                                                          is_true(PQgetvalue(rows.get(), i, 5))};
  }
  keys::CatalogState state;
  for (const auto& [table, oids] : roots) {
    auto& ts = state[table];
    for (auto oid : oids)
      if (auto it = found.find(oid); it != found.end()) ts.roots[oid] = it->second;
  }
  auto others = catalog_->query(kOthersSql, {options_.publication, oid_array(all)});
  lists_only_cached_ = PQntuples(others.get()) > 0 && !is_true(PQgetvalue(others.get(), 0, 0));
  return state;
}

void SchemaWatch::check() {
  auto now = read_state();
  if (!state_) {
    state_ = std::move(now);
    return;
  }
  auto changes = keys::catalog_changes(
      *state_, now, {options_.publication, options_.create_publication, options_.policy});
  state_ = std::move(now);
  notices_.insert(notices_.end(), changes.notices.begin(), changes.notices.end());
  for (const auto& name : changes.to_publish) {
    try {
      catalog_->add_to_publication(options_.publication, name);
    } catch (const std::exception& e) {
      spdlog::warn("schema check: cannot add {} to publication {}: {}; retrying", name,
                   options_.publication, e.what());
    }
  }
  auto snapshot = catalog_->query(
      "SELECT pg_snapshot_xmin(pg_current_snapshot())::text,"
      " pg_snapshot_xmax(pg_current_snapshot())::text");
  uint64_t xmin = std::strtoull(PQgetvalue(snapshot.get(), 0, 0), nullptr, 10);
  uint64_t xmax = std::strtoull(PQgetvalue(snapshot.get(), 0, 1), nullptr, 10);
  if (options_.policy == keys::TruncatePolicy::kIgnore) return;
  for (const auto& r : changes.flush_reasons) flush_reasons_.push_back(r);
  // ALTER PUBLICATION ... ADD TABLE does not wait for writers of the table: one that began
  // before it may commit rows the stream never carries, so flush again once it has ended.
  if (changes.published_again && xmin < xmax) flush_after_xid_ = std::max(flush_after_xid_, xmax);
  if (flush_after_xid_ != 0 && xmin >= flush_after_xid_) {
    flush_reasons_.push_back("the transactions running when a cached table joined publication " +
                             options_.publication + " have ended");
    flush_after_xid_ = 0;
  }
  if (flush_reasons_.empty()) return;
  std::string reason;
  for (const auto& r : flush_reasons_) reason += (reason.empty() ? "" : "; ") + r;
  catalog_->query(
      "SELECT pg_logical_emit_message(true, $1, $2)",
      {std::string(keys::kSchemaMarkerPrefix), keys::encode_schema_marker(options_.slot, reason)});
  spdlog::info("schema check: wrote a schema marker for slot {}: {}", options_.slot, reason);
  flush_reasons_.clear();
}

std::optional<SchemaWatch::Origin> SchemaWatch::followed(uint32_t oid) const {
  if (!state_) return std::nullopt;
  for (const auto& [table, ts] : *state_)
    for (const auto& [root, rs] : ts.roots) {
      if (root == oid) return Origin{Origin::kTable, table, false, {}, {}};
      if (rs.storage.count(oid)) return Origin{Origin::kTable, table, true, {}, {}};
    }
  return std::nullopt;
}

SchemaWatch::Origin SchemaWatch::origin(const pgoutput::Relation& relation) {
  const std::string name = relation.schema + "." + relation.name;
  const bool configured =
      std::find(options_.tables.begin(), options_.tables.end(), name) != options_.tables.end();
  if (auto f = followed(relation.id)) return *f;
  // Not what the last check saw: look again (a table created or attached since).
  if (connected()) {
    try {
      check();
      last_check_ = Clock::now();
    } catch (const std::exception& e) {
      catalog_.reset();
      if (!configured) return {Origin::kUnknown, "", false, e.what(), {}};
    }
  }
  if (auto f = followed(relation.id)) return *f;
  if (configured) {
    // The name the relation had when the change was made is a cached table's, but the table of
    // that name now is another: this one was dropped or replaced since (while no check saw it),
    // and its rows may have gone without DELETEs. A marker written now lands after that.
    Origin o{Origin::kTable, name, false, {}, {}};
    std::string what = name + " is streamed as relation OID " + std::to_string(relation.id) +
                       ", which is not the table of that name now: it was dropped or replaced "
                       "since, and its rows may have gone without DELETEs";
    o.notice = keys::SchemaNotice{keys::SchemaChange::kDropped, true,
                                  what + "; the region's copy " +
                                      keys::policy_consequence(options_.policy) +
                                      " once the stream reaches the present"};
    if (options_.policy != keys::TruncatePolicy::kIgnore) flush_reasons_.push_back(what);
    return o;
  }
  if (!catalog_) return {Origin::kUnknown, "", false, "the primary cannot be queried", {}};
  try {
    auto rows = catalog_->query(kPlaceSql, {std::to_string(relation.id), options_.publication});
    bool streamed = false;
    for (int i = 0; i < PQntuples(rows.get()); ++i) {
      std::string ancestor = PQgetvalue(rows.get(), i, 0);
      streamed = is_true(PQgetvalue(rows.get(), i, 2));
      if (std::find(options_.tables.begin(), options_.tables.end(), ancestor) !=
          options_.tables.end())
        return {Origin::kTable, ancestor, !is_true(PQgetvalue(rows.get(), i, 1)), {}, {}};
    }
    if (PQntuples(rows.get()) > 0 && streamed) return {};
    if (!lists_only_cached_) return {};  // another table the publication lists, perhaps dropped
    return {Origin::kFormerMember,
            "",
            false,
            PQntuples(rows.get()) == 0
                ? std::string("no longer exists")
                : "is no longer in publication " + options_.publication + " (detached?)",
            {}};
  } catch (const std::exception& e) {
    catalog_.reset();
    return {Origin::kUnknown, "", false, e.what(), {}};
  }
}

}  // namespace mccache::invalidator::replication
