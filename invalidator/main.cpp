// invalidator: tails the Postgres WAL and invalidates one datacenter's memcached pool.
#include "config/command_line.h"
#include "invalidator/daemon.h"

int main(int argc, char** argv) {
  using namespace mccache;
  return config::run_daemon(argc, argv, "invalidator",
                            "invalidator: WAL-driven cache invalidation for one datacenter "
                            "(docs/config.md)",
                            config::Role::kInvalidator, invalidator::run_invalidator);
}
