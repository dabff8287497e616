// Incremental parser of what memcached answers on a backend connection: meta replies
// (VA/HD/EN/NF/NS/EX/MN with flags) and text replies (VALUE...END blocks, single status lines).
// Parses in place: a reply is a set of views into the caller's buffer.
#pragma once

#include <cstddef>
#include <string_view>

namespace mccache::protocol {

enum class ReplyCode : unsigned char {
  kValue,      // VA <size> <flags>* + data block
  kHeader,     // HD <flags>*: success without a value
  kMiss,       // EN
  kNotFound,   // NF
  kNotStored,  // NS
  kExists,     // EX
  kNoop,       // MN
  kTextValues, // VALUE ... END (zero or more items; a lone END is a text miss)
  kText,       // any other single line: STORED, DELETED, TOUCHED, OK, VERSION x, a number ...
  kError,      // ERROR, CLIENT_ERROR ..., SERVER_ERROR ...
};

struct Reply {
  ReplyCode code = ReplyCode::kText;
  std::string_view line;   // first line without "\r\n"
  std::string_view flags;  // meta replies: the flag tokens after the code (and VA's size)
  std::string_view value;  // VA: the data block without its "\r\n"
  std::string_view raw;    // every byte of the reply, terminators included

  // Meta flags: `has_flag('X')`; `flag('f')` is the token after the letter ("" if absent).
  bool has_flag(char f) const;
  std::string_view flag(char f) const;
};

class ReplyParser {
 public:
  enum class Status { kReply, kNeedMore, kError };
  struct Step {
    Status status = Status::kNeedMore;
    size_t consumed = 0;  // kReply: the reply's size
  };
  // kError means the bytes are not memcached's protocol: the connection must be reset.
  Step next(std::string_view input, Reply& out) const;

  size_t max_line_bytes = 8192;
  // memcached's largest item (-I) is 1 GiB; a bigger announced size is a broken or hostile
  // backend, refused before any arithmetic on it can wrap.
  size_t max_value_bytes = size_t{1} << 30;
};

}  // namespace mccache::protocol
