// Time, injected: the pure cores take a `now`, the shells a Clock, so tests decide what time it is.
// The steady clock (lease::Clock's) runs deadlines, ages and retries; the wall clock measures lag
// against commit timestamps, which PostgreSQL takes from its own wall clock.
#pragma once

#include <chrono>
#include <cstdint>

#include "lease/clock.h"

namespace mccache::invalidator {

using SteadyTime = lease::TimePoint;

class Clock : public lease::Clock {
 public:
  virtual int64_t unix_micros() const = 0;  // microseconds since the Unix epoch
  // Waits between retries and polls; a test clock just moves its time on.
  virtual void sleep_for(std::chrono::microseconds d) const = 0;
};

// The process's clocks.
const Clock& system_clock();

}  // namespace mccache::invalidator
