// Command classification shared by the parser, the router and the metrics.
#include "mcproxy/protocol/request.h"

#include <array>

namespace mccache::protocol {

std::string_view command_name(Command c) {
  static constexpr std::array<std::string_view, kCommandCount> kNames{
      "get",  "gets",  "gat",     "gats",      "set",     "add",     "replace",
      "append", "prepend", "cas", "delete",    "incr",    "decr",    "touch",
      "version", "stats", "quit", "flush_all", "verbosity", "admin", "mg",
      "ms",   "md",    "ma",      "mn",        "me",      "lease_get", "lease_set"};
  return kNames[static_cast<size_t>(c)];
}

bool is_retrieval(Command c) {
  return c == Command::kGet || c == Command::kGets || c == Command::kGat || c == Command::kGats;
}

bool is_storage(Command c) {
  return c == Command::kSet || c == Command::kAdd || c == Command::kReplace ||
         c == Command::kAppend || c == Command::kPrepend || c == Command::kCas;
}

bool is_meta(Command c) {
  return c == Command::kMetaGet || c == Command::kMetaSet || c == Command::kMetaDelete ||
         c == Command::kMetaArithmetic || c == Command::kMetaNoop || c == Command::kMetaDebug;
}

bool is_admin(Command c) {
  return c == Command::kFlushAll || c == Command::kVerbosity || c == Command::kAdminOther;
}

bool has_data_block(Command c) {
  return is_storage(c) || c == Command::kMetaSet || c == Command::kLeaseSet;
}

}  // namespace mccache::protocol
