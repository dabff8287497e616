// Scans quiet-md pipeline replies line by line, tolerating any split of the byte stream.
#include "invalidator/delivery/meta_reply.h"

namespace mccache::invalidator::delivery {

bool MetaReplyScanner::feed(std::string_view bytes) {
  while (!done_ && !bytes.empty()) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      // Bound the partial line: memcached's replies here are short; garbage must not grow memory.
      if (partial_.size() < 4096) partial_.append(bytes.substr(0, 4096 - partial_.size()));
      return done_;
    }
    std::string_view l = bytes.substr(0, nl);
    bytes.remove_prefix(nl + 1);
    if (!partial_.empty()) {
      partial_.append(l);
      l = partial_;
    }
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    line(l);
    partial_.clear();
  }
  return done_;
}

void MetaReplyScanner::line(std::string_view l) {
  auto starts = [&](std::string_view p) { return l.substr(0, p.size()) == p; };
  if (l == "MN") done_ = true;
  else if (l == "NF") ++not_found_;
  else if (l == "HD" || l == "OK") ++ok_;
  else if (starts("CLIENT_ERROR")) ++client_errors_;
  else if (starts("SERVER_ERROR") || l == "ERROR") ++server_errors_;
  else ++unexpected_;
}

}  // namespace mccache::invalidator::delivery
