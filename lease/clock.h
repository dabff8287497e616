// Time, injected: the lease model reads it through Clock so tests drive it with a fake.
#pragma once

#include <chrono>

namespace mccache::lease {

using TimePoint = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace mccache::lease
