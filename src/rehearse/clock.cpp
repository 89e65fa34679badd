#include "runway/rehearse/clock.hpp"

#include <thread>

#include "runway/core/error.hpp"

namespace runway::rehearse {

JumpingClock::JumpingClock(TimePoint start) : clock_(start) {}

TimePoint JumpingClock::now() const { return clock_.now(); }

void JumpingClock::advanceTo(TimePoint to) {
  if (to > clock_.now()) clock_.set(to);
}

ScaledClock::ScaledClock(TimePoint start, double speed)
    : start_(start), speed_(speed), real_start_(std::chrono::steady_clock::now()) {
  RUNWAY_ASSERT(speed > 0);
}

TimePoint ScaledClock::now() const {
  const std::chrono::duration<double, std::milli> real =
      std::chrono::steady_clock::now() - real_start_;
  return start_ + Duration{static_cast<Duration::rep>(real.count() * speed_)};
}

void ScaledClock::advanceTo(TimePoint to) {
  for (TimePoint at = now(); at < to; at = now()) {
    const std::chrono::duration<double, std::milli> left = to - at;
    std::this_thread::sleep_for(
        std::chrono::duration<double, std::milli>(left.count() / speed_ + 0.01));
  }
}

}  // namespace runway::rehearse
