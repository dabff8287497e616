// The slot's identity on disk (source.state_file): which slot this invalidator streamed from, on
// which cluster. A restarted daemon that finds that slot missing knows it was lost (every change
// since is unknown) instead of mistaking it for a first start and creating a new one silently.
#pragma once

#include <optional>
#include <string>

namespace mccache::invalidator::replication {

struct SlotRecord {
  std::string slot;
  std::string system_identifier;  // pg_control_system(); a promoted replica keeps it
  bool operator==(const SlotRecord&) const = default;
};

// nullopt when the file does not exist; throws std::runtime_error when it cannot be read or parsed.
std::optional<SlotRecord> read_slot_record(const std::string& path);
// Writes atomically (temporary file, fsync, rename); throws std::runtime_error on failure.
void write_slot_record(const std::string& path, const SlotRecord& record);

}  // namespace mccache::invalidator::replication
