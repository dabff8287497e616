// bench/herd's load: N reader threads (one blocking connection each) read one hot key through
// mcproxy while a writer bumps a simulated database row and deletes the key every T ms. Misses are
// filled from the simulated database (a fixed sleep per query). Prints one JSON line of results.
//
//   herd_driver --port P --mode plain|lease|lease-stale [--readers 200] [--interval-ms 100]
//               [--seconds 4] [--db-ms 2] [--retry-ms 2] [--key K]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Steady = std::chrono::steady_clock;

struct Options {
  int port = 0;
  std::string mode = "plain";
  int readers = 200;
  double interval_ms = 100;
  double seconds = 4;
  double db_ms = 2;
  double retry_ms = 2;
  std::string key = "herd:hot";
};

// A blocking text-protocol connection with a read buffer.
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("connect failed");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Conn() { ::close(fd_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  void send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      off += static_cast<size_t>(n);
    }
  }
  std::string line() {
    for (;;) {
      size_t at = buf_.find("\r\n", pos_);
      if (at != std::string::npos) {
        std::string l = buf_.substr(pos_, at - pos_);
        pos_ = at + 2;
        return l;
      }
      fill();
    }
  }
  std::string exact(size_t n) {
    while (buf_.size() - pos_ < n + 2) fill();
    std::string d = buf_.substr(pos_, n);
    pos_ += n + 2;
    return d;
  }

 private:
  void fill() {
    if (pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) throw std::runtime_error("connection closed");
    buf_.append(chunk, static_cast<size_t>(n));
  }
  int fd_ = -1;
  std::string buf_;
  size_t pos_ = 0;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// "get": the value, or nullopt-like empty flag.
bool plain_get(Conn& c, const std::string& key, std::string& value) {
  c.send("get " + key + "\r\n");
  std::string head = c.line();
  if (head == "END") return false;
  auto t = split(head);
  value = c.exact(std::stoul(t.at(3)));
  if (c.line() != "END") throw std::runtime_error("no END");
  return true;
}

// "lease-get": token 0 on a hit, 1 on a hot miss, else a lease; value is the (stale) value.
uint64_t lease_get(Conn& c, const std::string& key, std::string& value) {
  c.send("lease-get " + key + "\r\n");
  std::string head = c.line();
  auto t = split(head);
  uint64_t token = 0;
  if (t.size() >= 4 && t[0] == "VALUE") {
    value = c.exact(std::stoul(t[3]));
  } else if (t.size() >= 5 && t[0] == "LVALUE") {
    token = std::stoull(t[2]);
    value = c.exact(std::stoul(t[4]));
  } else {
    throw std::runtime_error("lease-get: " + head);
  }
  if (c.line() != "END") throw std::runtime_error("no END");
  return token;
}

// One row; the writer bumps its version. A query reads the version when it starts (what a
// SELECT sees) and then takes the fixed latency.
class Database {
 public:
  explicit Database(double ms)
      : latency_(std::chrono::microseconds(static_cast<int64_t>(ms * 1000))) {}
  std::string query() {
    uint64_t v;
    {
      std::lock_guard lock(mu_);
      ++fills_;
      v = version_;
    }
    std::this_thread::sleep_for(latency_);
    char head[16];
    std::snprintf(head, sizeof head, "v%09llu:", static_cast<unsigned long long>(v));
    return std::string(head) + std::string(90, 'x');
  }
  uint64_t bump() {
    std::lock_guard lock(mu_);
    ++version_;
    return fills_;
  }
  uint64_t version() {
    std::lock_guard lock(mu_);
    return version_;
  }
  uint64_t fills() {
    std::lock_guard lock(mu_);
    return fills_;
  }

 private:
  std::chrono::microseconds latency_;
  std::mutex mu_;
  uint64_t version_ = 0;
  uint64_t fills_ = 0;
};

