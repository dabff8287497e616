// The one parser of what memcached answers on a backend connection, for both daemons: meta
// replies (VA/HD/EN/NF/NS/EX/MN and their return flags), text replies (VALUE...END blocks, STAT
// blocks, single status lines) and errors, each with one status. Incremental and in place: a
// reply is a set of views into the caller's buffer (doc/protocol.txt, "Meta Commands").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mccache::pool {

enum class ReplyStatus : uint8_t {
  kValue,        // VA <size> <flags>* + data block
  kHeader,       // HD <flags>*: success without a value
  kMiss,         // EN: mg miss
  kNotFound,     // NF: ms/md/ma on no item
  kNotStored,    // NS
  kExists,       // EX: CAS mismatch
  kNoop,         // MN: the answer to mn, after everything before it
  kTextValues,   // VALUE ... END (zero or more items; a lone END is a text miss)
  kStats,        // STAT ... END
  kText,         // any other single line: STORED, DELETED, TOUCHED, OK, VERSION x, a number ...
  kError,        // ERROR
  kClientError,  // CLIENT_ERROR <message>
  kServerError,  // SERVER_ERROR <message>
};

// The return flags of a meta reply that mcproxy and lease/ act on; others (s, O, b, h, l...) are
// skipped.
struct MetaFlags {
  bool win = false;                      // W: this request won the right to refill the item
  bool stale = false;                    // X: the item was invalidated (md I): a stale copy
  bool win_sent = false;                 // Z: someone else already holds the win
  std::optional<uint64_t> cas;           // c
  std::optional<uint32_t> client_flags;  // f
  std::optional<int64_t> ttl;            // t: remaining seconds, -1 = never expires
  std::string_view key;                  // k: the key, echoed
};

struct Reply {
  ReplyStatus status = ReplyStatus::kText;
  std::string_view line;     // first line without "\r\n"
  std::string_view flags;    // meta replies: the flag tokens after the code (and VA's size)
  MetaFlags meta;            // meta replies: `flags` read
  std::string_view value;    // VA: the data block without its "\r\n"
  std::string_view message;  // CLIENT_ERROR / SERVER_ERROR: the text after the code
  std::string_view raw;      // every byte of the reply, terminators included

  bool is_error() const {
    return status == ReplyStatus::kError || status == ReplyStatus::kClientError ||
           status == ReplyStatus::kServerError;
  }
};

class ReplyParser {
 public:
  enum class Status { kReply, kNeedMore, kError };
  struct Step {
    Status status = Status::kNeedMore;
    size_t consumed = 0;  // kReply: the reply's size
  };
  // kError means the bytes are not memcached's protocol (including a meta flag c/f/t that is not
  // a number): the connection must be reset.
  Step next(std::string_view input, Reply& out) const;

  size_t max_line_bytes = 8192;
  // memcached's largest item (-I) is 1 GiB; a bigger announced size is a broken or hostile
  // backend, refused before any arithmetic on it can wrap.
  size_t max_value_bytes = size_t{1} << 30;
};

}  // namespace mccache::pool
