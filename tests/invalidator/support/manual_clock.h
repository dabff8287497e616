// A clock the test moves by hand; sleeping on it moves it too, so code that waits finishes at once.
#pragma once

#include <chrono>

#include "invalidator/clock.h"

namespace mccache::testing {

class ManualClock final : public invalidator::Clock {
 public:
  invalidator::SteadyTime now() const override { return now_; }
  int64_t unix_micros() const override {
    return kUnixStart +
           std::chrono::duration_cast<std::chrono::microseconds>(now_.time_since_epoch()).count();
  }
  void sleep_for(std::chrono::microseconds d) const override { now_ += d; }
  void advance(std::chrono::microseconds d) { now_ += d; }

 private:
  static constexpr int64_t kUnixStart = 1'800'000'000'000'000;  // 2027, in microseconds
  mutable invalidator::SteadyTime now_{std::chrono::hours(1)};
};

}  // namespace mccache::testing
