// Client reply writers.
#include "lease/client_reply.h"

#include "pool/ascii.h"

namespace mccache::lease {

using pool::append_number;

void append_value_block(std::string& out, std::string_view key, uint32_t client_flags,
                        std::string_view value, std::optional<uint64_t> cas) {
  out.append("VALUE ").append(key).append(" ");
  append_number(out, client_flags);
  out.append(" ");
  append_number(out, value.size());
  if (cas) {
    out.append(" ");
    append_number(out, *cas);
  }
  out.append("\r\n").append(value).append("\r\n");
}

void append_lvalue_block(std::string& out, std::string_view key, uint64_t token,
                         uint32_t client_flags, std::string_view value) {
  out.append("LVALUE ").append(key).append(" ");
  append_number(out, token);
  out.append(" ");
  append_number(out, client_flags);
  out.append(" ");
  append_number(out, value.size());
  out.append("\r\n").append(value).append("\r\n");
}

void append_server_error(std::string& out, std::string_view message) {
  out.append("SERVER_ERROR ").append(message).append("\r\n");
}

}  // namespace mccache::lease
