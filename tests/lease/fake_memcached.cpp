// FakeMemcached: the meta semantics listed in fake_memcached.h.
#include "fake_memcached.h"

#include <charconv>
#include <chrono>
#include <vector>

namespace mccache::lease::testing {
namespace {

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

int64_t num(std::string_view s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

constexpr int64_t kEpochOffsetS = 1'700'000'000;  // so `stats time` looks like unix time

// The data block after a storage line whose length is argument `length_arg` of `args`; taken off
// the front of `request`.
std::string_view data_block(std::string_view args, size_t length_arg, std::string_view& request) {
  auto tokens = split(args);
  size_t len = tokens.size() > length_arg ? static_cast<size_t>(num(tokens[length_arg])) : 0;
  std::string_view data = request.substr(0, len);
  request.remove_prefix(std::min(request.size(), len + 2));
  return data;
}

}  // namespace

FakeMemcached::FakeMemcached(const Clock& clock) : clock_(clock), started_at_s_(now_s()) {}

int64_t FakeMemcached::now_s() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
}

FakeMemcached::Item* FakeMemcached::find(const std::string& key) {
  auto it = items_.find(key);
  if (it == items_.end()) return nullptr;
  if (it->second.exptime != 0 && it->second.exptime <= now_s()) {
    items_.erase(it);
    return nullptr;
  }
  return &it->second;
}

std::string FakeMemcached::execute(std::string_view request) {
  std::string out;
  while (!request.empty()) {
    size_t eol = request.find("\r\n");
    if (eol == std::string_view::npos) break;
    std::string_view line = request.substr(0, eol);
    request.remove_prefix(eol + 2);
    ++commands_seen_;
    if (line.starts_with("mg ")) {
      out += meta_get(line.substr(3));
    } else if (line.starts_with("ms ")) {
      out += meta_set(line.substr(3), data_block(line.substr(3), 1, request));
    } else if (line.starts_with("set ")) {
      out += text_set(line.substr(4), data_block(line.substr(4), 3, request));
    } else if (line.starts_with("md ")) {
      out += meta_delete(line.substr(3));
    } else if (line == "mn") {
      out += "MN\r\n";
    } else if (line == "stats") {
      out += stats();
    } else {
      out += "ERROR\r\n";
    }
  }
  return out;
}

std::string FakeMemcached::meta_get(std::string_view args) {
  auto tokens = split(args);
  std::string key(tokens.at(0));
  bool quiet = false;
  int64_t vivify = -1;
  for (size_t i = 1; i < tokens.size(); ++i) {
    if (tokens[i] == "q") quiet = true;
    if (tokens[i][0] == 'N') vivify = num(tokens[i].substr(1));
  }
  Item* item = find(key);
  bool won = false;
  bool created = false;
  if (!item) {
    if (vivify < 0) return quiet ? "" : "EN\r\n";
    Item placeholder;
    placeholder.cas = ++last_cas_;
    placeholder.exptime = now_s() + vivify;
    placeholder.win_sent = true;
    item = &(items_[key] = placeholder);
    won = true;
    created = true;
  } else if (item->stale && !item->win_sent) {
    item->win_sent = true;
    won = true;
  }
  bool want_value = false;
  std::string flags;
  for (size_t i = 1; i < tokens.size(); ++i) {
    switch (tokens[i][0]) {
      case 'v':
        want_value = true;
        break;
      case 's':
        flags += " s" + std::to_string(item->value.size());
        break;
      case 'f':
        flags += " f" + std::to_string(item->flags);
        break;
      case 'c':
        flags += " c" + std::to_string(item->cas);
        break;
      case 'k':
        flags += " k" + key;
        break;
      case 't':
        // A fresh placeholder reports t-1 on 1.6.18, later fetches its real TTL.
        flags +=
            " t" + std::to_string(created || item->exptime == 0 ? -1 : item->exptime - now_s());
        break;
      default:
        break;
    }
  }
  if (item->stale) {
    flags += won ? " X W" : " Z X";
  } else if (won) {
    flags += " W";
  } else if (item->win_sent) {
    flags += " Z";
  }
  if (!want_value) return "HD" + flags + "\r\n";
  return "VA " + std::to_string(item->value.size()) + flags + "\r\n" + item->value + "\r\n";
}

std::string FakeMemcached::meta_set(std::string_view args, std::string_view data) {
  auto tokens = split(args);
  std::string key(tokens.at(0));
  bool quiet = false;
  int64_t compare = -1;
  Item fresh;
  fresh.value = std::string(data);
  bool expired_now = false;
  for (size_t i = 2; i < tokens.size(); ++i) {
    std::string_view t = tokens[i];
    if (t == "q") quiet = true;
    if (t[0] == 'C') compare = num(t.substr(1));
    if (t[0] == 'F') fresh.flags = static_cast<uint32_t>(num(t.substr(1)));
    if (t[0] == 'T') {
      int64_t ttl = num(t.substr(1));
      if (ttl < 0) expired_now = true;
      fresh.exptime = ttl == 0 ? 0 : now_s() + ttl;
    }
  }
  Item* item = find(key);
  if (compare >= 0) {
    if (!item) return "NF\r\n";
    if (item->cas != static_cast<uint64_t>(compare)) return "EX\r\n";
  }
  fresh.cas = ++last_cas_;
  if (expired_now) {
    items_.erase(key);
  } else {
    items_[key] = fresh;
  }
  return quiet ? "" : "HD\r\n";
}

std::string FakeMemcached::meta_delete(std::string_view args) {
  auto tokens = split(args);
  std::string key(tokens.at(0));
  bool quiet = false;
  bool invalidate = false;
  int64_t ttl = -1;
  int64_t compare = -1;
  for (size_t i = 1; i < tokens.size(); ++i) {
    std::string_view t = tokens[i];
    if (t == "q") quiet = true;
    if (t == "I") invalidate = true;
    if (t[0] == 'T') ttl = num(t.substr(1));
    if (t[0] == 'C') compare = num(t.substr(1));
  }
  Item* item = find(key);
  if (!item) return "NF\r\n";
  if (compare >= 0 && item->cas != static_cast<uint64_t>(compare)) return "EX\r\n";
  if (invalidate) {
    item->stale = true;
    item->win_sent = false;  // a second md I gives the win back
    item->cas = ++last_cas_;
    if (ttl >= 0) item->exptime = ttl == 0 ? 0 : now_s() + ttl;
  } else {
    items_.erase(key);
  }
  return quiet ? "" : "HD\r\n";
}

std::string FakeMemcached::text_set(std::string_view args, std::string_view data) {
  auto tokens = split(args);  // <key> <flags> <exptime> <bytes>
  Item fresh;
  fresh.value = std::string(data);
  fresh.flags = static_cast<uint32_t>(num(tokens.at(1)));
  int64_t exptime = num(tokens.at(2));
  fresh.exptime = exptime == 0 ? 0 : now_s() + exptime;
  fresh.cas = ++last_cas_;
  items_[std::string(tokens.at(0))] = fresh;
  return "STORED\r\n";
}

std::string FakeMemcached::stats() const {
  int64_t uptime = now_s() - started_at_s_;
  return "STAT pid " + std::to_string(pid_) + "\r\nSTAT uptime " + std::to_string(uptime) +
         "\r\nSTAT time " + std::to_string(now_s() + kEpochOffsetS) +
         "\r\nSTAT version 1.6.18\r\nEND\r\n";
}

void FakeMemcached::restart() {
  items_.clear();
  last_cas_ = 0;
  ++pid_;
  started_at_s_ = now_s();
}

}  // namespace mccache::lease::testing
