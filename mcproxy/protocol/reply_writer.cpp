// Reply formats from memcached's doc/protocol.txt.
#include "mcproxy/protocol/reply_writer.h"

namespace mccache::protocol {

void append_stat(std::string& out, std::string_view name, std::string_view value) {
  out.append("STAT ");
  out.append(name);
  out.push_back(' ');
  out.append(value);
  out.append("\r\n");
}

}  // namespace mccache::protocol
