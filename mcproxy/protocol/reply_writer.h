// Builds client replies of the text protocol by appending to a caller-owned buffer (no
// allocation once the buffer has grown), and translates backend meta replies into them.
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
inline constexpr std::string_view kLeasesDisabledReply = "SERVER_ERROR leases not enabled\r\n";

void append_number(std::string& out, uint64_t n);
void append_signed(std::string& out, int64_t n);
// "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n"
void append_value(std::string& out, std::string_view key, std::string_view flags,
                  std::string_view data, std::string_view cas);
// "SERVER_ERROR <reason>\r\n"
void append_server_error(std::string& out, std::string_view reason);
// "STAT <name> <value>\r\n"
void append_stat(std::string& out, std::string_view name, std::string_view value);

// --- Text retrievals carried as meta gets (so lease state in memcached is visible to us) ---

// "mg <key> v f c k[ T<ttl>]\r\n" for one key of get/gets/gat/gats.
void append_meta_get(std::string& out, std::string_view key, Command command, int64_t exptime);

enum class GetResult { kHit, kMiss, kError };
struct GetTranslation {
  GetResult result = GetResult::kMiss;
  // This plain get was handed the win (W) on a stale item (X): nobody asked for it, so it must be
  // given back or the item's lease stays taken until it expires (see append_give_back_win).
  bool give_back_win = false;
};

// Appends the text answer for one key (a VALUE block on a hit, nothing on a miss, the error line
// on an error). A stale (X) or placeholder (Z) item is a miss: a plain get must never return an
// invalidated value or a lease placeholder as a hit.
GetTranslation translate_meta_get(const Reply& reply, std::string_view key, bool with_cas,
                                  std::string& out);

// memcached 1.6.18: a second invalidating delete of an already-stale item gives its win back.
void append_give_back_win(std::string& out, std::string_view key, int stale_ttl_s);

// "md <key> I T<stale_ttl>\r\n": a delete that keeps a stale copy for lease-get clients.
void append_invalidate(std::string& out, std::string_view key, int stale_ttl_s);
// HD → DELETED, NF → NOT_FOUND, errors pass through.
void translate_invalidate(const Reply& reply, std::string& out);

}  // namespace mccache::protocol
