// Drives lease/'s mapping the way mcproxy will: client request -> meta command bytes ->
// FakeMemcached -> parsed meta reply -> client reply bytes. No sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fake_memcached.h"
#include "lease/backend_epoch.h"
#include "lease/lease_get.h"
#include "pool/reply_parser.h"
#include "lease/settings.h"

namespace mccache::lease::testing {

// A client's view of a lease-get reply, parsed back from the bytes the proxy wrote.
struct ClientLeaseGet {
  LeaseGetKind kind = LeaseGetKind::BackendError;
  uint64_t token = 0;
  uint32_t client_flags = 0;
  std::string value;
};
ClientLeaseGet parse_client_lease_get(std::string_view reply);

class LeaseProxyHarness {
 public:
  LeaseProxyHarness(FakeMemcached& backend, LeaseSettings settings,
                    std::string server = "127.0.0.1:11211");

  // What the proxy does on (re)connect: read `stats` and derive the backend epoch.
  void connect();

  std::string lease_get(std::string_view key);
  std::string lease_set(std::string_view key, uint64_t token, uint32_t flags, int64_t exptime,
                        std::string_view value);
  std::string get(std::string_view key);   // "VALUE k f n\r\nv\r\nEND\r\n" or "END\r\n"
  std::string gets(std::string_view key);  // with the CAS
  // delete through the proxy; mode defaults to the settings' delete_mode.
  std::string del(std::string_view key, std::optional<DeleteMode> mode = std::nullopt);
  std::string set(std::string_view key, std::string_view value, uint32_t flags = 0);

  BackendEpoch epoch() const { return epoch_; }
  size_t backend_commands() const { return backend_.commands_seen(); }

 private:
  // Sends `command`, parses exactly one reply into `reply` (views into buffer_).
  pool::Reply round_trip(const std::string& command);
  std::string plain_get(std::string_view key, bool with_cas);

  FakeMemcached& backend_;
  LeaseSettings settings_;
  std::string server_;
  BackendEpoch epoch_;
  std::string buffer_;
};

}  // namespace mccache::lease::testing
