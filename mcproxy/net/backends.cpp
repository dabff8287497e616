// The worker as the core sees its backends (core::Backends: where a key goes, which connection
// can take a request), what the core leaves to the shell (quit, stats), and the up/down log of
// its servers.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <ctime>
#include <string>

#include "mcproxy/net/worker.h"
#include "version.h"

namespace mccache::net {

using protocol::Request;

void Worker::touch_clock() {
  now_ = Clock::now();
  ctx_.now = now_;
  ctx_.now_unix = static_cast<int64_t>(std::time(nullptr));
}

void Worker::plan(ClientConnection& client, const Request& r) {
  switch (core::plan(client, r, *this, ctx_)) {
    case core::Action::kDone:
      return;
    case core::Action::kQuit:
      client.quit();
      return;
    case core::Action::kStats:
      reply_stats(client, r);
      return;
  }
}

pool::Target Worker::place(std::string_view key) const {
  return live_->placement.route(
      key, [this](size_t server) { return links_[server]->server->health.down(); });
}

pool::Target Worker::route(std::string_view key) {
  pool::Target to = place(key);
  if (to.gutter) core::bump(counters_->gutter_routed);
  return to;
}

core::BackendChannel* Worker::channel(pool::Target to, core::Need need) {
  ServerLink& link = link_of(to);
  if (link.server->health.down()) return nullptr;
  auto& conns = link.conns;
  size_t n = conns.size();
  for (size_t tries = 0; tries < n; ++tries) {
    size_t i = link.next++ % n;
    if (conns[i]->takes(need)) return conns[i].get();
  }
  return nullptr;
}

const pool::Server& Worker::server(pool::Target to) const { return *link_of(to).server; }

size_t Worker::servers(bool gutter) const { return gutter ? gutter_links_.size() : links_.size(); }

void Worker::reply_stats(ClientConnection& client, const Request& r) {
  std::string out;
  auto stat = [&out](std::string_view name, std::string_view value) {
    out.append("STAT ").append(name).append(" ").append(value).append("\r\n");
  };
  auto up = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - shared_.started);
  stat("pid", std::to_string(::getpid()));
  stat("uptime", std::to_string(up.count()));
  stat("version", "mcproxy-" MCCACHE_VERSION);
  stat("threads", std::to_string(live_->proxy.threads));
  stat("curr_connections", std::to_string(shared_.open_connections.load()));
  for (const auto& link : links_)
    stat("server:" + link->server->name, link->server->health.down() ? "down" : "up");
  for (const auto& link : gutter_links_)
    stat("gutter:" + link->server->name, link->server->health.down() ? "down" : "up");
  out.append("END\r\n");
  client.reply_now(r.size, out);
  counters_->count(r.command, Result::kOk);
}

void Worker::on_backend_failure(ServerLink& link) {
  if (!link.server->health.record_failure()) return;
  wake_waiting();  // its keys are answered at once now (or go to the gutter)
  if (link.gutter) {
    spdlog::error(
        "gutter server {} marked down after {} consecutive failures; keys it would "
        "hold for down servers get SERVER_ERROR until a probe reconnects",
        link.server->name, live_->proxy.backend.failures_until_down);
  } else {
    spdlog::error(
        "server {} marked down after {} consecutive failures; its keys {} until a probe "
        "reconnects",
        link.server->name, live_->proxy.backend.failures_until_down,
        live_->gutter ? "go to the gutter pool" : "get SERVER_ERROR");
  }
}

void Worker::on_backend_success(ServerLink& link) {
  if (link.server->health.record_success())
    spdlog::info("{}server {} is back up", link.gutter ? "gutter " : "", link.server->name);
}

}  // namespace mccache::net
