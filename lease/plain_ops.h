// Plain get/gets and delete through the proxy, made lease-safe: a stale copy or a lease
// placeholder is never a hit, a plain get never keeps the win a lease-get client needs, and a
// delete voids outstanding leases.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lease/meta_reply.h"
#include "lease/settings.h"

namespace mccache::lease {

struct PlainGetOutcome {
  bool hit = false;
  uint32_t client_flags = 0;
  uint64_t cas = 0;  // for a gets reply ("VALUE k f n <cas>")
  std::string_view value;
  // The mg took the win of a stale copy or placeholder (W): send
  // append_give_back_command(key, give_back_cas, give_back_ttl_s) and discard its one reply,
  // else lease-get clients would hot-miss until the stale copy expires.
  bool give_back = false;
  uint64_t give_back_cas = 0;
  uint32_t give_back_ttl_s = 0;  // the item's remaining TTL, so giving back does not extend it
  bool backend_error = false;
  std::string_view error;
};

// `reply` answers append_plain_get_command. Miss: EN, X (stale copy: a text `get` would have
// returned it as a hit), Z or W on an empty item (a lease placeholder: a text `get` returns it
// as an empty hit).
PlainGetOutcome classify_plain_get(const MetaReply& reply, const LeaseSettings& settings);

enum class DeleteResult { Deleted, NotFound, BackendError };

// `reply` answers append_delete_command (not quiet): HD -> Deleted, NF -> NotFound.
DeleteResult classify_delete(const MetaReply& reply);
// "DELETED\r\n" / "NOT_FOUND\r\n" / "SERVER_ERROR <message>\r\n".
void append_delete_reply(std::string& out, DeleteResult result,
                         std::string_view error_message = "backend error");

}  // namespace mccache::lease
