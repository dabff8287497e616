// Writes memcached meta requests (protocol.txt "Meta Commands") into a per-backend buffer:
//   "<verb> <key>[ <datalen>]{ <flag>[<token>]}\r\n[<data>\r\n]"
// Keys must already be valid text-protocol keys (1..250 bytes, no space or control bytes): the
// proxy's parser and the invalidator's key templates check that. What to send for each lease and
// plain operation is lease/'s mapping; this only spells it.
#pragma once

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>

#include "pool/ascii.h"

namespace mccache::pool {

class MetaRequest {
 public:
  // "mg <key>", "md <key>", "ma <key>": flags follow.
  static MetaRequest get(std::string& out, std::string_view key) { return {out, "mg ", key}; }
  static MetaRequest del(std::string& out, std::string_view key) { return {out, "md ", key}; }
  static MetaRequest arithmetic(std::string& out, std::string_view key) {
    return {out, "ma ", key};
  }
  // "ms <key> <bytes>": flags follow, then end_with_data().
  static MetaRequest set(std::string& out, std::string_view key, size_t bytes) {
    MetaRequest r(out, "ms ", key);
    out.push_back(' ');
    append_number(out, bytes);
    return r;
  }

  MetaRequest& flag(char f) {
    out_.push_back(' ');
    out_.push_back(f);
    return *this;
  }
  // Bare flags, one per letter: flags("vfc") is " v f c".
  MetaRequest& flags(std::string_view letters) {
    for (char f : letters) flag(f);
    return *this;
  }
  template <std::integral T>
  MetaRequest& flag(char f, T number) {
    flag(f);
    append_number(out_, number);
    return *this;
  }
  MetaRequest& flag(char f, std::string_view token) {
    flag(f);
    out_.append(token);
    return *this;
  }

  void end() { out_.append("\r\n"); }
  void end_with_data(std::string_view data) { out_.append("\r\n").append(data).append("\r\n"); }

 private:
  MetaRequest(std::string& out, std::string_view verb, std::string_view key) : out_(out) {
    out_.append(verb).append(key);
  }
  std::string& out_;
};

// "mn": memcached answers "MN" after everything before it on the connection, so it closes a
// pipeline whose other requests may be quiet.
inline void append_noop(std::string& out) { out.append("mn\r\n"); }

}  // namespace mccache::pool
