// "key value" lines, small enough to read by eye: slot mcinval_dc1 / system_identifier 7301... /
// confirmed_lsn 0/16B3748.
#include "invalidator/replication/slot_record.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "invalidator/pgoutput/stream_frame.h"

namespace mccache::invalidator::replication {

std::optional<SlotRecord> read_slot_record(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error(path + ": cannot read the slot state file: " + std::strerror(errno));
  }
  SlotRecord r;
  std::string line;
  bool bad_lsn = false;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key, value;
    fields >> key >> value;
    if (key == "slot") r.slot = value;
    if (key == "system_identifier") r.system_identifier = value;
    if (key == "confirmed_lsn") {
      pgoutput::Lsn lsn = 0;
      bad_lsn = !pgoutput::parse_lsn(value, lsn);
      r.confirmed = lsn;
    }
  }
  if (r.slot.empty() || r.system_identifier.empty() || bad_lsn)
    throw std::runtime_error(path +
                             ": not a slot state file (expected \"slot NAME\", "
                             "\"system_identifier ID\" and \"confirmed_lsn X/Y\" lines); restore "
                             "it, or treat the slot as lost (docs/operations.md, \"Slot loss\")");
  return r;
}

void write_slot_record(const std::string& path, const SlotRecord& record) {
  auto fix =
      "; set invalidator.state_dir (or source.state_file) to a directory this user can "
      "write, e.g. the StateDirectory= of its systemd unit";
  if (auto dir = std::filesystem::path(path).parent_path(); !dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
      throw std::runtime_error(dir.string() + ": cannot create the state directory: " +
                               ec.message() + fix);
  }
  // Per process: an active invalidator and a standby on one host may share the file.
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::string text =
      "slot " + record.slot + "\nsystem_identifier " + record.system_identifier + "\n";
  if (record.confirmed) text += "confirmed_lsn " + pgoutput::format_lsn(*record.confirmed) + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  if (fd >= 0) ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error(
        path + ": cannot write the slot state file: " + std::strerror(ok ? errno : saved) + fix);
}

}  // namespace mccache::invalidator::replication
