#include "runway/core/clock.hpp"

#include <ctime>

#include <fmt/format.h>

#include "runway/core/error.hpp"

namespace runway {
namespace {

class SystemClock final : public Clock {
 public:
  // Clock
  TimePoint now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
};

}  // namespace

std::shared_ptr<Clock> systemClock() {
  static const auto clock = std::make_shared<SystemClock>();
  return clock;
}

FakeClock::FakeClock(TimePoint start) : now_ms_(start.time_since_epoch().count()) {}

TimePoint FakeClock::now() const { return TimePoint{Duration{now_ms_.load()}}; }

void FakeClock::advance(Duration by) {
  RUNWAY_ASSERT(by.count() >= 0);
  now_ms_.fetch_add(by.count());
}

void FakeClock::set(TimePoint to) {
  RUNWAY_ASSERT(to >= now());
  now_ms_.store(to.time_since_epoch().count());
}

std::string formatTimestamp(TimePoint t) {
  const auto ms = t.time_since_epoch().count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  auto frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

}  // namespace runway
