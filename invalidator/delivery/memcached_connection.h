// A blocking connection to one memcached server with a deadline on every exchange. The invalidator
// talks to each server from one thread, one pipeline at a time, so blocking I/O is the simple fit.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "config/json_reader.h"
#include "invalidator/delivery/meta_reply.h"
#include "invalidator/error.h"

namespace mccache::invalidator::delivery {

class MemcachedConnection {
 public:
  MemcachedConnection(config::HostPort server, std::chrono::milliseconds timeout)
      : server_(std::move(server)), timeout_(timeout) {}
  ~MemcachedConnection() { close(); }
  MemcachedConnection(const MemcachedConnection&) = delete;
  MemcachedConnection& operator=(const MemcachedConnection&) = delete;
  MemcachedConnection(MemcachedConnection&& o) noexcept
      : server_(std::move(o.server_)), timeout_(o.timeout_), fd_(o.fd_) {
    o.fd_ = -1;
  }

  // Sends `request` (a pipeline ending in `mn`) and scans replies until MN. `timeout` (the
  // constructor's by default) bounds each stretch without progress, not the whole exchange: a
  // long pipeline that keeps moving is never cut off, a server that stops answering is. On any
  // failure (connect, a server without the meta commands we send, I/O, timeout, garbage) closes
  // the connection and says why; the next call reconnects. Deadlines are real time: they bound
  // poll().
  Status exchange(const std::string& request, MetaReplyScanner& replies,
                  std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  const config::HostPort& server() const { return server_; }
  void close();

 private:
  Status connect(std::chrono::steady_clock::time_point deadline);
  // Writes `request` and hands what arrives to `feed` until it returns true.
  Status talk(std::string_view request, std::chrono::milliseconds limit,
              const std::function<bool(std::string_view)>& feed);

  config::HostPort server_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
};

}  // namespace mccache::invalidator::delivery
