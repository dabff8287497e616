// A memcached meta-protocol reply (protocol.txt "Meta Get/Set/Delete"), as the proxy hands it to
// lease/: status, the return flags lease/ reads, and the value bytes of a VA reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mccache::lease {

enum class MetaStatus {
  VA,           // value follows
  HD,           // success, no value
  EN,           // mg miss
  NF,           // ms/md: no item
  NS,           // ms: not stored
  EX,           // ms/md: CAS mismatch
  MN,           // end of a pipeline (answer to mn)
  Error,        // "ERROR"
  ClientError,  // "CLIENT_ERROR <msg>"
  ServerError,  // "SERVER_ERROR <msg>"
};

struct MetaFlags {
  bool win = false;                      // W: this request won the right to refill the item
  bool stale = false;                    // X: the item was invalidated (md I) and is a stale copy
  bool win_sent = false;                 // Z: someone else already holds the win
  std::optional<uint64_t> cas;           // c
  std::optional<uint32_t> client_flags;  // f
  std::optional<int64_t> ttl;            // t: remaining seconds, -1 = never expires
};

struct MetaReply {
  MetaStatus status = MetaStatus::EN;
  MetaFlags flags;
  std::string_view value;    // VA only, without the trailing \r\n
  std::string_view message;  // the text after CLIENT_ERROR / SERVER_ERROR
};

// The first line of a reply, as parsed by parse_meta_head.
struct MetaHead {
  MetaReply reply;           // value still empty
  uint64_t value_bytes = 0;  // VA: the value (plus \r\n) that follows this line
};

// Parses one reply line without its "\r\n" (e.g. "VA 5 f0 c12 t-1 W"). Unknown flags are
// skipped; nullopt for a line that is not a meta reply at all. The views point into `line`.
std::optional<MetaHead> parse_meta_head(std::string_view line);

}  // namespace mccache::lease
