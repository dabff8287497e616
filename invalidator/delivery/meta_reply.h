// Pure scanner of memcached's answers to a pipeline of quiet meta deletes closed by `mn`.
// memcached 1.6.18 suppresses HD for `md <key> q`, still answers NF and errors, and answers `mn`
// with MN only after everything before it (protocol.txt, "Meta No-Op"), so MN acknowledges the
// whole pipeline. Replies are cut and classified by the pool's one reply parser
// (pool/reply_parser.h), at any split of the byte stream, in bounded memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pool/reply_parser.h"

namespace mccache::invalidator::delivery {

class MetaReplyScanner {
 public:
  MetaReplyScanner();

  // Consumes bytes; returns true once the closing MN line has been seen. A line that is not
  // memcached's protocol counts as unexpected() and is skipped.
  bool feed(std::string_view bytes);

  bool done() const { return done_; }
  uint64_t not_found() const { return not_found_; }
  uint64_t ok() const { return ok_; }                        // HD / OK (flush_all)
  uint64_t client_errors() const { return client_errors_; }  // bad key: retrying cannot help
  uint64_t server_errors() const { return server_errors_; }  // e.g. out of memory: retry
  uint64_t unexpected() const { return unexpected_; }
  void reset() { *this = MetaReplyScanner(); }

 private:
  void count(const pool::Reply& reply);

  pool::ReplyParser parser_;
  std::string pending_;         // bytes of a reply not complete yet
  bool skipping_line_ = false;  // dropping an over-long garbage line up to its newline
  bool done_ = false;
  uint64_t not_found_ = 0, ok_ = 0, client_errors_ = 0, server_errors_ = 0, unexpected_ = 0;
};

}  // namespace mccache::invalidator::delivery
