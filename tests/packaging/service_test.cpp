// The daemons as systemd and Prometheus see them, against real memcached and PostgreSQL 15:
// sd_notify through a real NOTIFY_SOCKET (READY=1 only once a daemon serves, RELOADING=1 then
// READY=1 on SIGHUP, STOPPING=1 on SIGTERM), and every metric that deploy/prometheus/alerts.yml
// and deploy/grafana/mccache.json name is exported by the running daemons.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <string>

#include "tests/invalidator/support/pg_cluster.h"
#include "tests/support/servers.h"
#include "tests/support/waiting.h"

namespace mccache::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The service manager's end of sd_notify: a unix datagram socket the daemon is pointed at.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    path_.copy(a.sun_path, sizeof a.sun_path - 1);
    ::unlink(path_.c_str());
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("cannot bind " + path_);
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }
  // The next notification, or nothing within `timeout`.
  std::optional<std::string> next(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// GET /metrics; "" when nothing answers.
std::string scrape(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[8192];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pg_ = new PgCluster(MCCACHE_SOURCE_DIR, 1);
    mc_[0] = new MemcachedServer();
    mc_[1] = new MemcachedServer();
    Sql sql(pg_->primary());
    sql.query(
        "CREATE TABLE users (id bigint PRIMARY KEY, username text NOT NULL);"
        "ALTER TABLE users REPLICA IDENTITY FULL;"
        "CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint NOT NULL);");
  }
  static void TearDownTestSuite() {
    delete mc_[0];
    delete mc_[1];
    delete pg_;
  }
  void TearDown() override {
    for (pid_t pid : pids_) stop_process(pid, SIGKILL);
  }

  static std::string pool() {
    return R"("pool": {"servers": [")" + mc_[0]->endpoint() + R"(", ")" + mc_[1]->endpoint() +
           R"("]})";
  }
  static std::string write(const std::string& name, const std::string& json) {
    std::string path = pg_->dir() + "/" + name;
    std::ofstream(path) << json;
    return path;
  }
  static std::string proxy_config(const std::string& name, uint16_t listen, uint16_t metrics) {
    return write(name, R"({"datacenter": "dc1", )" + pool() +
                           R"(, "mcproxy": {"listen": "127.0.0.1:)" + std::to_string(listen) +
                           R"(", "metrics_listen": "127.0.0.1:)" + std::to_string(metrics) +
                           R"(", "shutdown_timeout_ms": 1000}})");
  }
  static std::string invalidator_config(
      const std::string& name, const std::string& slot, uint16_t metrics,
      const std::string& tables = R"({"public.users": ["user:{id}"]})") {
    return write(name, R"({"datacenter": "dc1", )" + pool() +
                           R"(, "invalidator": {"metrics_listen": "127.0.0.1:)" +
                           std::to_string(metrics) + R"(", "source": {"dsn": ")" +
                           pg_->primary() + R"(", "slot": ")" + slot +
                           R"("}, "wait_for_replay": ")" + pg_->replica() +
                           R"(", "tables": )" + tables + R"(, "shutdown_timeout_ms": 1000}})");
  }

  // Starts bin/<daemon> with NOTIFY_SOCKET pointing at `notify`, as systemd would.
  pid_t start(const std::string& daemon, const std::string& config, const NotifySocket& notify) {
    log_ = pg_->dir() + "/" + daemon + "-" + std::to_string(pids_.size()) + ".log";
    ::setenv("NOTIFY_SOCKET", notify.path().c_str(), 1);
    pid_t pid = spawn({std::string(MCCACHE_BIN_DIR) + "/" + daemon, "--config", config}, log_);
    ::unsetenv("NOTIFY_SOCKET");
    pids_.push_back(pid);
    return pid;
  }
  // The exit status of `pid`, or -1 if it is still running after `timeout`.
  int wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
    int status = 0;
    if (!eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout)) return -1;
    std::erase(pids_, pid);  // reaped: nothing left to stop
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string log() const { return read_file(log_); }
  std::string socket_path(const std::string& name) const { return pg_->dir() + "/" + name; }

  static PgCluster* pg_;
  static MemcachedServer* mc_[2];
  std::vector<pid_t> pids_;
  std::string log_;
};

