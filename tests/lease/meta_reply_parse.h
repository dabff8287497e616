// Test helper: one complete meta reply (head line + VA value) from bytes into a MetaReply.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "lease/meta_reply.h"

namespace mccache::lease::testing {

inline MetaReply parse_full_reply(std::string_view bytes) {
  size_t eol = bytes.find("\r\n");
  auto head = parse_meta_head(bytes.substr(0, eol));
  if (!head) throw std::runtime_error("not a meta reply: " + std::string(bytes));
  MetaReply reply = head->reply;
  if (reply.status == MetaStatus::VA) reply.value = bytes.substr(eol + 2, head->value_bytes);
  return reply;
}

}  // namespace mccache::lease::testing
