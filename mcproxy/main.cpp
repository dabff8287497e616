// mcproxy: memcached-protocol proxy with leases for one datacenter's pool.
#include "config/command_line.h"
#include "mcproxy/net/server.h"

int main(int argc, char** argv) {
  using namespace mccache;
  return config::run_daemon(argc, argv, "mcproxy",
                            "mcproxy: a memcached-protocol proxy with leases (docs/config.md)",
                            config::Role::kProxy, mcproxy::run_proxy);
}