PgCluster* ServiceTest::pg_ = nullptr;
MemcachedServer* ServiceTest::mc_[2] = {nullptr, nullptr};

TEST_F(ServiceTest, Mcproxy_NotifiesReady_OnlyOnceItAnswers) {
  NotifySocket notify(socket_path("mcproxy-ready.sock"));
  uint16_t port = free_tcp_port(), metrics = free_tcp_port();
  start("mcproxy", proxy_config("ready.json", port, metrics), notify);
  ASSERT_EQ(notify.next(15s), "READY=1") << log();
  // No waiting and no retry: READY=1 promises that the listener and the metrics port serve now.
  LineClient client(port, 2s);
  EXPECT_THAT(client.call("version\r\n"), StartsWith("VERSION "));
  EXPECT_THAT(scrape(metrics), HasSubstr("# TYPE mcproxy_requests_total counter"));
}

TEST_F(ServiceTest, Mcproxy_NeverNotifiesReady_WhenItsPortIsTaken) {
  NotifySocket notify(socket_path("mcproxy-taken.sock"));
  uint16_t port = free_tcp_port();
  int taken = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(taken, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(taken, 1), 0);
  pid_t pid = start("mcproxy", proxy_config("taken.json", port, free_tcp_port()), notify);
  EXPECT_EQ(wait_exit(pid, 10s), 1) << log();
  EXPECT_EQ(notify.next(0ms), std::nullopt);
  ::close(taken);
}

TEST_F(ServiceTest, Mcproxy_NotifiesReloadingThenReady_OnSighup_AndStopping_OnSigterm) {
  NotifySocket notify(socket_path("mcproxy-reload.sock"));
  uint16_t port = free_tcp_port(), metrics = free_tcp_port();
  auto config = proxy_config("reload.json", port, metrics);
  pid_t pid = start("mcproxy", config, notify);
  ASSERT_EQ(notify.next(15s), "READY=1") << log();

  ::kill(pid, SIGHUP);
  auto reloading = notify.next(10s);
  ASSERT_TRUE(reloading) << log();
  EXPECT_THAT(*reloading, StartsWith("RELOADING=1\nMONOTONIC_USEC="));
  EXPECT_EQ(notify.next(10s), "READY=1") << log();

  // A refused file is a finished reload too: the old config keeps serving.
  std::ofstream(config) << "{ not json";
  ::kill(pid, SIGHUP);
  auto refused = notify.next(10s);
  ASSERT_TRUE(refused) << log();
  EXPECT_THAT(*refused, StartsWith("RELOADING=1"));
  EXPECT_EQ(notify.next(10s), "READY=1") << log();
  EXPECT_THAT(LineClient(port, 2s).call("version\r\n"), StartsWith("VERSION "));

  ::kill(pid, SIGTERM);
  EXPECT_EQ(notify.next(10s), "STOPPING=1") << log();
  EXPECT_EQ(wait_exit(pid, 10s), 0) << log();
}

TEST_F(ServiceTest, Invalidator_NotifiesReady_OnceItsSlotExistsAndItsMetricsServe) {
  NotifySocket notify(socket_path("invalidator-ready.sock"));
  uint16_t metrics = free_tcp_port();
  start("invalidator", invalidator_config("inval-ready.json", "svc_ready", metrics), notify);
  ASSERT_EQ(notify.next(20s), "READY=1") << log();
  Sql sql(pg_->primary());
  EXPECT_EQ(sql.query("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'svc_ready'"),
            "1");
  EXPECT_THAT(scrape(metrics), StartsWith("HTTP/1.1 200 OK"));
}

