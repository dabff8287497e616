// LeaseProxyHarness: the proxy's future request flow over lease/, against FakeMemcached.
#include "lease_proxy_harness.h"

#include <charconv>
#include <stdexcept>
#include <vector>

#include "lease/client_reply.h"
#include "lease/lease_set.h"
#include "meta_reply_parse.h"
#include "lease/plain_ops.h"

namespace mccache::lease::testing {
namespace {

BackendEpoch epoch_from(FakeMemcached& backend, std::string_view server) {
  auto identity = identity_from_stats(backend.stats());
  if (!identity) throw std::runtime_error("stats without pid/time/uptime");
  return BackendEpoch::of(server, *identity);
}

uint64_t to_u64(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

ClientLeaseGet parse_client_lease_get(std::string_view reply) {
  ClientLeaseGet r;
  size_t eol = reply.find("\r\n");
  std::string_view line = reply.substr(0, eol);
  std::vector<std::string_view> f;
  for (size_t i = 0; i <= line.size();) {
    size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    f.push_back(line.substr(i, j - i));
    i = j + 1;
  }
  size_t bytes = 0;
  if (f[0] == "VALUE" && f.size() == 4) {
    r.kind = LeaseGetKind::Hit;
    r.client_flags = static_cast<uint32_t>(to_u64(f[2]));
    bytes = to_u64(f[3]);
  } else if (f[0] == "LVALUE" && f.size() == 5) {
    r.token = to_u64(f[2]);
    r.kind = r.token == 1 ? LeaseGetKind::HotMiss : LeaseGetKind::LeaseGranted;
    r.client_flags = static_cast<uint32_t>(to_u64(f[3]));
    bytes = to_u64(f[4]);
  } else {
    return r;
  }
  r.value = std::string(reply.substr(eol + 2, bytes));
  if (reply.substr(eol + 2 + bytes) != "\r\nEND\r\n") r.kind = LeaseGetKind::BackendError;
  return r;
}

LeaseProxyHarness::LeaseProxyHarness(FakeMemcached& backend, LeaseSettings settings,
                                     std::string server)
    : backend_(backend),
      settings_(settings),
      server_(std::move(server)),
      epoch_(epoch_from(backend, server_)) {}

void LeaseProxyHarness::connect() { epoch_ = epoch_from(backend_, server_); }

pool::Reply LeaseProxyHarness::round_trip(const std::string& command) {
  buffer_ = backend_.execute(command);
  return parse_full_reply(buffer_);
}

std::string LeaseProxyHarness::lease_get(std::string_view key) {
  std::string cmd;
  append_lease_get_command(cmd, key, settings_);
  pool::Reply reply = round_trip(cmd);
  std::string out;
  append_lease_get_reply(out, key, classify_lease_get(reply, epoch_));
  return out;
}

std::string LeaseProxyHarness::lease_set(std::string_view key, uint64_t token, uint32_t flags,
                                         int64_t exptime, std::string_view value) {
  std::string out;
  LeaseSetPlan plan = plan_lease_set(token, epoch_);
  if (!plan.send_to_backend) {
    append_lease_set_reply(out, LeaseSetResult::NotStored);
    return out;
  }
  std::string cmd;
  append_lease_set_command(cmd, key, plan.cas, flags, exptime, value);
  append_lease_set_reply(out, classify_lease_set(round_trip(cmd)));
  return out;
}

std::string LeaseProxyHarness::plain_get(std::string_view key, bool with_cas) {
  std::string cmd;
  append_plain_get_command(cmd, key);
  pool::Reply reply = round_trip(cmd);
  PlainGetOutcome o = classify_plain_get(reply, settings_);
  std::string out;
  if (o.backend_error) {
    append_server_error(out, o.error);
    return out;
  }
  if (o.hit) {
    append_value_block(out, key, o.client_flags, o.value,
                       with_cas ? std::optional<uint64_t>(o.cas) : std::nullopt);
  }
  out.append(kEnd);
  if (o.give_back) {
    std::string give_back;
    append_give_back_command(give_back, key, o.give_back_cas, o.give_back_ttl_s);
    round_trip(give_back);  // its one reply (HD/EX/NF) is read and dropped
  }
  return out;
}

std::string LeaseProxyHarness::get(std::string_view key) { return plain_get(key, false); }
std::string LeaseProxyHarness::gets(std::string_view key) { return plain_get(key, true); }

std::string LeaseProxyHarness::del(std::string_view key, std::optional<DeleteMode> mode) {
  std::string cmd;
  append_delete_command(cmd, key, mode.value_or(settings_.delete_mode), settings_.stale_ttl_s);
  std::string out;
  append_delete_reply(out, classify_delete(round_trip(cmd)));
  return out;
}

std::string LeaseProxyHarness::set(std::string_view key, std::string_view value, uint32_t flags) {
  // A plain set passes through as a meta set (the proxy's own mapping, not lease/'s).
  std::string cmd = "ms " + std::string(key) + " " + std::to_string(value.size()) + " F" +
                    std::to_string(flags) + " T0\r\n" + std::string(value) + "\r\n";
  pool::Reply reply = round_trip(cmd);
  return reply.status == pool::ReplyStatus::kHeader ? "STORED\r\n" : "NOT_STORED\r\n";
}

}  // namespace mccache::lease::testing
