// Loads pgoutput payloads captured from a real PostgreSQL 15 (see data/capture.py for how).
#pragma once

#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace mccache::invalidator::testdata {

inline std::map<std::string, std::string> load_capture() {
  std::map<std::string, std::string> out;
  std::ifstream in(MCCACHE_PGOUTPUT_CAPTURE);
  std::string name, hex;
  while (in >> name >> hex) {
    std::string bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
      bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    out[name] = bytes;
  }
  return out;
}

}  // namespace mccache::invalidator::testdata
