// Client-facing reply bytes in mcrouter's ASCII forms (mcrouter/lib/network/AsciiSerialized.cpp
// for the writer, McAsciiParser.rl for what mcrouter's clients accept), so the proxy just
// writes them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mccache::lease {

// "VALUE <key> <flags> <bytes>[ <cas>]\r\n<value>\r\n" (one hit of get/gets/lease-get).
void append_value_block(std::string& out, std::string_view key, uint32_t client_flags,
                        std::string_view value, std::optional<uint64_t> cas = std::nullopt);

// "LVALUE <key> <token> <flags> <bytes>\r\n<value>\r\n": a lease-get miss. Field order is
// token before flags (mcrouter's `lvalue` rule and its serializer agree on it).
void append_lvalue_block(std::string& out, std::string_view key, uint64_t token,
                         uint32_t client_flags, std::string_view value);

inline constexpr std::string_view kEnd = "END\r\n";
inline constexpr std::string_view kStored = "STORED\r\n";
inline constexpr std::string_view kStaleStored = "STALE_STORED\r\n";  // never sent, see lease_set.h
inline constexpr std::string_view kNotStored = "NOT_STORED\r\n";
inline constexpr std::string_view kDeleted = "DELETED\r\n";
inline constexpr std::string_view kNotFound = "NOT_FOUND\r\n";

// "SERVER_ERROR <message>\r\n" for a backend failure or an unexpected backend answer.
void append_server_error(std::string& out, std::string_view message);

}  // namespace mccache::lease
