// SIGHUP: the file read again and validated exactly like --check-config plus the start-up checks
// of the templates against the tables' replica identity. What a reload may change is applied
// between transactions by the loop; a bad file changes nothing (docs/operations.md, "Signals").
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "invalidator/keys/transaction_keys.h"

namespace mccache::invalidator::source {

struct Reload {
  config::DatacenterConfig config;
  config::SourceConfig source;  // this loop's source in the new file
  keys::TransactionKeysOptions key_options;
  bool pool_changed = false;  // servers, hash or gutter: applied
  // Fields that changed but take a restart (logged, not applied).
  std::vector<std::string> needs_restart;
};

// Reads `running.file` again for the source named `src.name`. Throws with the reason (a bad file,
// a source that is gone, a template the replica identity cannot serve, an unreachable primary).
Reload read_reload(const config::DatacenterConfig& running, const config::SourceConfig& src);

}  // namespace mccache::invalidator::source
