// Where a key lives in a region: its ketama server in the pool and, with a gutter pool configured,
// the gutter server that stands in for that server while it is down (mcrouter's gutter). mcproxy
// sends a down server's keys to gutter_for(key); the invalidator deletes each key on both, since
// the gutter may hold a copy. Keys of a down server are never rehashed over the rest of the pool.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "config/pool_config.h"
#include "pool/ketama.h"

namespace mccache::pool {

// A server of the pool (gutter = false) or of the gutter pool, by index into that pool's list.
struct Target {
  size_t server = 0;
  bool gutter = false;
  friend bool operator==(const Target&, const Target&) = default;
};

// Immutable after construction and safe from any thread.
class Placement {
 public:
  explicit Placement(const config::PoolConfig& pool);
  Placement(const std::vector<config::HostPort>& servers,
            const std::vector<config::HostPort>& gutter_servers, HashMode mode);

  size_t server_for(std::string_view key) const { return pool_.server_for(key); }
  bool has_gutter() const { return gutter_.has_value(); }
  // The gutter server that holds `key` while its pool server is down; has_gutter() must be true.
  size_t gutter_for(std::string_view key) const { return gutter_->server_for(key); }
  size_t servers() const { return pool_.size(); }
  size_t gutter_servers() const { return gutter_ ? gutter_->size() : 0; }

  // Where a request for `key` goes now: its pool server, unless `down(server)` and there is a
  // gutter, then the gutter's server for it.
  template <typename Down>
  Target route(std::string_view key, Down&& down) const {
    size_t owner = server_for(key);
    if (!gutter_ || !down(owner)) return {owner, false};
    return {gutter_for(key), true};
  }

 private:
  KetamaRing pool_;
  std::optional<KetamaRing> gutter_;
};

}  // namespace mccache::pool
