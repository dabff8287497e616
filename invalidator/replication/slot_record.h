// The slot's identity and position on disk (source.state_file): which slot this invalidator
// streamed from, on which cluster, and the last position it confirmed (or, as a standby, saw
// confirmed). A restarted daemon that finds that slot missing, or a slot that starts after that
// position, knows it was lost (every change since is unknown) instead of mistaking it for a
// first start and streaming from it silently.
#pragma once

#include <optional>
#include <string>

#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::replication {

struct SlotRecord {
  std::string slot;
  std::string system_identifier;  // pg_control_system(); a promoted replica keeps it
  // Never above what the slot confirmed: written before each status update that moves it.
  // Absent in a file from an older version, or for a slot just created.
  std::optional<pgoutput::Lsn> confirmed;
  bool operator==(const SlotRecord&) const = default;
};

// nullopt when the file does not exist; throws std::runtime_error when it cannot be read or parsed.
std::optional<SlotRecord> read_slot_record(const std::string& path);
// Writes atomically (temporary file, fsync, rename), creating the directories when missing; throws
// std::runtime_error naming the fix on failure.
void write_slot_record(const std::string& path, const SlotRecord& record);

}  // namespace mccache::invalidator::replication
