// The real proxy core inside a test shell that does what net/ does, minus the sockets: client
// bytes are parsed and planned; what each backend channel would write is collected; replies are
// handed back when (and in the order) the test says. No lease or protocol logic lives here.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/json_reader.h"
#include "mcproxy/core/backend_channel.h"
#include "mcproxy/core/context.h"
#include "mcproxy/core/request_plan.h"
#include "mcproxy/protocol/request_parser.h"
#include "pool/placement.h"
#include "pool/server_pool.h"

namespace mccache::core::testing {

class CoreShell final : public Backends {
 public:
  // One channel per server of `servers` (and of `gutter`), placed with libmemcached's ketama.
  CoreShell(std::vector<config::HostPort> servers, Settings settings,
            std::vector<config::HostPort> gutter = {}, size_t clients = 1);
  ~CoreShell();

  // Clients: bytes in (any split), replies out in the order the client sent its requests.
  void send(std::string_view bytes, size_t client = 0);
  std::string take_output(size_t client = 0);
  Session& session(size_t client = 0);
  void close_client(size_t client = 0);

  // Backends: what a channel would write now, and the bytes its server answers (any split).
  std::string take_written(size_t server, bool gutter = false);
  // Parses and delivers every complete reply; a reply nobody asked for (returned: 1) fails the
  // channel there, as net/ closes the connection, and the rest of `bytes` is dropped with it.
  size_t answer(size_t server, std::string_view bytes, bool gutter = false);
  void connect(size_t server, bool gutter = false);  // the TCP connect of net/
  void fail(size_t server, std::string_view why, bool gutter = false);
  void mark_down(size_t server, bool down = true);  // the pool's health
  BackendChannel& channel_of(size_t server, bool gutter = false);

  const pool::Placement& placement() const { return placement_; }
  Settings& settings() { return settings_; }
  RequestCounters& counters() { return counters_; }
  Context& context() { return ctx_; }
  // Sessions and channels the core left on the flush list (and releases the sessions).
  size_t drain_flushes();

  // Backends
  pool::Target route(std::string_view key) override;
  BackendChannel* channel(pool::Target to, Need need) override;
  const pool::Server& server(pool::Target to) const override;
  size_t servers(bool gutter) const override;

 private:
  struct Client;
  struct Backend;
  Backend& backend(size_t server, bool gutter);

  Settings settings_;
  RequestCounters counters_;
  Flushes flushes_;
  Context ctx_;
  pool::Placement placement_;
  pool::ServerPool pool_;
  pool::ServerPool gutter_pool_;
  std::vector<std::unique_ptr<Backend>> backends_;
  std::vector<std::unique_ptr<Backend>> gutter_backends_;
  std::vector<std::unique_ptr<Client>> clients_;
};

}  // namespace mccache::core::testing
