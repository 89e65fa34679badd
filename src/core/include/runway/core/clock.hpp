#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "runway/core/error.hpp"

namespace runway {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::time_point<std::chrono::system_clock, Duration>;

// The one seam in front of time. Everything that needs "now" takes a Clock, so that tests
// advance a FakeClock instead of sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, millisecond resolution. Thread-safe.
  virtual TimePoint now() const = 0;
};

// The real clock.
std::shared_ptr<Clock> systemClock();

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{Duration{1'700'000'000'000}});

  // Clock
  TimePoint now() const override;

  void advance(Duration by);
  // REQUIRES: to >= now().
  void set(TimePoint to);

 private:
  std::atomic<Duration::rep> now_ms_;
};

// Milliseconds since the Unix epoch, and back.
inline std::int64_t toUnixMillis(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint fromUnixMillis(std::int64_t ms) { return TimePoint{Duration{ms}}; }

// RFC 3339 in UTC with milliseconds, e.g. "2026-11-26T10:15:00.250Z".
std::string formatTimestamp(TimePoint t);

// RFC 3339 date-time with a zone, to the millisecond: "2026-12-20T00:00:00Z",
// "2026-12-20T08:00:00.5+02:00" (what formatTimestamp() writes, and Kubernetes' timestamps).
// InvalidArgument otherwise, with an example in the message.
Result<TimePoint> parseTimestamp(std::string_view text);

}  // namespace runway