double pct(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = std::min(sorted.size() - 1,
                      static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[i];
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    std::string v = argv[i + 1];
    if (f == "--port")
      o.port = std::stoi(v);
    else if (f == "--mode")
      o.mode = v;
    else if (f == "--readers")
      o.readers = std::stoi(v);
    else if (f == "--interval-ms")
      o.interval_ms = std::stod(v);
    else if (f == "--seconds")
      o.seconds = std::stod(v);
    else if (f == "--db-ms")
      o.db_ms = std::stod(v);
    else if (f == "--retry-ms")
      o.retry_ms = std::stod(v);
    else if (f == "--key")
      o.key = v;
    else
      throw std::runtime_error("unknown flag " + f);
  }
  if (o.port == 0) throw std::runtime_error("--port is required");
  if (o.mode != "plain" && o.mode != "lease" && o.mode != "lease-stale")
    throw std::runtime_error("--mode must be plain, lease or lease-stale");
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  Options o = parse(argc, argv);
  Database db(o.db_ms);
  std::atomic<bool> stop{false};
  std::barrier gate(o.readers + 1);
  std::vector<std::vector<double>> lat(static_cast<size_t>(o.readers));
  std::vector<uint64_t> stale_served(static_cast<size_t>(o.readers), 0);
  std::vector<uint64_t> errors(static_cast<size_t>(o.readers), 0);
  auto retry = std::chrono::microseconds(static_cast<int64_t>(o.retry_ms * 1000));
  const std::string& key = o.key;

  std::vector<std::thread> readers;
  for (int i = 0; i < o.readers; ++i) {
    readers.emplace_back([&, i] {
      Conn c(o.port);
      auto& mine = lat[static_cast<size_t>(i)];
      mine.reserve(1 << 16);
      gate.arrive_and_wait();
      std::string value;
      while (!stop.load(std::memory_order_relaxed)) {
        auto t0 = Steady::now();
        try {
          if (o.mode == "plain") {
            if (!plain_get(c, key, value)) {
              std::string v = db.query();
              c.send("set " + key + " 0 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\n");
              c.line();
            }
          } else {
            auto give_up = t0 + std::chrono::seconds(1);
            for (;;) {
              uint64_t token = lease_get(c, key, value);
              if (token == 0) break;
              if (token > 1) {
                std::string v = db.query();
                c.send("lease-set " + key + " " + std::to_string(token) + " 0 0 " +
                       std::to_string(v.size()) + "\r\n" + v + "\r\n");
                c.line();
                break;
              }
              if (o.mode == "lease-stale" && !value.empty()) {
                ++stale_served[static_cast<size_t>(i)];
                break;
              }
              if (Steady::now() > give_up) {  // waited long enough: read the database
                db.query();
                break;
              }
              std::this_thread::sleep_for(retry);
            }
          }
        } catch (const std::exception&) {
          ++errors[static_cast<size_t>(i)];
          return;
        }
        mine.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
      }
    });
  }

  Conn writer(o.port);
  Conn checker(o.port);
  gate.arrive_and_wait();
  auto interval = std::chrono::microseconds(static_cast<int64_t>(o.interval_ms * 1000));
  auto end = Steady::now() + std::chrono::microseconds(static_cast<int64_t>(o.seconds * 1e6));
  auto next = Steady::now() + interval;
  uint64_t invalidations = 0, stale_sets = 0, first_window_fills = 0, last_fills = 0;
  uint64_t peak_window = 0;
  std::string value;
  while (Steady::now() < end) {
    std::this_thread::sleep_until(next);
    next += interval;
    // Just before the next invalidation: does the cache hold an older row than the database?
    if (plain_get(checker, key, value) && std::stoull(value.substr(1, 9)) < db.version())
      ++stale_sets;
    uint64_t fills = db.bump();
    if (invalidations == 0) {
      first_window_fills = fills;
    } else {
      peak_window = std::max(peak_window, fills - last_fills);
    }
    last_fills = fills;
    writer.send("delete " + key + "\r\n");
    writer.line();
    ++invalidations;
  }
  stop = true;
  for (auto& t : readers) t.join();

  std::vector<double> all;
  uint64_t stale = 0, errs = 0;
  for (size_t i = 0; i < lat.size(); ++i) {
    all.insert(all.end(), lat[i].begin(), lat[i].end());
    stale += stale_served[i];
    errs += errors[i];
  }
  std::sort(all.begin(), all.end());
  uint64_t fills = db.fills();
  // The cold key's first fill is not part of any invalidation's herd.
  double per_inval = static_cast<double>(fills - first_window_fills) /
                     static_cast<double>(std::max<uint64_t>(1, invalidations));
  std::printf(
      "{\"mode\": \"%s\", \"reads\": %zu, \"fills\": %llu, \"invalidations\": %llu, "
      "\"fills_per_invalidation\": %.3f, \"peak_fills_in_window\": %llu, \"p50_ms\": %.3f, "
      "\"p99_ms\": %.3f, \"stale_served\": %llu, \"stale_sets\": %llu, \"errors\": %llu}\n",
      o.mode.c_str(), all.size(), static_cast<unsigned long long>(fills),
      static_cast<unsigned long long>(invalidations), per_inval,
      static_cast<unsigned long long>(peak_window), pct(all, 50), pct(all, 99),
      static_cast<unsigned long long>(stale), static_cast<unsigned long long>(stale_sets),
      static_cast<unsigned long long>(errs));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "herd_driver: %s\n", e.what());
  return 1;
}
