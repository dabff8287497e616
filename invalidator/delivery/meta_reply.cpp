// Counts the replies of a quiet-md pipeline until its MN.
#include "invalidator/delivery/meta_reply.h"

namespace mccache::invalidator::delivery {

MetaReplyScanner::MetaReplyScanner() {
  // Answers to md and mn are short lines; anything long is garbage that must not grow memory.
  parser_.max_line_bytes = 4096;
  parser_.max_value_bytes = 4096;
}

bool MetaReplyScanner::feed(std::string_view bytes) {
  if (skipping_line_) {
    // The rest of a garbage line: dropped as it arrives, up to its newline.
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) return done_;
    bytes.remove_prefix(nl + 1);
    skipping_line_ = false;
  }
  pending_.append(bytes);
  std::string_view input = pending_;
  pool::Reply reply;
  while (!done_ && !input.empty()) {
    auto step = parser_.next(input, reply);
    if (step.status == pool::ReplyParser::Status::kNeedMore) break;
    if (step.status == pool::ReplyParser::Status::kReply) {
      count(reply);
      input.remove_prefix(step.consumed);
      continue;
    }
    // Not memcached's protocol: counted, and skipped up to the next line.
    ++unexpected_;
    size_t nl = input.find('\n');
    if (nl == std::string_view::npos) {
      input = {};
      skipping_line_ = true;
      break;
    }
    input.remove_prefix(nl + 1);
  }
  pending_.erase(0, pending_.size() - input.size());
  return done_;
}

void MetaReplyScanner::count(const pool::Reply& reply) {
  using pool::ReplyStatus;
  switch (reply.status) {
    case ReplyStatus::kNoop:
      done_ = true;
      break;
    case ReplyStatus::kNotFound:
      ++not_found_;
      break;
    case ReplyStatus::kHeader:
      ++ok_;
      break;
    case ReplyStatus::kClientError:
      ++client_errors_;
      break;
    case ReplyStatus::kServerError:
    case ReplyStatus::kError:
      ++server_errors_;
      break;
    case ReplyStatus::kText:
      // flush_all's answer (a region flush); any other text line is not an answer to md or mn.
      if (reply.line == "OK") {
        ++ok_;
      } else {
        ++unexpected_;
      }
      break;
    default:
      ++unexpected_;
      break;  // VA/EN/NS/EX, VALUE, STAT: not an answer to md or mn
  }
}

}  // namespace mccache::invalidator::delivery
