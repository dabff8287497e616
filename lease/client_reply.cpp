// Client reply writers.
#include "lease/client_reply.h"

#include "lease/detail/ascii.h"

namespace mccache::lease {

using detail::append_uint;

void append_value_block(std::string& out, std::string_view key, uint32_t client_flags,
                        std::string_view value, std::optional<uint64_t> cas) {
  out.append("VALUE ").append(key).append(" ");
  append_uint(out, client_flags);
  out.append(" ");
  append_uint(out, value.size());
  if (cas) {
    out.append(" ");
    append_uint(out, *cas);
  }
  out.append("\r\n").append(value).append("\r\n");
}

void append_lvalue_block(std::string& out, std::string_view key, uint64_t token,
                         uint32_t client_flags, std::string_view value) {
  out.append("LVALUE ").append(key).append(" ");
  append_uint(out, token);
  out.append(" ");
  append_uint(out, client_flags);
  out.append(" ");
  append_uint(out, value.size());
  out.append("\r\n").append(value).append("\r\n");
}

void append_server_error(std::string& out, std::string_view message) {
  out.append("SERVER_ERROR ").append(message).append("\r\n");
}

}  // namespace mccache::lease
