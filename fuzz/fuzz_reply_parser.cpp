// Fuzzes what a backend connection of either daemon reads: pool's ReplyParser over a chunked byte
// stream. Every view of a reply (line, flags, the echoed key, value, message) must lie inside the
// bytes it consumed, the meta flags it read must be what the flag tokens say, and the chunked run
// must see the same replies as one run over the whole stream.
//
// Input: [max line][max chunk][seed u32][stream...].
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "pool/reply_parser.h"
#include "pool/tokens.h"

namespace {

using mccache::fuzz::ChunkPlan;
using mccache::fuzz::ExactBuffer;
using mccache::fuzz::within;
using namespace mccache::pool;

bool is_meta(ReplyStatus s) {
  switch (s) {
    case ReplyStatus::kValue:
    case ReplyStatus::kHeader:
    case ReplyStatus::kMiss:
    case ReplyStatus::kNotFound:
    case ReplyStatus::kNotStored:
    case ReplyStatus::kExists:
    case ReplyStatus::kNoop:
      return true;
    default:
      return false;
  }
}

void check_reply(std::string_view input, size_t consumed, const Reply& r) {
  FUZZ_CHECK(r.raw.data() == input.data() && r.raw.size() == consumed, "raw is what was consumed");
  FUZZ_CHECK(r.raw.ends_with('\n'), "a reply ends with a newline");
  FUZZ_CHECK(r.line.data() == r.raw.data(), "line starts the reply");
  FUZZ_CHECK(r.line.find('\n') == std::string_view::npos, "no newline inside the line");
  FUZZ_CHECK(within(r.flags, r.line), "flags inside the line");
  FUZZ_CHECK(within(r.meta.key, r.flags), "echoed key inside the flags");
  FUZZ_CHECK(within(r.message, r.line), "message inside the line");
  FUZZ_CHECK(within(r.value, r.raw), "value inside the reply");
  FUZZ_CHECK(is_meta(r.status) || r.flags.empty(), "only meta replies have flags");
  FUZZ_CHECK(r.message.empty() || r.is_error(), "only errors have a message");
  bool win = false, stale = false, win_sent = false, cas = false;
  for_each_token(r.flags, [&](size_t, std::string_view t) {
    win = win || t[0] == 'W';
    stale = stale || t[0] == 'X';
    win_sent = win_sent || t[0] == 'Z';
    cas = cas || t[0] == 'c';
  });
  FUZZ_CHECK(r.meta.win == win && r.meta.stale == stale && r.meta.win_sent == win_sent,
             "W/X/Z read as the tokens say");
  FUZZ_CHECK(r.meta.cas.has_value() == cas, "c read as the tokens say");
  if (r.status == ReplyStatus::kValue) {
    FUZZ_CHECK(r.value.data() + r.value.size() + 2 == r.raw.data() + r.raw.size(),
               "VA value is followed by \\r\\n and nothing else");
    FUZZ_CHECK(r.raw.ends_with("\r\n"), "VA block ends with \\r\\n");
  } else {
    FUZZ_CHECK(r.value.empty(), "only VA has a value");
  }
  if (r.status == ReplyStatus::kTextValues || r.status == ReplyStatus::kStats)
    FUZZ_CHECK(r.raw.ends_with("END\r\n") || r.raw.ends_with("END\n"), "block ends at END");
}

struct Run {
  std::vector<std::string> replies;  // raw bytes of each reply
  bool error = false;
  size_t leftover = 0;
};

Run drive(const ReplyParser& parser, std::string_view stream, ChunkPlan plan) {
  Run run;
  std::string pending;
  size_t fed = 0;
  Reply reply;
  while (fed < stream.size()) {
    size_t n = plan.next(stream.size() - fed);
    pending.append(stream.substr(fed, n));
    fed += n;
    for (;;) {
      ExactBuffer buf(pending);
      std::string_view input = buf.view();
      ReplyParser::Step step = parser.next(input, reply);
      FUZZ_CHECK(step.consumed <= input.size(), "consumed within the input");
      if (step.status == ReplyParser::Status::kNeedMore) {
        FUZZ_CHECK(step.consumed == 0, "need-more consumes nothing");
        break;
      }
      if (step.status == ReplyParser::Status::kError) {
        run.error = true;  // the connection is reset
        return run;
      }
      FUZZ_CHECK(step.consumed > 0, "a reply makes progress");
      check_reply(input, step.consumed, reply);
      run.replies.emplace_back(input.substr(0, step.consumed));
      pending.erase(0, step.consumed);
    }
  }
  run.leftover = pending.size();
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  static constexpr size_t kMaxLine[] = {8192, 16, 64, 512};
  ReplyParser parser;
  parser.max_line_bytes = kMaxLine[data[0] & 3];
  size_t max_chunk = size_t{data[1]} + 1;
  uint32_t seed = uint32_t{data[2]} | uint32_t{data[3]} << 8 | uint32_t{data[4]} << 16 |
                  uint32_t{data[5]} << 24;
  std::string_view stream(reinterpret_cast<const char*>(data) + 6, size - 6);

  Run whole = drive(parser, stream, ChunkPlan(0, 0));
  Run chunked = drive(parser, stream, ChunkPlan(seed, max_chunk));
  // An unterminated line over max_line_bytes is an error at a split-dependent point; before
  // either run errs, both must have read the same replies.
  size_t common = std::min(whole.replies.size(), chunked.replies.size());
  for (size_t i = 0; i < common; ++i)
    FUZZ_CHECK(whole.replies[i] == chunked.replies[i], "split point changes the replies");
  if (!whole.error && !chunked.error) {
    FUZZ_CHECK(whole.replies.size() == chunked.replies.size(), "split point changes reply count");
    FUZZ_CHECK(whole.leftover == chunked.leftover, "split point changes the held bytes");
  }
  return 0;
}
