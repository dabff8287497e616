// TLS on the client listener with OpenSSL, driven the way the rest of the client connection is:
// non-blocking calls on the socket, and "wait for readable/writable" when OpenSSL asks for it.
// The handshake happens inside the first read (the session is in accept state).
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>

#include "config/proxy_config.h"

namespace mccache::net {

// The server's certificate, key and (optionally) the CAs its clients must be signed by; shared by
// every connection of every thread (SSL_CTX is safe to share once built).
class TlsContext {
 public:
  // nullptr and `error` (naming the config field) when a file does not load.
  static std::shared_ptr<TlsContext> create(const config::TlsConfig& tls, std::string& error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// What an I/O call needs before it can go on.
enum class TlsWait { kNone, kReadable, kWritable, kClosed, kFailed };

// One client's TLS session on a non-blocking socket.
class TlsSession {
 public:
  TlsSession(const TlsContext& ctx, int fd);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Plaintext bytes read into / written from `buf`: > 0, or 0 with `wait` saying why. A write
  // that waited must be retried with the same bytes (more may follow them).
  size_t read(char* buf, size_t n, TlsWait& wait);
  size_t write(const char* buf, size_t n, TlsWait& wait);
  // Decrypted bytes already inside OpenSSL: no socket readiness will announce them.
  bool has_buffered() const;
  // Best effort close_notify (non-blocking: never waits for the peer's).
  void shutdown();
  // Why the session failed, for the log (OpenSSL's error queue).
  std::string last_error() const { return last_error_; }

 private:
  size_t finish(int ret, TlsWait& wait);
  SSL* ssl_;
  std::string last_error_;
};

}  // namespace mccache::net
