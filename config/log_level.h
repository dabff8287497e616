// log.level as spdlog's level. Header-only: config/ itself does not use spdlog, its daemons do.
#pragma once

#include <spdlog/common.h>

#include "config/choices.h"

namespace mccache::config {

inline spdlog::level::level_enum spdlog_level(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace mccache::config
