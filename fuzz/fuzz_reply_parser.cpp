// Fuzzes what a backend connection reads: ReplyParser over a chunked byte stream, and lease/'s
// parse_meta_head over each meta reply line it yields (and over every raw line of the input).
// The two parsers must agree on the status and on a VA reply's value size, and the chunked run
// must see the same replies as one run over the whole stream.
//
// Input: [max line][max chunk][seed u32][stream...].
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "lease/meta_reply.h"
#include "mcproxy/protocol/reply_parser.h"

namespace {

using mccache::fuzz::ChunkPlan;
using mccache::fuzz::ExactBuffer;
using mccache::fuzz::within;
using mccache::lease::MetaStatus;
using mccache::lease::parse_meta_head;
using namespace mccache::protocol;

void check_meta_head(std::string_view line) {
  auto head = parse_meta_head(line);
  if (!head) return;
  FUZZ_CHECK(within(head->reply.message, line), "meta message inside the line");
  FUZZ_CHECK(head->reply.value.empty(), "head carries no value yet");
  FUZZ_CHECK(head->value_bytes == 0 || head->reply.status == MetaStatus::VA,
             "only VA announces value bytes");
}

// ReplyCode of a meta reply ↔ lease's MetaStatus.
bool same_status(ReplyCode code, MetaStatus s) {
  switch (code) {
    case ReplyCode::kValue: return s == MetaStatus::VA;
    case ReplyCode::kHeader: return s == MetaStatus::HD;
    case ReplyCode::kMiss: return s == MetaStatus::EN;
    case ReplyCode::kNotFound: return s == MetaStatus::NF;
    case ReplyCode::kNotStored: return s == MetaStatus::NS;
    case ReplyCode::kExists: return s == MetaStatus::EX;
    case ReplyCode::kNoop: return s == MetaStatus::MN;
    default: return true;
  }
}

void check_reply(std::string_view input, size_t consumed, const Reply& r) {
  FUZZ_CHECK(r.raw.data() == input.data() && r.raw.size() == consumed, "raw is what was consumed");
  FUZZ_CHECK(r.raw.ends_with('\n'), "a reply ends with a newline");
  FUZZ_CHECK(r.line.data() == r.raw.data(), "line starts the reply");
  FUZZ_CHECK(r.line.find('\n') == std::string_view::npos, "no newline inside the line");
  FUZZ_CHECK(within(r.flags, r.line), "flags inside the line");
  FUZZ_CHECK(within(r.value, r.raw), "value inside the reply");
  for (char f = 'A'; f <= 'z'; ++f) {
    std::string_view v = r.flag(f);
    FUZZ_CHECK(within(v, r.flags), "flag token inside the flags");
    FUZZ_CHECK(v.empty() || r.has_flag(f), "a flag with a token is present");
  }
  if (r.code == ReplyCode::kValue) {
    FUZZ_CHECK(r.value.data() + r.value.size() + 2 == r.raw.data() + r.raw.size(),
               "VA value is followed by \\r\\n and nothing else");
    FUZZ_CHECK(r.raw.ends_with("\r\n"), "VA block ends with \\r\\n");
  } else {
    FUZZ_CHECK(r.value.empty(), "only VA has a value");
  }
  if (r.code == ReplyCode::kTextValues)
    FUZZ_CHECK(r.raw.ends_with("END\r\n") || r.raw.ends_with("END\n"), "VALUE block ends at END");
  check_meta_head(r.line);
  if (auto head = parse_meta_head(r.line)) {
    FUZZ_CHECK(same_status(r.code, head->reply.status), "parsers agree on the status");
    if (r.code == ReplyCode::kValue && head->reply.status == MetaStatus::VA)
      FUZZ_CHECK(head->value_bytes == r.value.size(), "parsers agree on the value size");
  }
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

  // lease/ sees lines the proxy cut; feed it every line of the raw input as well.
  for (size_t pos = 0; pos < stream.size();) {
    size_t nl = stream.find('\n', pos);
    size_t end = nl == std::string_view::npos ? stream.size() : nl;
    std::string_view line = stream.substr(pos, end - pos);
    if (line.ends_with('\r')) line.remove_suffix(1);
    ExactBuffer copy(line);
    check_meta_head(copy.view());
    pos = end + 1;
  }

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
