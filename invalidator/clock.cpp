// The real clocks: the only place the invalidator's loop reads them.
#include "invalidator/clock.h"

#include <thread>

namespace mccache::invalidator {
namespace {

class SystemClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  int64_t unix_micros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void sleep_for(std::chrono::microseconds d) const override { std::this_thread::sleep_for(d); }
};

}  // namespace

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace mccache::invalidator
