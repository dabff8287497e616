// Client replies of the text protocol that the proxy writes itself, appended to a caller-owned
// buffer (no allocation once the buffer has grown). The lease-aware translation of meta replies
// (get, gets, gat, delete, lease-get, lease-set) and its VALUE / SERVER_ERROR lines live in
// lease/, so there is one implementation of them.
#pragma once

#include <string>
#include <string_view>

namespace mccache::protocol {

inline constexpr std::string_view kEndReply = "END\r\n";
inline constexpr std::string_view kErrorReply = "ERROR\r\n";
inline constexpr std::string_view kAdminDisabledReply =
    "CLIENT_ERROR admin commands are disabled\r\n";

// "STAT <name> <value>\r\n"
void append_stat(std::string& out, std::string_view name, std::string_view value);

}  // namespace mccache::protocol
