// Real servers for integration tests: started on free loopback ports, stopped by pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace mccache::testing {

// A loopback TCP port that was free a moment ago.
uint16_t free_tcp_port();
// A blocking socket connected to 127.0.0.1:port, or -1.
int connect_loopback(uint16_t port);
// True once something accepts connections on 127.0.0.1:port.
bool wait_for_port(uint16_t port, std::chrono::milliseconds timeout);
// Starts argv[0] with the rest as arguments; stdout/stderr go to `log_path` (or /dev/null).
pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path = "");
// Sends `signal` and reaps the process (waits at most a few seconds, then SIGKILLs).
void stop_process(pid_t pid, int signal);
// SIGSTOP, then wait until every thread of `pid` is stopped: the signal is asynchronous, and a
// thread still running could answer one more request.
void stop_and_wait(pid_t pid);

// A memcached on its own port; the destructor stops it.
class MemcachedServer {
 public:
  explicit MemcachedServer(std::vector<std::string> extra_args = {});
  ~MemcachedServer();
  MemcachedServer(const MemcachedServer&) = delete;
  MemcachedServer& operator=(const MemcachedServer&) = delete;

  uint16_t port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  void kill9();   // crash it (kill -9), as a fault
  void start();   // (re)start on the same port
  bool running() const { return pid_ > 0; }

 private:
  std::vector<std::string> extra_args_;
  uint16_t port_;
  pid_t pid_ = -1;
};

// A blocking loopback client for driving text protocols in tests.
class LineClient {
 public:
  explicit LineClient(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~LineClient();
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;

  void send(const std::string& bytes);
  // Reads until the received bytes end with `terminator` (or timeout/EOF); returns all of them.
  std::string read_until(const std::string& terminator);
  // Sends, then reads until `terminator`.
  std::string call(const std::string& request, const std::string& terminator = "\r\n");
  // True if the peer has closed the connection (reads EOF within the timeout).
  bool closed_by_peer();

 private:
  int fd_ = -1;
  std::chrono::milliseconds timeout_;
  std::string buffer_;
};

}  // namespace mccache::testing
