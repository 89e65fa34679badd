#include "runway/core/repeated_failure.hpp"

#include <gtest/gtest.h>

namespace runway {
namespace {

using std::chrono::seconds;

TEST(RepeatedFailureTest, LogsTheFirstFailureThenTheSameOneOncePerQuietPeriodThenTheRecovery) {
  RepeatedFailure log(seconds(60));
  const RepeatedFailure::Clock::time_point t0{};
  const Error down{ErrorCode::Unavailable, "cannot reach the store"};
  EXPECT_EQ(log.succeeded(), std::nullopt);  // nothing failed: nothing to say
  EXPECT_EQ(log.failed(down, t0), "cannot reach the store");
  EXPECT_EQ(log.failed(down, t0 + seconds(1)), std::nullopt);
  EXPECT_EQ(log.failed(down, t0 + seconds(59)), std::nullopt);
  EXPECT_EQ(log.failed(down, t0 + seconds(60)), "cannot reach the store (4 failed passes in a row)");
  EXPECT_EQ(log.failed(down, t0 + seconds(61)), std::nullopt);
  EXPECT_EQ(log.succeeded(), "works again after 5 failed passes");
  EXPECT_EQ(log.succeeded(), std::nullopt);
  EXPECT_EQ(log.failed(down, t0 + seconds(62)), "cannot reach the store");  // a new outage
  EXPECT_EQ(log.succeeded(), "works again after 1 failed pass");
}

TEST(RepeatedFailureTest, ANewMessageIsLoggedAtOnce) {
  RepeatedFailure log(seconds(60));
  const RepeatedFailure::Clock::time_point t0{};
  EXPECT_TRUE(log.failed({ErrorCode::Unavailable, "connection refused"}, t0));
  EXPECT_EQ(log.failed({ErrorCode::Unavailable, "the database system is starting up"}, t0 + seconds(1)),
            "the database system is starting up");
  EXPECT_EQ(log.failed({ErrorCode::Unavailable, "the database system is starting up"}, t0 + seconds(2)),
            std::nullopt);
}

}  // namespace
}  // namespace runway
