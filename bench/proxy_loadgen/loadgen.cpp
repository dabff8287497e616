// Closed-loop memcached text-protocol load generator for bench/proxy: N connections, each sends
// a batch of `depth` pipelined requests (9:1 get:set by default, fixed-size values), waits for all
// replies, repeats. One epoll thread; prints one JSON line with ops/s and latency percentiles.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 11211;
  int connections = 32;
  int depth = 1;
  double seconds = 5;
  int value_bytes = 100;
  int keys = 10000;
  int get_ratio = 9;  // gets per set
};

struct Conn {
  int fd = -1;
  std::string out;
  std::string in;
  int waiting = 0;  // replies still expected in this batch
  Clock::time_point batch_sent;
  std::minstd_rand rng;
};

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    std::exit(2);
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) {
      std::perror("write");
      std::exit(2);
    }
    off += static_cast<size_t>(n);
  }
}

struct Tally {
  uint64_t hits = 0, misses = 0, stored = 0, errors = 0;
};

// Counts complete replies at the front of `in` and erases them.
int take_replies(std::string& in, Tally* tally = nullptr) {
  bool in_value = false;
  int done = 0;
  size_t pos = 0;
  for (;;) {
    size_t nl = in.find('\n', pos);
    if (nl == std::string::npos) break;
    if (in.compare(pos, 6, "VALUE ") == 0) {
      // VALUE <key> <flags> <bytes>\r\n<data>\r\n ... END\r\n
      size_t last_space = in.rfind(' ', nl);
      size_t bytes = std::strtoul(in.c_str() + last_space + 1, nullptr, 10);
      size_t end = nl + 1 + bytes + 2;
      if (in.size() < end) break;
      pos = end;  // the END line follows and completes the reply
      in_value = true;
      continue;
    }
    if (tally) {
      if (in.compare(pos, 3, "END") == 0) {
        ++(in_value ? tally->hits : tally->misses);
      } else if (in.compare(pos, 6, "STORED") == 0) {
        ++tally->stored;
      } else {
        ++tally->errors;
      }
    }
    in_value = false;
    pos = nl + 1;
    ++done;  // END, STORED, or an error line
  }
  in.erase(0, pos);
  return done;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    double v = std::atof(argv[i + 1]);
    if (k == "--port") o.port = static_cast<int>(v);
    else if (k == "--connections") o.connections = static_cast<int>(v);
    else if (k == "--depth") o.depth = static_cast<int>(v);
    else if (k == "--seconds") o.seconds = v;
    else if (k == "--value-bytes") o.value_bytes = static_cast<int>(v);
    else if (k == "--keys") o.keys = static_cast<int>(v);
    else if (k == "--get-ratio") o.get_ratio = static_cast<int>(v);
    else {
      std::fprintf(stderr, "usage: %s --port P [--connections 32] [--depth 1] [--seconds 5] "
                   "[--value-bytes 100] [--keys 10000] [--get-ratio 9]\n", argv[0]);
      return 2;
    }
  }
  std::string value(static_cast<size_t>(o.value_bytes), 'v');
  std::vector<std::string> keys;
  for (int i = 0; i < o.keys; ++i) keys.push_back("bench:key:" + std::to_string(i));

  // Fill every key first so gets hit, as a warm cache would.
  {
    int fd = connect_to(o.port);
    std::string batch, in;
    for (int i = 0; i < o.keys; ++i) {
      batch += "set " + keys[i] + " 0 0 " + std::to_string(value.size()) + "\r\n" + value + "\r\n";
      if (i % 100 == 99 || i == o.keys - 1) {
        write_all(fd, batch);
        int want = (i % 100) + 1;
        int got = 0;
        char buf[65536];
        while (got < want) {
          ssize_t n = ::read(fd, buf, sizeof buf);
          if (n <= 0) return 2;
          in.append(buf, static_cast<size_t>(n));
          got += take_replies(in);
        }
        batch.clear();
      }
    }
    ::close(fd);
  }

  int ep = ::epoll_create1(0);
  std::vector<Conn> conns(static_cast<size_t>(o.connections));
  for (size_t i = 0; i < conns.size(); ++i) {
    conns[i].fd = connect_to(o.port);
    conns[i].rng.seed(static_cast<unsigned>(i * 7919 + 1));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
  }
  std::vector<uint32_t> latency_us;  // one per request
  latency_us.reserve(1 << 22);
  uint64_t ops = 0;
  Tally tally;
  auto send_batch = [&](Conn& c) {
    c.out.clear();
    for (int d = 0; d < o.depth; ++d) {
      const std::string& k = keys[c.rng() % keys.size()];
      if (static_cast<int>(c.rng() % static_cast<unsigned>(o.get_ratio + 1)) < o.get_ratio) {
        c.out += "get " + k + "\r\n";
      } else {
        c.out += "set " + k + " 0 0 " + std::to_string(value.size()) + "\r\n" + value + "\r\n";
      }
    }
    c.waiting = o.depth;
    c.batch_sent = Clock::now();
    write_all(c.fd, c.out);
  };
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(o.seconds));
  for (auto& c : conns) send_batch(c);
  std::vector<epoll_event> events(conns.size());
  char buf[256 * 1024];
  bool running = true;
  while (running) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    auto now = Clock::now();
    if (now >= deadline) running = false;
    for (int e = 0; e < n; ++e) {
      Conn& c = conns[events[e].data.u64];
      ssize_t r = ::read(c.fd, buf, sizeof buf);
      if (r <= 0) {
        std::fprintf(stderr, "connection closed by server\n");
        return 2;
      }
      c.in.append(buf, static_cast<size_t>(r));
      int done = take_replies(c.in, &tally);
      if (done == 0) continue;
      auto us = static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - c.batch_sent).count());
      for (int d = 0; d < done; ++d) latency_us.push_back(us);
      ops += static_cast<uint64_t>(done);
      c.waiting -= done;
      if (c.waiting == 0 && running) send_batch(c);
    }
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latency_us.begin(), latency_us.end());
  auto pct = [&](double p) {
    if (latency_us.empty()) return 0u;
    return latency_us[static_cast<size_t>(p * static_cast<double>(latency_us.size() - 1))];
  };
  std::printf("{\"ops\": %llu, \"seconds\": %.3f, \"ops_per_s\": %.0f, \"p50_us\": %u, "
              "\"p99_us\": %u, \"hits\": %llu, \"misses\": %llu, \"stored\": %llu, "
              "\"errors\": %llu}\n",
              static_cast<unsigned long long>(ops), elapsed, static_cast<double>(ops) / elapsed,
              pct(0.50), pct(0.99), static_cast<unsigned long long>(tally.hits),
              static_cast<unsigned long long>(tally.misses),
              static_cast<unsigned long long>(tally.stored),
              static_cast<unsigned long long>(tally.errors));
  return 0;
}
