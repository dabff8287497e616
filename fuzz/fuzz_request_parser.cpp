// Fuzzes RequestParser the way a client connection drives it: bytes arrive in chunks, the server
// loops on next(), drops `consumed` bytes and waits on kNeedMore. Every step's contract is checked,
// and the chunked run must see the same requests and errors as one run over the whole stream.
//
// Input: [limits][max chunk][seed u32][stream...]. The header picks small or default
// ParserLimits and how the stream is split, so mutations explore limits and split points.
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "mcproxy/protocol/request_parser.h"

namespace {

using mccache::fuzz::ChunkPlan;
using mccache::fuzz::ExactBuffer;
using mccache::fuzz::within;
using namespace mccache::protocol;
using Parser = RequestParser;

struct Event {
  bool request = false;
  size_t start = 0;  // requests: stream offset of the command line
  Command command = Command::kVersion;
  std::string line, data, error;
  std::vector<std::string> keys;
  uint32_t flags = 0;
  int64_t exptime = 0;
  uint64_t cas_unique = 0, delta = 0, lease_token = 0;
  bool noreply = false, quiet = false, close = false;
  size_t size = 0;

  bool operator==(const Event&) const = default;
};

struct Run {
  std::vector<Event> events;
  bool closed = false;
  size_t leftover = 0;
  bool swallowing = false;
};

void check_request(const ParserLimits& lim, std::string_view input, const Parser::Step& step,
                   const Request& r) {
  FUZZ_CHECK(r.size > 0 && r.size <= step.consumed, "request size within consumed bytes");
  const char* start = input.data() + step.consumed - r.size;
  std::string_view whole(start, r.size);
  FUZZ_CHECK(r.line.data() == start, "request line starts the request");
  FUZZ_CHECK(within(r.line, whole), "request line inside the request");
  FUZZ_CHECK(r.line.find('\n') == std::string_view::npos, "no newline inside the line");
  FUZZ_CHECK(r.line.size() <= std::max(lim.max_line_bytes, lim.max_retrieval_line_bytes),
             "line within the line limit");
  size_t line_bytes = whole.find('\n');
  FUZZ_CHECK(line_bytes != std::string_view::npos, "request has a terminated line");
  ++line_bytes;
  FUZZ_CHECK(line_bytes == r.line.size() + 1 || line_bytes == r.line.size() + 2,
             "line is followed by \\r\\n or \\n");
  if (has_data_block(r.command)) {
    FUZZ_CHECK(r.data.size() <= lim.max_value_bytes, "value within the value limit");
    FUZZ_CHECK(r.size == line_bytes + r.data.size() + 2, "request = line + data + \\r\\n");
    FUZZ_CHECK(r.data.empty() || r.data.data() == start + line_bytes, "data follows the line");
    FUZZ_CHECK(whole.substr(r.size - 2) == "\r\n", "data block ends with \\r\\n");
  } else {
    FUZZ_CHECK(r.data.empty(), "no data block for this command");
    FUZZ_CHECK(r.size == line_bytes, "request is just its line");
  }
  // lease-get takes several keys, like get (mcrouter's grammar).
  if (is_retrieval(r.command) || r.command == Command::kLeaseGet) {
    FUZZ_CHECK(!r.keys.empty(), "retrievals carry keys");
  } else {
    FUZZ_CHECK(r.keys.size() <= 1, "at most one key");
  }
  if (is_storage(r.command) || r.command == Command::kLeaseSet || r.command == Command::kDelete ||
      r.command == Command::kIncr || r.command == Command::kDecr ||
      r.command == Command::kTouch)
    FUZZ_CHECK(r.keys.size() == 1, "keyed command has its key");
  for (std::string_view k : r.keys) {
    FUZZ_CHECK(!k.empty(), "keys are not empty");
    FUZZ_CHECK(within(k, r.line), "key inside the line");
    FUZZ_CHECK(k.find(' ') == std::string_view::npos, "keys hold no space");
    FUZZ_CHECK(k.size() <= lim.max_key_bytes, "key within the key limit");
  }
  FUZZ_CHECK(!command_name(r.command).empty(), "every command has a name");
}

Run drive(const ParserLimits& lim, std::string_view stream, ChunkPlan plan) {
  Run run;
  Parser parser(lim);
  Request req;
  std::string pending;
  size_t fed = 0;
  size_t base = 0;  // stream offset of pending[0]
  // Storage line plus an incomplete block, or a retrieval line still without its newline.
  const size_t held_bound =
      std::max(lim.max_retrieval_line_bytes, lim.max_line_bytes + 2 + lim.max_value_bytes + 2);
  while (fed < stream.size()) {
    size_t n = plan.next(stream.size() - fed);
    pending.append(stream.substr(fed, n));
    fed += n;
    for (;;) {
      ExactBuffer buf(pending);
      std::string_view input = buf.view();
      Parser::Step step = parser.next(input, req);
      FUZZ_CHECK(step.consumed <= input.size(), "consumed within the input");
      FUZZ_CHECK(!step.close || step.status == Parser::Status::kError, "close only on errors");
      Event ev;
      if (step.status == Parser::Status::kRequest) {
        FUZZ_CHECK(step.consumed > 0, "a request makes progress");
        check_request(lim, input, step, req);
        ev.request = true;
        ev.start = base + step.consumed - req.size;
        ev.command = req.command;
        ev.line = req.line;
        ev.data = req.data;
        for (auto k : req.keys) ev.keys.emplace_back(k);
        ev.flags = req.flags;
        ev.exptime = req.exptime;
        ev.cas_unique = req.cas_unique;
        ev.delta = req.delta;
        ev.lease_token = req.lease_token;
        ev.noreply = req.noreply;
        ev.quiet = req.quiet;
        ev.size = req.size;
      } else if (step.status == Parser::Status::kError) {
        FUZZ_CHECK(step.consumed > 0, "an error makes progress");
        // Empty: a noreply incr/decr/touch whose arguments are bad, silent as in memcached.
        FUZZ_CHECK(!step.error.empty() || !step.close, "a closing error says why");
        if (!step.error.empty()) {
          FUZZ_CHECK(step.error.size() >= 2 && step.error.ends_with("\r\n"),
                     "error reply ends with \\r\\n");
          FUZZ_CHECK(step.error.find('\n') == step.error.size() - 1, "error reply is one line");
          FUZZ_CHECK(step.error.starts_with("ERROR") || step.error.starts_with("CLIENT_ERROR") ||
                         step.error.starts_with("SERVER_ERROR"),
                     "error reply is a memcached error");
        }
        ev.error = step.error;
        ev.close = step.close;
      }
      pending.erase(0, step.consumed);
      base += step.consumed;
      if (step.status == Parser::Status::kNeedMore) {
        FUZZ_CHECK(pending.size() <= held_bound, "need-more holds a bounded number of bytes");
        break;
      }
      run.events.push_back(std::move(ev));
      if (step.close) {
        run.closed = true;
        return run;
      }
    }
  }
  run.leftover = pending.size();
  run.swallowing = parser.swallowing();
  return run;
}

ParserLimits limits_from(uint8_t b) {
  ParserLimits lim;
  static constexpr size_t kKey[] = {250, 1, 8, 40};
  static constexpr size_t kValue[] = {1 << 20, 0, 16, 300};
  static constexpr size_t kLine[] = {2048, 16, 64, 300};
  static constexpr size_t kRetrieval[] = {1 << 20, 0, 128, 4096};
  lim.max_key_bytes = kKey[b & 3];
  lim.max_value_bytes = kValue[(b >> 2) & 3];
  lim.max_line_bytes = kLine[(b >> 4) & 3];
  lim.max_retrieval_line_bytes = std::max(kRetrieval[(b >> 6) & 3], lim.max_line_bytes);
  return lim;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  ParserLimits lim = limits_from(data[0]);
  size_t max_chunk = size_t{data[1]} + 1;
  uint32_t seed = uint32_t{data[2]} | uint32_t{data[3]} << 8 | uint32_t{data[4]} << 16 |
                  uint32_t{data[5]} << 24;
  std::string_view stream(reinterpret_cast<const char*>(data) + 6, size - 6);

  Run whole = drive(lim, stream, ChunkPlan(0, 0));
  Run chunked = drive(lim, stream, ChunkPlan(seed, max_chunk));

  // A line over the limit without its newline yet is cut off (close) at a point that depends on
  // the split, so compare only what both runs saw before either closed.
  auto first_close = [](const Run& r) {
    auto it = std::find_if(r.events.begin(), r.events.end(), [](const Event& e) { return e.close; });
    return static_cast<size_t>(it - r.events.begin());
  };
  size_t common = std::min({whole.events.size(), chunked.events.size(), first_close(whole),
                            first_close(chunked)});
  for (size_t i = 0; i < common; ++i)
    FUZZ_CHECK(whole.events[i] == chunked.events[i], "split point changes what is parsed");
  if (!whole.closed && !chunked.closed) {
    FUZZ_CHECK(whole.events.size() == chunked.events.size(), "split point changes request count");
    FUZZ_CHECK(whole.leftover == chunked.leftover, "split point changes the held bytes");
    FUZZ_CHECK(whole.swallowing == chunked.swallowing, "split point changes swallowing");
  }
  return 0;
}
