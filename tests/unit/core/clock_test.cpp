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

TEST(TimestampTest, ParsesRfc3339) {
  EXPECT_EQ(toUnixMillis(parseTimestamp("1970-01-01T00:00:00Z").value()), 0);
  EXPECT_EQ(toUnixMillis(parseTimestamp("1970-01-01T01:00:00+01:00").value()), 0);
  EXPECT_EQ(toUnixMillis(parseTimestamp("2026-11-26T10:15:00.250Z").value()),
            1'795'688'100'250);
  EXPECT_FALSE(parseTimestamp("2026-02-30T00:00:00Z"));  // no such day
  EXPECT_FALSE(parseTimestamp("2026-12-20T00:00:00"));   // no zone
  EXPECT_FALSE(parseTimestamp("2026-12-20"));
  EXPECT_FALSE(parseTimestamp("2026-12-20T25:00:00Z"));
  EXPECT_FALSE(parseTimestamp("2026-12-20T00:00:00UTC"));
  EXPECT_FALSE(parseTimestamp("2026-12-20T00:00:00+15:00"));
  EXPECT_EQ(toUnixMillis(parseTimestamp("1970-01-01T00:00:00-00:30").value()), 1'800'000);
  const auto t = fromUnixMillis(1'795'660'500'250);
  EXPECT_EQ(parseTimestamp(formatTimestamp(t)).value(), t);
}

}  // namespace
}  // namespace runway
