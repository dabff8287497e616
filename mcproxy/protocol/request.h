// What a client asked for: one parsed request of the memcached text protocol, as views into the
// caller's read buffer (valid until that buffer is compacted or refilled).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace mccache::protocol {

enum class Command : uint8_t {
  kGet,
  kGets,
  kGat,
  kGats,
  kSet,
  kAdd,
  kReplace,
  kAppend,
  kPrepend,
  kCas,
  kDelete,
  kIncr,
  kDecr,
  kTouch,
  kVersion,
  kStats,
  kQuit,
  kFlushAll,   // admin
  kVerbosity,  // admin
  kAdminOther, // admin: shutdown, slabs, lru_crawler, cache_memlimit, ... never forwarded
  kMetaGet,
  kMetaSet,
  kMetaDelete,
  kMetaArithmetic,
  kMetaNoop,
  kMetaDebug,
  kLeaseGet,
  kLeaseSet,
};
inline constexpr int kCommandCount = static_cast<int>(Command::kLeaseSet) + 1;

// Stable lower-case names, used in metrics labels and logs.
std::string_view command_name(Command c);

bool is_retrieval(Command c);      // get, gets, gat, gats
bool is_storage(Command c);        // set, add, replace, append, prepend, cas
bool is_meta(Command c);           // mg, ms, md, ma, mn, me
bool is_admin(Command c);          // flush_all, verbosity, shutdown, ...
bool has_data_block(Command c);    // storage, ms, lease-set

struct Request {
  Command command = Command::kVersion;
  std::string_view line;  // the command line without its "\r\n" (or "\n")
  std::string_view data;  // the data block without its trailing "\r\n"; empty if none
  // get/gets/gat/gats: every key in order; everything else: at most one key.
  std::vector<std::string_view> keys;
  // Meta commands: the flag tokens after the key (and ms's length) in order, without any quiet
  // token: mcproxy applies quiet itself, so these are what it forwards.
  std::vector<std::string_view> meta_flags;
  uint32_t flags = 0;          // storage, lease-set
  int64_t exptime = 0;         // storage, touch, gat/gats, lease-set
  uint64_t cas_unique = 0;     // cas
  uint64_t delta = 0;          // incr/decr
  uint64_t lease_token = 0;    // lease-set
  uint32_t verbosity = 0;      // verbosity's level
  bool noreply = false;        // text commands' trailing "noreply"
  bool quiet = false;          // meta commands' q flag (any flag token starting with 'q')
  size_t size = 0;             // bytes this request occupied in the stream (line + data block)

  std::string_view key() const { return keys.empty() ? std::string_view{} : keys.front(); }
};

}  // namespace mccache::protocol
