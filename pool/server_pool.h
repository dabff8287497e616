// The memcached servers of one pool (the region's, or its gutter) as the proxy threads share them:
// address, name and health. Placement of keys is placement.h's; this is who the servers are.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/json_reader.h"
#include "pool/server_health.h"

namespace mccache::pool {

// One memcached server. Shared by every pool built for it, so a reload that keeps the server
// keeps its health (a down server stays down until a probe succeeds).
struct Server {
  Server(const config::HostPort& a, int failures_until_down)
      : address(a), name(a.str()), health(failures_until_down) {}
  const config::HostPort address;
  const std::string name;  // "host:port" as the config spells it (lease epochs hash it)
  ServerHealth health;
};

class ServerPool {
 public:
  // A pool over `servers` that takes over the Server objects of `previous` pools listing the same
  // host:port (their health, their connections), and makes new ones for the rest.
  ServerPool(const std::vector<config::HostPort>& servers, int failures_until_down,
             const std::vector<const ServerPool*>& previous = {});

  size_t size() const { return servers_.size(); }
  const config::HostPort& server(size_t i) const { return servers_[i]->address; }
  const std::string& name(size_t i) const { return servers_[i]->name; }
  ServerHealth& health(size_t i) { return servers_[i]->health; }
  const ServerHealth& health(size_t i) const { return servers_[i]->health; }
  const std::shared_ptr<Server>& shared(size_t i) const { return servers_[i]; }
  // The Server named "host:port", or null.
  std::shared_ptr<Server> find(std::string_view name) const;

 private:
  std::vector<std::shared_ptr<Server>> servers_;
};

}  // namespace mccache::pool
