// "key value" lines, small enough to read by eye: slot mcinval_dc1 / system_identifier 7301...
#include "invalidator/replication/slot_record.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mccache::invalidator::replication {

std::optional<SlotRecord> read_slot_record(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error(path + ": cannot read the slot state file: " + std::strerror(errno));
  }
  SlotRecord r;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key, value;
    fields >> key >> value;
    if (key == "slot") r.slot = value;
    if (key == "system_identifier") r.system_identifier = value;
  }
  if (r.slot.empty() || r.system_identifier.empty())
    throw std::runtime_error(path + ": not a slot state file (expected \"slot NAME\" and "
                             "\"system_identifier ID\" lines); restore it or remove it");
  return r;
}

void write_slot_record(const std::string& path, const SlotRecord& record) {
  std::string tmp = path + ".tmp";
  std::string text = "slot " + record.slot + "\nsystem_identifier " + record.system_identifier + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  if (fd >= 0) ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error(path + ": cannot write the slot state file: " +
                             std::strerror(ok ? errno : saved));
}

}  // namespace mccache::invalidator::replication
