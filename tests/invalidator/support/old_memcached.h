// A stand-in for a memcached that has `mn` but refuses `md <key> I T` (CLIENT_ERROR), as a server
// without the invalidate flag does; Debian's 1.6.18 cannot be made to. Loopback, a free port, one
// connection at a time; the destructor stops it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

namespace mccache::testing {

class OldMemcached {
 public:
  OldMemcached() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener_, 16);
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~OldMemcached() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  int deletes_refused() const { return refused_; }

 private:
  static std::string answer(const std::string& line) {
    if (line.rfind("version", 0) == 0) return "VERSION 1.6.0-without-invalidate\r\n";
    if (line.rfind("mn", 0) == 0) return "MN\r\n";
    if (line.rfind("md ", 0) == 0) return "CLIENT_ERROR invalid flag\r\n";
    return "ERROR\r\n";
  }
  // Waits up to 50 ms for `fd` to be readable; false when stopping or nothing came.
  bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return !stop_ && ::poll(&p, 1, 50) > 0;
  }
  void serve() {
    while (!stop_) {
      if (!readable(listener_)) continue;
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      std::string in;
      char buf[4096];
      while (!stop_) {
        if (!readable(fd)) continue;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        std::string out;
        for (auto nl = in.find('\n'); nl != std::string::npos; nl = in.find('\n')) {
          auto reply = answer(in.substr(0, nl));
          if (reply.rfind("CLIENT_ERROR", 0) == 0) ++refused_;
          out += reply;
          in.erase(0, nl + 1);
        }
        if (!out.empty() && ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) break;
      }
      ::close(fd);
    }
  }

  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> refused_{0};
  std::thread thread_;
};

}  // namespace mccache::testing
