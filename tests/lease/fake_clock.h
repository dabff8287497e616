// A Clock the test moves by hand.
#pragma once

#include <chrono>

#include "lease/clock.h"

namespace mccache::lease::testing {

class FakeClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void advance(std::chrono::seconds d) { now_ += d; }

 private:
  TimePoint now_ = TimePoint{} + std::chrono::hours(1000);
};

}  // namespace mccache::lease::testing
