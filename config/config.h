// One JSON file per datacenter: the pool both daemons share, plus a section per daemon.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/choices.h"
#include "config/field_table.h"
#include "config/invalidator_config.h"
#include "config/json_reader.h"
#include "config/pool_config.h"
#include "config/proxy_config.h"

namespace mccache::config {

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
};

struct DatacenterConfig {
  std::string file;        // where it was loaded from, for messages
  std::string datacenter;  // e.g. "dc1"; names the default slot
  LogConfig log;
  PoolConfig pool;
  std::optional<ProxyConfig> mcproxy;
  std::optional<InvalidatorConfig> invalidator;
};

// Which section the caller will run; that one must be present.
enum class Role { kAny, kProxy, kInvalidator };

// Throws ConfigError naming the file, the JSON path (line:column for syntax errors) and the fix.
DatacenterConfig parse_config(std::string_view json_text, const std::string& file_name,
                              Role role = Role::kAny);
DatacenterConfig load_config(const std::string& path, Role role = Role::kAny);

// The field tables of docs/config.md, one per "## <heading>" there, from the parser's own tables.
struct SectionDocs {
  std::string heading;  // e.g. "`pool`"
  std::vector<FieldDoc> fields;
};
std::vector<SectionDocs> documented_fields();

}  // namespace mccache::config
