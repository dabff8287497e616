// Typed settings of the invalidator (the "invalidator" section of a datacenter's config).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/choices.h"
#include "config/field_table.h"
#include "config/json_reader.h"

namespace mccache::config {

struct SourceConfig {
  // Empty for the single "source"; each of "sources" (sharded primaries) has a unique name, used as
  // the metrics' source label and in logs.
  std::string name;
  std::string dsn;   // libpq DSN of the primary (replication=database is added by the daemon)
  std::string slot;  // default "mcinval_<datacenter>" or "mcinval_<datacenter>_<name>"
  std::string publication = "mcinval";
  bool create_slot = true;         // create the slot if missing
  bool create_publication = true;  // create the publication (FOR the configured tables) if missing
  // A second invalidator for the same slot (a standby) finds the slot active and retries this
  // often.
  int standby_retry_ms = 1000;
  // Records the slot, the cluster's system identifier and the last confirmed position, so a
  // restarted daemon that finds the slot missing, or a slot that starts later, reports slot loss
  // instead of streaming from it silently. Empty: <state_dir>/<slot>.state (named sources:
  // <state_dir>/<name>-<slot>.state); a relative path is relative to state_dir.
  std::string state_file;
  // The slot disappeared or was invalidated (wal_status 'lost'): "halt" (stay up without streaming
  // until an operator acts) or "flush_region" (flush_all every pool server, new slot, resume).
  SlotLostPolicy on_slot_lost = SlotLostPolicy::kHalt;
  // DSN of the region's local replica of this primary; none: gate on the primary's visibility.
  std::optional<std::string> wait_for_replay;
};

struct DeliveryConfig {
  // "invalidate": md <key> I T<stale_ttl> (keeps a stale copy for lease-get, voids leases);
  // "delete": plain removal.
  DeleteMode mode = DeleteMode::Invalidate;
  int stale_ttl_s = 10;
  int batch_max_keys = 4096;
  int request_timeout_ms = 1000;
  int retry_initial_ms = 100;
  int retry_max_ms = 5000;
  // "hold": a down server's keys wait for it and hold the slot's position back (nothing lost); the
  // other servers' keys are still delivered. "skip": its keys are dropped after the retries;
  // weaker, see docs/config.md.
  ServerDownPolicy on_server_down = ServerDownPolicy::kHold;
  // Keys kept in memory while a down server waits; above this, reading the stream pauses.
  int max_held_keys = 1000000;
};

struct InvalidatorConfig {
  std::optional<HostPort> metrics_listen;
  // Where the slots' state files live. Empty: $STATE_DIRECTORY (set by systemd's
  // StateDirectory=), else /var/lib/mccache.
  std::string state_dir;
  // "source" (one primary, with the section's wait_for_replay) or "sources" (several): each is
  // followed independently, so a slow or down shard does not hold back the others.
  std::vector<SourceConfig> sources;
  std::string message_prefix = "mcinval";
  // "schema.table" → key templates such as "user:{id}".
  std::map<std::string, std::vector<std::string>> tables;
  DeliveryConfig delivery;
  TruncatePolicy truncate = TruncatePolicy::kFlushRegion;  // what a TRUNCATE of a table does
  int status_interval_ms = 1000;  // standby status updates to the walsender
  // SIGTERM: how long the last batch may still wait for a held memcached server or replica.
  int shutdown_timeout_ms = 5000;
};

InvalidatorConfig parse_invalidator_config(JsonObject& section, const std::string& datacenter);
// The rows of docs/config.md's "invalidator" table.
std::vector<FieldDoc> invalidator_field_docs();

}  // namespace mccache::config
