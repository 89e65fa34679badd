// The clocks of a rehearsal: the jumping clock moves only when told, to where it is told and
// never back; the scaled clock runs N times faster than real time.

#include "runway/rehearse/clock.hpp"

#include <gtest/gtest.h>

namespace runway::rehearse {
namespace {

using namespace std::chrono_literals;

const TimePoint kStart = fromUnixMillis(1'796'979'600'000);  // 2026-12-12T09:00:00Z

TEST(JumpingClockTest, StandsStillThenJumpsForwardOnly) {
  JumpingClock clock(kStart);
  EXPECT_EQ(clock.now(), kStart);
  EXPECT_EQ(clock.now(), kStart);
  clock.advanceTo(kStart + 24h);
  EXPECT_EQ(clock.now(), kStart + 24h);
  clock.advanceTo(kStart + 1h);  // the past: nothing changes
  EXPECT_EQ(clock.now(), kStart + 24h);
}

TEST(ScaledClockTest, RunsFasterThanRealTimeAndReachesWhereItIsSent) {
  ScaledClock clock(kStart, 100'000);
  const auto real = std::chrono::steady_clock::now();
  clock.advanceTo(kStart + 10s);  // 0.1 ms of real time
  EXPECT_GE(clock.now(), kStart + 10s);
  EXPECT_LT(std::chrono::steady_clock::now() - real, 5s);
  const TimePoint before = clock.now();
  EXPECT_GE(clock.now(), before);  // monotonic
}

}  // namespace
}  // namespace runway::rehearse
