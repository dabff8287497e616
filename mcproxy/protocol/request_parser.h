// Incremental, allocation-light parser of the memcached text protocol as a client speaks it.
// Pure: bytes in, requests out; no sockets, clocks or globals (design.md "Pure cores").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mcproxy/protocol/request.h"

namespace mccache::protocol {

struct ParserLimits {
  size_t max_key_bytes = 250;
  size_t max_value_bytes = 1 << 20;
  // memcached refuses command lines longer than this (2048) unless they are retrievals, whose
  // many keys may legitimately make a long line.
  size_t max_line_bytes = 2048;
  size_t max_retrieval_line_bytes = 1 << 20;
};

class RequestParser {
 public:
  enum class Status { kRequest, kNeedMore, kError };
  struct Step {
    Status status = Status::kNeedMore;
    // Bytes at the front of the input that are done with, whatever the status: a request, an
    // error'd line with the part of its data block that has arrived, or swallowed bytes.
    size_t consumed = 0;
    std::string_view error;  // kError: the whole reply, e.g. "CLIENT_ERROR bad data chunk\r\n"
    bool close = false;      // kError: the stream cannot be resynchronised; reply, then close
  };

  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}
  // New limits apply from the next request on (a config reload).
  void set_limits(ParserLimits limits) { limits_ = limits; }

  // Parses at most one request from the front of `input` (the unconsumed bytes so far). On
  // kRequest, `out`'s views point into `input`. Call again with the rest (minus `consumed`).
  Step next(std::string_view input, Request& out);

  // True while the parser is discarding the data block of a refused command.
  bool swallowing() const { return swallow_ > 0; }

 private:
  Step parse_line(std::string_view input, std::string_view line, size_t line_size, Request& out);
  Step data_error(std::string_view input, size_t line_size, int64_t bytes, std::string_view error);

  ParserLimits limits_;
  size_t swallow_ = 0;  // bytes of a refused data block still to discard
};

}  // namespace mccache::protocol
