// Which flags each meta command may carry through mcproxy, and the rules memcached 1.6.18 applies
// to them (proto_text.c _meta_flag_preparse): the first byte of a token names the flag, each flag
// at most once, and every token starting with 'q' is the quiet flag whatever follows it.
#pragma once

#include <string_view>

#include "mcproxy/protocol/request.h"

namespace mccache::protocol {

// The flags a client may send with `c` (mg, ms, md, ma, me): those protocol.txt 1.6.18 documents
// for the command (plus O and k on ma, which memcached's ma answers too). Flags memcached knows
// but does not document for the command (P and L are the proxy's, E and S are newer) are refused.
std::string_view accepted_meta_flags(Command c);

// memcached reads at most this many tokens on a meta command line (MFLAG_MAX_OPT_LENGTH counts
// its terminal token too).
inline constexpr size_t kMaxMetaTokens = 19;

struct MetaFlagCheck {
  std::string_view error;  // the CLIENT_ERROR reply, empty when every flag is accepted
  bool quiet = false;      // a token starting with 'q' was among them
};

// Checks one flag token, given the flags seen so far on the line (`seen`, indexed by byte).
// A flag token holding a control byte is refused too: memcached would cut the line at a NUL and
// echo the rest (an O opaque) back into its reply.
MetaFlagCheck check_meta_flag(Command c, std::string_view token, bool (&seen)[128]);

}  // namespace mccache::protocol
