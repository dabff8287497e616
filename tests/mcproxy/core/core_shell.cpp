// CoreShell: the byte moving of net/client_connection and net/backend_connection, synchronously.
#include "core_shell.h"

#include <stdexcept>

#include "mcproxy/core/reply_translate.h"
#include "pool/reply_parser.h"

namespace mccache::core::testing {

struct CoreShell::Client {
  struct TestSession : Session {
    void close() { mark_closed(); }
  };
  TestSession session;
  protocol::RequestParser parser;
  protocol::Request request;
  std::string in;
};

struct CoreShell::Backend {
  explicit Backend(std::shared_ptr<pool::Server> server, bool gutter)
      : link{std::move(server), gutter}, channel(link) {
    channel.set_accepting(true);  // connecting: requests may queue
  }
  Link link;
  BackendChannel channel;
  std::string in;
};

CoreShell::CoreShell(std::vector<config::HostPort> servers, Settings settings,
                     std::vector<config::HostPort> gutter, size_t clients)
    : settings_(settings),
      placement_(servers, gutter, pool::HashMode::kKetama),
      pool_(servers, 1),
      gutter_pool_(gutter, 1) {
  ctx_.settings = &settings_;
  ctx_.counters = &counters_;
  ctx_.flushes = &flushes_;
  ctx_.now_unix = 1'800'000'000;
  for (size_t i = 0; i < pool_.size(); ++i)
    backends_.push_back(std::make_unique<Backend>(pool_.shared(i), false));
  for (size_t i = 0; i < gutter_pool_.size(); ++i)
    gutter_backends_.push_back(std::make_unique<Backend>(gutter_pool_.shared(i), true));
  for (size_t i = 0; i < clients; ++i) clients_.push_back(std::make_unique<Client>());
}

CoreShell::~CoreShell() = default;

Session& CoreShell::session(size_t client) { return clients_.at(client)->session; }

void CoreShell::send(std::string_view bytes, size_t client) {
  Client& c = *clients_.at(client);
  c.in.append(bytes);
  std::string_view input = c.in;
  size_t used = 0;
  while (used < input.size()) {
    auto step = c.parser.next(input.substr(used), c.request);
    used += step.consumed;
    if (step.status == protocol::RequestParser::Status::kNeedMore) break;
    if (step.status == protocol::RequestParser::Status::kError) {
      c.session.reply_now(step.consumed, step.error);
      continue;
    }
    // Quit and stats are the shell's; these tests do not send them.
    plan(c.session, c.request, *this, ctx_);
  }
  c.in.erase(0, used);
  drain_flushes();
}

std::string CoreShell::take_output(size_t client) {
  std::string out;
  out.swap(session(client).replies().output());
  return out;
}

void CoreShell::close_client(size_t client) { clients_.at(client)->session.close(); }

CoreShell::Backend& CoreShell::backend(size_t server, bool gutter) {
  return *(gutter ? gutter_backends_ : backends_).at(server);
}

BackendChannel& CoreShell::channel_of(size_t server, bool gutter) {
  return backend(server, gutter).channel;
}

std::string CoreShell::take_written(size_t server, bool gutter) {
  std::string out;
  out.swap(channel_of(server, gutter).out());
  return out;
}

size_t CoreShell::answer(size_t server, std::string_view bytes, bool gutter) {
  Backend& b = backend(server, gutter);
  b.in.append(bytes);
  std::string_view input = b.in;
  size_t used = 0, unasked = 0;
  pool::ReplyParser parser;
  pool::Reply reply;
  while (used < input.size()) {
    auto step = parser.next(input.substr(used), reply);
    if (step.status == pool::ReplyParser::Status::kNeedMore) break;
    if (step.status == pool::ReplyParser::Status::kError)
      throw std::runtime_error("unparsable reply: " + std::string(input.substr(used)));
    if (deliver(b.channel, reply, ctx_).status == Delivery::Status::kUnasked) {
      // As net/ does: the connection is out of step, so it is closed and what waits fails.
      ++unasked;
      b.in.clear();
      b.channel.fail("backend out of step", ctx_);
      drain_flushes();
      return unasked;
    }
    used += step.consumed;
  }
  b.in.erase(0, used);
  b.channel.settle();
  drain_flushes();
  return unasked;
}

void CoreShell::connect(size_t server, bool gutter) {
  Backend& b = backend(server, gutter);
  b.channel.set_accepting(true);
  b.channel.connected(ctx_.now);
}

void CoreShell::fail(size_t server, std::string_view why, bool gutter) {
  Backend& b = backend(server, gutter);
  b.in.clear();
  b.channel.fail(why, ctx_);
  drain_flushes();
}

void CoreShell::mark_down(size_t server, bool down) {
  auto& health = pool_.health(server);
  if (down) {
    health.record_failure();
  } else {
    health.record_success();
  }
}

size_t CoreShell::drain_flushes() {
  size_t n = flushes_.sessions().size() + flushes_.channels().size();
  for (auto* c : flushes_.channels()) c->flush_queued = false;
  flushes_.channels().clear();
  for (auto* s : flushes_.sessions()) {
    s->flush_queued = false;
    s->release();
  }
  flushes_.sessions().clear();
  return n;
}

pool::Target CoreShell::route(std::string_view key) {
  return placement_.route(key, [this](size_t s) { return pool_.health(s).down(); });
}

BackendChannel* CoreShell::channel(pool::Target to, Need need) {
  Backend& b = backend(to.server, to.gutter);
  if (b.link.server->health.down()) return nullptr;
  return b.channel.takes(need) ? &b.channel : nullptr;
}

const pool::Server& CoreShell::server(pool::Target to) const {
  return *(to.gutter ? gutter_backends_ : backends_).at(to.server)->link.server;
}

size_t CoreShell::servers(bool gutter) const {
  return gutter ? gutter_backends_.size() : backends_.size();
}

}  // namespace mccache::core::testing
