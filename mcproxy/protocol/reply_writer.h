// Builds client replies of the text protocol by appending to a caller-owned buffer (no
// allocation once the buffer has grown). The lease-aware translation of meta replies (get, gets,
// gat, delete, lease-get, lease-set) lives in lease/, so there is one implementation of it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mcproxy/protocol/reply_parser.h"
#include "mcproxy/protocol/request.h"

namespace mccache::protocol {

inline constexpr std::string_view kEndReply = "END\r\n";
inline constexpr std::string_view kErrorReply = "ERROR\r\n";
inline constexpr std::string_view kAdminDisabledReply =
    "CLIENT_ERROR admin commands are disabled\r\n";

void append_number(std::string& out, uint64_t n);
void append_signed(std::string& out, int64_t n);
// "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n"
void append_value(std::string& out, std::string_view key, std::string_view flags,
                  std::string_view data, std::string_view cas);
// "SERVER_ERROR <reason>\r\n"
void append_server_error(std::string& out, std::string_view reason);
// "STAT <name> <value>\r\n"
void append_stat(std::string& out, std::string_view name, std::string_view value);

}  // namespace mccache::protocol
