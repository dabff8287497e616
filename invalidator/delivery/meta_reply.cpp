// Scans quiet-md pipeline replies line by line, tolerating any split of the byte stream.
#include "invalidator/delivery/meta_reply.h"

#include "lease/meta_reply.h"

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
  if (l == "NF") {  // the usual answer to a quiet md (nothing cached): skip the full parser
    ++not_found_;
    return;
  }
  if (l == "OK") {  // flush_all's answer: not a meta reply
    ++ok_;
    return;
  }
  auto head = lease::parse_meta_head(l);
  if (!head) {
    ++unexpected_;
    return;
  }
  switch (head->reply.status) {
    case lease::MetaStatus::MN: done_ = true; break;
    case lease::MetaStatus::NF: ++not_found_; break;
    case lease::MetaStatus::HD: ++ok_; break;
    case lease::MetaStatus::ClientError: ++client_errors_; break;
    case lease::MetaStatus::ServerError:
    case lease::MetaStatus::Error: ++server_errors_; break;
    default: ++unexpected_; break;  // VA/EN/NS/EX: not an answer to md or mn
  }
}

}  // namespace mccache::invalidator::delivery