TEST_F(ServiceTest, Invalidator_NeverNotifiesReady_WhenATemplateDoesNotFitTheReplicaIdentity) {
  NotifySocket notify(socket_path("invalidator-identity.sock"));
  // posts keeps the default replica identity (its key): an old user_id is not in the WAL.
  pid_t pid = start("invalidator",
                    invalidator_config("inval-identity.json", "svc_identity", free_tcp_port(),
                                       R"({"public.posts": ["posts_by_user:{user_id}"]})"),
                    notify);
  EXPECT_EQ(wait_exit(pid, 20s), 1) << log();
  EXPECT_THAT(log(), HasSubstr("replica identity"));
  EXPECT_EQ(notify.next(0ms), std::nullopt);
}

TEST_F(ServiceTest, Invalidator_NotifiesReloadingThenReady_OnSighup_AndStopping_OnSigterm) {
  NotifySocket notify(socket_path("invalidator-reload.sock"));
  pid_t pid = start("invalidator",
                    invalidator_config("inval-reload.json", "svc_reload", free_tcp_port()), notify);
  ASSERT_EQ(notify.next(20s), "READY=1") << log();
  ::kill(pid, SIGHUP);
  auto reloading = notify.next(10s);
  ASSERT_TRUE(reloading) << log();
  EXPECT_THAT(*reloading, StartsWith("RELOADING=1\nMONOTONIC_USEC="));
  EXPECT_EQ(notify.next(10s), "READY=1") << log();
  ::kill(pid, SIGTERM);
  EXPECT_EQ(notify.next(10s), "STOPPING=1") << log();
  EXPECT_EQ(wait_exit(pid, 10s), 0) << log();
}

// Every mcproxy_* / mcinval_* name in the alert rules and the dashboard, histogram series
// (_bucket, _sum, _count) by their family's name.
std::set<std::string> metric_names_in(const std::string& path) {
  static const std::regex name(R"(\b(mcproxy|mcinval)_[a-z0-9_]+)");
  std::set<std::string> names;
  auto text = read_file(path);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name);
       it != std::sregex_iterator(); ++it)
    names.insert(it->str());
  return names;
}

TEST_F(ServiceTest, EveryMetricTheAlertsAndTheDashboardName_IsExportedByTheRunningDaemons) {
  NotifySocket proxy_notify(socket_path("metrics-proxy.sock"));
  NotifySocket inval_notify(socket_path("metrics-inval.sock"));
  uint16_t port = free_tcp_port(), proxy_metrics = free_tcp_port(), inval_metrics = free_tcp_port();
  start("mcproxy", proxy_config("metrics-proxy.json", port, proxy_metrics), proxy_notify);
  ASSERT_EQ(proxy_notify.next(15s), "READY=1") << log();
  start("invalidator", invalidator_config("metrics-inval.json", "svc_metrics", inval_metrics),
        inval_notify);
  ASSERT_EQ(inval_notify.next(20s), "READY=1") << log();
  EXPECT_THAT(LineClient(port, 2s).call("version\r\n"), StartsWith("VERSION "));
  // The source's series are registered as its loop starts, just after READY=1.
  EXPECT_TRUE(eventually([&] { return scrape(inval_metrics).find("mcinval_active") != std::string::npos; }))
      << log();
  std::string exported = scrape(proxy_metrics) + scrape(inval_metrics);

  for (const char* file : {"/deploy/prometheus/alerts.yml", "/deploy/grafana/mccache.json"}) {
    auto names = metric_names_in(std::string(MCCACHE_SOURCE_DIR) + file);
    EXPECT_GE(names.size(), 15u) << file << " names too few metrics: is the pattern stale?";
    for (std::string n : names) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string family = n.substr(0, n.size() - std::string(suffix).size());
        if (n.ends_with(suffix) && exported.find("# TYPE " + family + " histogram") != std::string::npos)
          n = family;
      }
      EXPECT_NE(exported.find("# TYPE " + n + " "), std::string::npos)
          << file << " names " << n << ", which neither daemon exports";
    }
  }
}

}  // namespace
}  // namespace mccache::testing
