// Builds the continuum with libmemcached itself rather than re-deriving its point layout.
#include "pool/ketama.h"

#include <stdexcept>
#include <string>

namespace mccache::pool {

KetamaRing::KetamaRing(const std::vector<config::HostPort>& servers, HashMode mode)
    : memc_(memcached_create(nullptr)), size_(servers.size()) {
  if (!memc_) throw std::runtime_error("memcached_create failed");
  if (servers.empty()) throw std::invalid_argument("a ketama ring needs at least one server");
  auto behavior =
      mode == HashMode::kKetama ? MEMCACHED_BEHAVIOR_KETAMA : MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED;
  if (memcached_behavior_set(memc_.get(), behavior, 1) != MEMCACHED_SUCCESS)
    throw std::runtime_error("libmemcached refused the ketama behaviour");
  for (const auto& s : servers) {
    // Adding a server never connects; it only records host:port and rebuilds the continuum.
    if (memcached_server_add(memc_.get(), s.host.c_str(), s.port) != MEMCACHED_SUCCESS)
      throw std::runtime_error("libmemcached refused server " + s.str());
  }
}

size_t KetamaRing::server_for(std::string_view key) const {
  if (size_ == 1) return 0;
  return memcached_generate_hash(memc_.get(), key.data(), key.size());
}

}  // namespace mccache::pool
