// Reply formats from memcached's doc/protocol.txt.
#include "mcproxy/protocol/reply_writer.h"

#include <charconv>

namespace mccache::protocol {

void append_number(std::string& out, uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

void append_signed(std::string& out, int64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

void append_value(std::string& out, std::string_view key, std::string_view flags,
                  std::string_view data, std::string_view cas) {
  out.append("VALUE ");
  out.append(key);
  out.push_back(' ');
  if (flags.empty()) {
    out.push_back('0');
  } else {
    out.append(flags);
  }
  out.push_back(' ');
  append_number(out, data.size());
  if (!cas.empty()) {
    out.push_back(' ');
    out.append(cas);
  }
  out.append("\r\n");
  out.append(data);
  out.append("\r\n");
}

void append_server_error(std::string& out, std::string_view reason) {
  out.append("SERVER_ERROR ");
  out.append(reason);
  out.append("\r\n");
}

void append_stat(std::string& out, std::string_view name, std::string_view value) {
  out.append("STAT ");
  out.append(name);
  out.push_back(' ');
  out.append(value);
  out.append("\r\n");
}

}  // namespace mccache::protocol
