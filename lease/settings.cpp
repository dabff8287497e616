// Lease settings: config names.
#include "lease/settings.h"

namespace mccache::lease {

std::optional<DeleteMode> delete_mode_from_name(std::string_view name) {
  if (name == "invalidate") return DeleteMode::Invalidate;
  if (name == "delete") return DeleteMode::Remove;
  return std::nullopt;
}

}  // namespace mccache::lease
