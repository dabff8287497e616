// A tiny in-test simulation of memcached 1.6.18's meta commands, limited to what the proxy sends
// for lease-aware commands (mg v s f c t N T k q, ms C F T q, md I T C q, mn, stats, and a text
// `set`) and to the behaviour measured on this machine's memcached
// (see testdata/capture_meta_replies.py):
//  * mg N<ttl> on a miss creates an empty placeholder and answers W; later mg see Z;
//  * md I T<s> keeps a stale copy, bumps the CAS and frees the win; the first mg of a stale
//    item gets X W, later ones Z X;
//  * ms C<cas> answers EX on a CAS mismatch and NF when there is no item;
//  * q suppresses HD (and EN for mg) only; CAS restarts at 1 after restart().
// Time is whole seconds of the injected clock, as memcached's own clock is.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "lease/clock.h"

namespace mccache::lease::testing {

class FakeMemcached {
 public:
  explicit FakeMemcached(const Clock& clock);

  // Runs every complete command in `request` (pipelining allowed) and returns the reply bytes.
  std::string execute(std::string_view request);
  // The `stats` reply: pid, uptime, time, END.
  std::string stats() const;
  // Crash and start again: all items gone, CAS from 1, a new pid and start time.
  void restart();

  size_t commands_seen() const { return commands_seen_; }

 private:
  struct Item {
    std::string value;
    uint32_t flags = 0;
    uint64_t cas = 0;
    int64_t exptime = 0;  // absolute seconds, 0 = never
    bool stale = false;
    bool win_sent = false;
  };

  int64_t now_s() const;
  Item* find(const std::string& key);
  std::string meta_get(std::string_view args);
  std::string meta_set(std::string_view args, std::string_view data);
  std::string meta_delete(std::string_view args);
  std::string text_set(std::string_view args, std::string_view data);

  const Clock& clock_;
  std::map<std::string, Item> items_;
  uint64_t last_cas_ = 0;
  uint64_t pid_ = 4242;
  int64_t started_at_s_ = 0;
  size_t commands_seen_ = 0;
};

}  // namespace mccache::lease::testing
