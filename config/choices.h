// Every config setting that picks one of a few names, as an enum with its names. config/ turns the
// name into the enum once; the daemons compare enums. Header-only and free of JSON, so libraries
// that do not link config (the invalidator's keys/) can take these types as their own.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "lease/settings.h"

namespace mccache::config {

// Each enum's names are listed in the order of its values: the name of value v is names[v].

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };
inline constexpr std::string_view kLogLevelNames[] = {"trace", "debug", "info", "warn", "error"};

// Both are libmemcached's own consistent hashing, so apps using it agree with mcproxy on every key.
enum class HashMode {
  kKetama,          // MEMCACHED_BEHAVIOR_KETAMA (pylibmc {"ketama": True})
  kKetamaWeighted,  // MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED (libketama's MD5 points)
};
inline constexpr std::string_view kHashModeNames[] = {"ketama", "ketama_weighted"};

// lease/ acts on it (the md command it maps to), so it owns the type.
using DeleteMode = lease::DeleteMode;
inline constexpr std::string_view kDeleteModeNames[] = {"invalidate", "delete"};
static_assert(static_cast<int>(DeleteMode::Invalidate) == 0 &&
              static_cast<int>(DeleteMode::Remove) == 1);

enum class TlsVersion { kTls12, kTls13 };
inline constexpr std::string_view kTlsVersionNames[] = {"1.2", "1.3"};

enum class SlotLostPolicy { kHalt, kFlushRegion };
inline constexpr std::string_view kSlotLostPolicyNames[] = {"halt", "flush_region"};

enum class ServerDownPolicy { kHold, kSkip };
inline constexpr std::string_view kServerDownPolicyNames[] = {"hold", "skip"};

enum class TruncatePolicy { kFlushRegion, kIgnore, kHalt };
inline constexpr std::string_view kTruncatePolicyNames[] = {"flush_region", "ignore", "halt"};

constexpr std::span<const std::string_view> names_of(LogLevel) { return kLogLevelNames; }
constexpr std::span<const std::string_view> names_of(HashMode) { return kHashModeNames; }
constexpr std::span<const std::string_view> names_of(DeleteMode) { return kDeleteModeNames; }
constexpr std::span<const std::string_view> names_of(TlsVersion) { return kTlsVersionNames; }
constexpr std::span<const std::string_view> names_of(SlotLostPolicy) {
  return kSlotLostPolicyNames;
}
constexpr std::span<const std::string_view> names_of(ServerDownPolicy) {
  return kServerDownPolicyNames;
}
constexpr std::span<const std::string_view> names_of(TruncatePolicy) {
  return kTruncatePolicyNames;
}

// The name the config file uses for `value`, e.g. for log lines.
template <class E>
constexpr std::string_view name_of(E value) {
  return names_of(E{})[static_cast<size_t>(value)];
}

template <class E>
constexpr std::optional<E> from_name(std::string_view name) {
  auto names = names_of(E{});
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<E>(i);
  return std::nullopt;
}

}  // namespace mccache::config
