// Request-side differential fuzzer: a client byte stream, split at random points, goes through
// mcproxy's parser and the real proxy core, and is checked against a model of memcached 1.6.18's
// text reader (memcached_text_model.h). Crashes when
//  - mcproxy accepts a request that memcached would read over a different extent of the stream
//    (so the two disagree on where commands start and end, or on how many there are), as another
//    command, with other keys or data, or with another noreply/quiet;
//  - what mcproxy sends a backend is not, read by memcached, exactly one answering command (no
//    noreply, no quiet flag) per reply mcproxy waits for, each of a kind mcproxy may send (admin
//    commands only when admin_commands is on) and for a key the client named.
//
// Input: [max chunk][seed u32][mode][stream...]. mode bit 0: admin_commands; bit 1: the server
// is down, so keyed requests go to the gutter (whose lines have their expiry capped).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "fuzz/memcached_text_model.h"
#include "mcproxy/protocol/request_parser.h"
#include "tests/mcproxy/core/core_shell.h"

namespace {

using mccache::fuzz::ChunkPlan;
using namespace mccache::protocol;
namespace model = mccache::fuzz::memcached;

struct Accepted {
  size_t start = 0;
  Request request;  // views into the stream
};

struct Parsed {
  std::vector<Accepted> requests;
  size_t end = 0;  // where mcproxy stops reading: the stream's end, a close, or after a quit
};

// Every request mcproxy's parser accepts, with its stream offset, fed in chunks as a socket would.
Parsed accepted_requests(std::string_view stream, ChunkPlan plan) {
  Parsed parsed;
  auto& out = parsed.requests;
  RequestParser parser;
  size_t fed = 0, base = 0;  // base: stream offset of the unconsumed bytes
  while (fed < stream.size()) {
    fed += plan.next(stream.size() - fed);
    for (;;) {
      std::string_view input = stream.substr(base, fed - base);
      Request r;
      auto step = parser.next(input, r);
      if (step.status == RequestParser::Status::kRequest)
        out.push_back({base + step.consumed - r.size, r});
      // A closing error takes whatever has arrived (how much depends on the split): the stream
      // ends where it starts. A quit ends it after itself.
      if (step.status == RequestParser::Status::kError && step.close) {
        parsed.end = base;
        return parsed;
      }
      base += step.consumed;
      if (step.status == RequestParser::Status::kNeedMore) break;
      if (step.status == RequestParser::Status::kRequest && r.command == Command::kQuit) {
        parsed.end = base;
        return parsed;
      }
      if (base == fed) break;
    }
  }
  parsed.end = stream.size();
  return parsed;
}

// Whether memcached knows `name` as the command mcproxy parsed.
bool same_command(Command c, std::string_view name) {
  if (c == Command::kGet) return name == "get" || name == "bget";
  return name == command_name(c);
}

bool reads_noreply(Command c) {
  return is_storage(c) || c == Command::kIncr || c == Command::kDecr || c == Command::kTouch ||
         c == Command::kDelete || c == Command::kFlushAll || c == Command::kVerbosity;
}

void check_against_model(std::string_view stream, const Accepted& a) {
  const Request& r = a.request;
  // mcproxy's own commands (lease-get, lease-set) and those it answers or refuses itself never
  // reach memcached in the client's form.
  switch (r.command) {
    case Command::kLeaseGet:
    case Command::kLeaseSet:
    case Command::kAdminOther:
    case Command::kStats:
    case Command::kVersion:
    case Command::kQuit:
    case Command::kMetaNoop:
      return;
    default:
      break;
  }
  model::Command m = model::next_command(stream.substr(a.start));
  FUZZ_CHECK(m.status == model::Command::Status::kCommand,
             "memcached would wait for more or close where mcproxy saw a whole request");
  FUZZ_CHECK(m.size == r.size, "memcached reads a different extent: another count of commands");
  FUZZ_CHECK(same_command(r.command, m.name), "memcached reads another command");
  if (!m.error) {
    if (is_retrieval(r.command) || !r.keys.empty()) {
      FUZZ_CHECK(m.keys.size() == r.keys.size(), "memcached reads another number of keys");
      for (size_t i = 0; i < r.keys.size(); ++i)
        FUZZ_CHECK(m.keys[i] == r.keys[i], "memcached reads another key");
    }
    if (has_data_block(r.command)) FUZZ_CHECK(m.data == r.data, "memcached reads other data");
    if (reads_noreply(r.command)) FUZZ_CHECK(m.noreply == r.noreply, "noreply read differently");
    if (is_meta(r.command) && r.command != Command::kMetaDebug)
      FUZZ_CHECK(m.quiet == r.quiet, "quiet read differently");
  }
}

bool may_send(std::string_view name, bool admin) {
  static const std::set<std::string_view> kKeyed = {"mg",  "ms",   "md",      "ma",     "me",
                                                    "set", "add",  "replace", "append", "prepend",
                                                    "cas", "incr", "decr",    "touch"};
  if (kKeyed.contains(name)) return true;
  return admin && (name == "flush_all" || name == "verbosity");
}

// Prints `bytes` escaped, so a finding shows what was sent.
void dump(const char* what, std::string_view bytes) {
  std::string out;
  for (unsigned char ch : bytes) {
    if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
      out.push_back(static_cast<char>(ch));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    }
  }
  std::fprintf(stderr, "%s: %s\n", what, out.c_str());
}

