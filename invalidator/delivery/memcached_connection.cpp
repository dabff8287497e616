// Blocking-with-deadline socket I/O to memcached (poll + non-blocking fd).
#include "invalidator/delivery/memcached_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "invalidator/delivery/server_features.h"

namespace mccache::invalidator::delivery {
namespace {

// A memcached server in the region answers a connect in well under a millisecond; a host that
// is gone answers nothing. Giving up sooner than request_timeout_ms keeps each retry of a dead
// host short, and the delivery loop it blocks free for the healthy servers.
constexpr std::chrono::milliseconds kConnectTimeout{250};

int ms_left(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

void MemcachedConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status MemcachedConnection::connect(std::chrono::steady_clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  auto port = std::to_string(server_.port);
  if (int rc = getaddrinfo(server_.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return fail(std::string("resolve: ") + gai_strerror(rc));
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return fail(std::string("socket: ") + std::strerror(errno));
  }
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  auto give_up = [fd](std::string why) {
    ::close(fd);
    return fail(std::move(why));
  };
  if (rc != 0 && errno != EINPROGRESS)
    return give_up(std::string("connect: ") + std::strerror(errno));
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) return give_up("connect: timed out");
    int so_error = 0;
    socklen_t len = sizeof so_error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) return give_up(std::string("connect: ") + std::strerror(so_error));
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fd_ = fd;
  return Ok{};
}

Status MemcachedConnection::talk(std::string_view request, std::chrono::milliseconds limit,
                                 const std::function<bool(std::string_view)>& feed) {
  auto broken = [this](std::string why) {
    close();
    return fail(std::move(why));
  };
  auto deadline = std::chrono::steady_clock::now() + limit;
  size_t sent = 0;
  char buf[16384];
  // Write and read together: a long pipeline must not deadlock on full socket buffers.
  for (bool done = false; !done;) {
    pollfd p{fd_, static_cast<short>(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0};
    int rc = ::poll(&p, 1, ms_left(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return broken("no progress for " + std::to_string(limit.count()) + " ms");
    if ((p.revents & POLLOUT) && sent < request.size()) {
      ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return broken(std::string("send: ") + std::strerror(errno));
      if (n > 0) {
        sent += static_cast<size_t>(n);
        deadline = std::chrono::steady_clock::now() + limit;
      }
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return broken("connection closed by server");
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return broken(std::string("recv: ") + std::strerror(errno));
      if (n > 0) {
        deadline = std::chrono::steady_clock::now() + limit;
        done = feed(std::string_view(buf, static_cast<size_t>(n)));
      }
    }
  }
  return Ok{};
}

Status MemcachedConnection::exchange(const std::string& request, MetaReplyScanner& replies,
                                     std::optional<std::chrono::milliseconds> timeout) {
  auto limit = timeout.value_or(timeout_);
  if (fd_ < 0) {
    auto start = std::chrono::steady_clock::now();
    if (auto c = connect(std::min(start + limit, start + kConnectTimeout)); !c) return c;
    // Once per connection: does this server do what every request relies on?
    std::string lines;
    auto probed = talk(kFeatureProbe, limit, [&](std::string_view bytes) {
      lines.append(bytes.substr(0, 4096 - std::min<size_t>(lines.size(), 4096)));
      return std::count(lines.begin(), lines.end(), '\n') >= kFeatureProbeReplies ||
             lines.size() >= 4096;
    });
    if (!probed) return probed;
    auto first = lines.find('\n');
    auto second = lines.find('\n', first + 1);
    auto strip = [](std::string_view l) {
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      return l;
    };
    std::string_view all = lines;
    if (auto ok = check_features(strip(all.substr(0, first)),
                                 strip(all.substr(first + 1, second - first - 1)));
        !ok) {
      close();
      return ok;
    }
  }
  if (auto done = talk(request, limit, [&](std::string_view bytes) { return replies.feed(bytes); });
      !done)
    return done;
  // Replies we cannot match to our requests: the stream is out of sync, start over.
  if (replies.unexpected() > 0) {
    close();
    return fail("unexpected reply from server");
  }
  return Ok{};
}

}  // namespace mccache::invalidator::delivery
