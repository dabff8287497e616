// Test helper: one complete backend reply from bytes, cut and read by the pool's reply parser.
// The views point into `bytes`.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "pool/reply_parser.h"

namespace mccache::lease::testing {

inline pool::Reply parse_full_reply(std::string_view bytes) {
  pool::Reply reply;
  auto step = pool::ReplyParser().next(bytes, reply);
  if (step.status != pool::ReplyParser::Status::kReply || step.consumed != bytes.size())
    throw std::runtime_error("not one complete reply: " + std::string(bytes));
  return reply;
}

}  // namespace mccache::lease::testing