// What one backend channel was given: memcached's reading of it, command by command.
void check_sent(std::string_view written, size_t outstanding, bool admin,
                const std::set<std::string, std::less<>>& client_keys) {
  size_t commands = 0;
  if (std::getenv("FUZZ_DUMP") != nullptr) dump("sent", written);
  while (!written.empty()) {
    model::Command m = model::next_command(written);
    FUZZ_CHECK(m.status == model::Command::Status::kCommand, "a sent request is not whole");
    FUZZ_CHECK(!m.noreply && !m.quiet, "a sent request stays silent");
    FUZZ_CHECK(may_send(m.name, admin), "mcproxy sent a command it must not");
    for (const auto& k : m.keys) FUZZ_CHECK(client_keys.contains(k), "sent a key nobody asked for");
    written.remove_prefix(m.size);
    ++commands;
  }
  FUZZ_CHECK(commands == outstanding,
             "memcached reads another count of commands than mcproxy waits replies for");
}

mccache::core::Settings settings(bool admin) {
  mccache::core::Settings s;
  s.leases = mccache::lease::LeaseSettings{.lease_ttl_s = 10, .stale_ttl_s = 5};
  s.gutter_leases = s.leases;
  s.gutter_ttl_s = 10;
  s.admin_commands = admin;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  size_t max_chunk = size_t{data[0]} + 1;
  uint32_t seed = uint32_t{data[1]} | uint32_t{data[2]} << 8 | uint32_t{data[3]} << 16 |
                  uint32_t{data[4]} << 24;
  const bool admin = (data[5] & 1) != 0;
  const bool down = (data[5] & 2) != 0;
  std::string_view stream(reinterpret_cast<const char*>(data) + 6, size - 6);

  std::set<std::string, std::less<>> client_keys;
  Parsed parsed = accepted_requests(stream, ChunkPlan(seed, max_chunk));
  for (const Accepted& a : parsed.requests) {
    check_against_model(stream, a);
    for (auto k : a.request.keys) client_keys.emplace(k);
  }

  // The real core, one server and one gutter, both connected with their epoch known.
  mccache::core::testing::CoreShell shell({{"127.0.0.1", 11211}}, settings(admin),
                                          {{"127.0.0.1", 11311}});
  const std::string_view kStats =
      "STAT pid 7\r\nSTAT uptime 100\r\nSTAT time 1800000000\r\nEND\r\n";
  for (bool gutter : {false, true}) {
    shell.connect(0, gutter);
    shell.take_written(0, gutter);
    shell.answer(0, kStats, gutter);
  }
  if (down) shell.mark_down(0);
  // The shell does not close on quit or a closing error as net/ does: it gets what net/ reads.
  stream = stream.substr(0, parsed.end);
  ChunkPlan plan(seed ^ 0x9e3779b9u, max_chunk);
  for (size_t fed = 0; fed < stream.size();) {
    size_t n = plan.next(stream.size() - fed);
    shell.send(stream.substr(fed, n));
    fed += n;
  }
  for (bool gutter : {false, true})
    check_sent(shell.take_written(0, gutter), shell.channel_of(0, gutter).replies_outstanding(),
               admin, client_keys);
  return 0;
}
