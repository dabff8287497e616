// OpenSSL glue for the client listener.
#include "mcproxy/net/tls.h"

#include <openssl/err.h>

#include <algorithm>

namespace mccache::net {
namespace {

std::string openssl_errors() {
  std::string out;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

}  // namespace

std::shared_ptr<TlsContext> TlsContext::create(const config::TlsConfig& tls, std::string& error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    error = "mcproxy.tls: " + openssl_errors();
    return nullptr;
  }
  std::shared_ptr<TlsContext> out(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(
      ctx, tls.min_version == config::TlsVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  // Partial writes and a moving retry buffer match how replies are written; no renegotiation.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    error = "mcproxy.tls.cert_file: " + tls.cert_file + ": " + openssl_errors();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    error = "mcproxy.tls.key_file: " + tls.key_file + ": " + openssl_errors() +
            " (is it the key of cert_file?)";
    return nullptr;
  }
  if (!tls.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr) != 1) {
      error = "mcproxy.tls.ca_file: " + tls.ca_file + ": " + openssl_errors();
      return nullptr;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

TlsSession::TlsSession(const TlsContext& ctx, int fd) : ssl_(SSL_new(ctx.get())) {
  SSL_set_fd(ssl_, fd);
  SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

size_t TlsSession::finish(int ret, TlsWait& wait) {
  if (ret > 0) {
    wait = TlsWait::kNone;
    return static_cast<size_t>(ret);
  }
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      wait = TlsWait::kReadable;
      break;
    case SSL_ERROR_WANT_WRITE:
      wait = TlsWait::kWritable;
      break;
    case SSL_ERROR_ZERO_RETURN:
      wait = TlsWait::kClosed;
      break;
    default:
      wait = TlsWait::kFailed;
      last_error_ = openssl_errors();
      break;
  }
  ERR_clear_error();
  return 0;
}

size_t TlsSession::read(char* buf, size_t n, TlsWait& wait) {
  ERR_clear_error();
  return finish(SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(n, 1 << 30))), wait);
}

size_t TlsSession::write(const char* buf, size_t n, TlsWait& wait) {
  ERR_clear_error();
  return finish(SSL_write(ssl_, buf, static_cast<int>(std::min<size_t>(n, 1 << 30))), wait);
}

bool TlsSession::has_buffered() const { return SSL_pending(ssl_) > 0; }

void TlsSession::shutdown() {
  if (SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace mccache::net
