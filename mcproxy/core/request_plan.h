// What a parsed client request becomes: the bytes of each backend request it needs (appended to
// the channel that carries it, in the form the proxy chose, never a form that stays silent) and
// how each one's replies are to be read, or else the proxy's own reply. One table
// (request_plan.cpp) says how each command is planned. Pure: the shell answers where a key goes
// and which connection can take a request; no sockets, no clock reads.
#pragma once

#include <cstddef>
#include <string_view>

#include "mcproxy/core/backend_channel.h"
#include "mcproxy/core/context.h"
#include "mcproxy/core/session.h"
#include "mcproxy/protocol/request.h"
#include "pool/placement.h"
#include "pool/server_pool.h"

namespace mccache::core {

// The backends as the planner sees them (net::Worker; a fake in the core's tests).
class Backends {
 public:
  // The server a request for `key` goes to now: its pool server, or its gutter stand-in.
  virtual pool::Target route(std::string_view key) = 0;
  // A connection of `to` that can take a request with `need` now, or null (the server is down,
  // every connection is reconnecting, or the epoch is not known yet).
  virtual BackendChannel* channel(pool::Target to, Need need) = 0;
  virtual const pool::Server& server(pool::Target to) const = 0;
  // How many servers the pool (or the gutter pool) has: a broadcast reaches each of them.
  virtual size_t servers(bool gutter) const = 0;

 protected:
  ~Backends() = default;
};

// What is left for the shell to do.
enum class Action : uint8_t {
  kDone,
  kQuit,   // close once the replies of the requests before it are written
  kStats,  // write the proxy's own `stats` (thread and process state the core does not hold)
};

Action plan(Session& client, const protocol::Request& request, Backends& backends, Context& ctx);

}  // namespace mccache::core
