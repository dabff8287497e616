// What backend replies become for the client: each reply is translated by the kind its request
// was sent with (ReplyKind, one case each), written into the waiting client's reply slot in the
// text protocol (lease replies in mcrouter's ASCII forms: mcrouter/lib/network/
// AsciiSerialized.cpp writes them, McAsciiParser.rl is what its clients accept) and counted.
// Pure: no sockets, no clock reads; what a meta reply means for leases is lease/'s.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mcproxy/core/backend_channel.h"
#include "mcproxy/core/context.h"
#include "pool/reply_parser.h"
#include "pool/server_pool.h"

namespace mccache::core {

inline constexpr std::string_view kEnd = "END\r\n";
inline constexpr std::string_view kNotStored = "NOT_STORED\r\n";

struct Delivery {
  enum class Status : uint8_t {
    kDelivered,
    // A reply nobody asked for, or not one the waiting request can get (BackendChannel::awaits):
    // the connection is out of step; the shell closes it and fails what waits, at once.
    kUnasked,
    kNoIdentity,  // the `stats` probe had no pid/time/uptime: lease commands here will fail
  };
  Status status = Status::kDelivered;
  std::optional<TimePoint> sent;  // a request got all its replies: when it was sent
};

// One reply of `channel`, for the request at the head of its FIFO. A plain get's give-back is
// queued on the same channel (in ctx.flushes); the client, if it is still there, goes on the
// flush list.
Delivery deliver(BackendChannel& channel, const pool::Reply& reply, Context& ctx);

// A waiting request whose connection failed: SERVER_ERROR `reason`, or nothing where the client
// expects silence (noreply, one key of a multi-key get).
void fail_waiting(const Pending& p, std::string_view reason, Context& ctx);

// "SERVER_ERROR <message>\r\n".
void append_server_error(std::string& out, std::string_view message);

// "SERVER_ERROR backend <server> is down" (or is reconnecting, or for a lease command has no
// epoch yet): no connection of the key's server can take the request now.
void append_unavailable(std::string& out, const pool::Server& server, bool lease_command);

}  // namespace mccache::core
