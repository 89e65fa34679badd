#include "runway/core/clock.hpp"

#include <gtest/gtest.h>

namespace runway {
namespace {

TEST(FakeClockTest, MovesOnlyWhenTold) {
  FakeClock clock(fromUnixMillis(1000));
  EXPECT_EQ(toUnixMillis(clock.now()), 1000);
  EXPECT_EQ(toUnixMillis(clock.now()), 1000);
  clock.advance(std::chrono::minutes(15));
  EXPECT_EQ(toUnixMillis(clock.now()), 1000 + 15 * 60 * 1000);
  clock.set(fromUnixMillis(10'000'000));
  EXPECT_EQ(toUnixMillis(clock.now()), 10'000'000);
}

TEST(SystemClockTest, IsNearTheRealTime) {
  const auto before = std::chrono::system_clock::now();
  const auto now = systemClock()->now();
  const auto after = std::chrono::system_clock::now();
  EXPECT_GE(now, std::chrono::time_point_cast<Duration>(before));
  EXPECT_LE(now, after);
}

TEST(TimestampTest, FormatsRfc3339Utc) {
  EXPECT_EQ(formatTimestamp(fromUnixMillis(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatTimestamp(fromUnixMillis(1'795'660'500'250)), "2026-11-26T02:35:00.250Z");
}

}  // namespace
}  // namespace runway
