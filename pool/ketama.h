// Key → server placement that is, by construction, libmemcached's own consistent hashing, so a
// pylibmc/libmemcached app talking straight to memcached and both daemons agree on every key.
#pragma once

#include <libmemcached/memcached.h>

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "config/choices.h"
#include "config/json_reader.h"

namespace mccache::pool {

using HashMode = config::HashMode;  // pool.hash

// Immutable after construction; server_for() is read-only and safe from any thread.
class KetamaRing {
 public:
  explicit KetamaRing(const std::vector<config::HostPort>& servers,
                      HashMode mode = HashMode::kKetama);
  KetamaRing(KetamaRing&&) noexcept = default;
  KetamaRing& operator=(KetamaRing&&) noexcept = default;

  // Index into the servers vector given at construction.
  size_t server_for(std::string_view key) const;
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(memcached_st* m) const { memcached_free(m); }
  };
  std::unique_ptr<memcached_st, Free> memc_;
  size_t size_ = 0;
};

}  // namespace mccache::pool
