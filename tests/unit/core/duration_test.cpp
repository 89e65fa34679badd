#include "runway/core/duration.hpp"

#include <gtest/gtest.h>

namespace runway {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

struct GoodCase {
  const char* text;
  Duration expected;
  const char* printed;
};

class ParseDurationGood : public ::testing::TestWithParam<GoodCase> {};

TEST_P(ParseDurationGood, ParsesAndPrints) {
  const auto& c = GetParam();
  auto parsed = parseDuration(c.text);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, c.expected);
  EXPECT_EQ(formatDuration(*parsed), c.printed);
  EXPECT_EQ(*parseDuration(formatDuration(*parsed)), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseDurationGood,
    ::testing::Values(GoodCase{"30s", seconds(30), "30s"}, GoodCase{"15m", minutes(15), "15m"},
                      GoodCase{"1h30m", minutes(90), "1h30m"}, GoodCase{"2d", hours(48), "2d"},
                      GoodCase{"250ms", milliseconds(250), "250ms"},
                      GoodCase{"1s500ms", milliseconds(1500), "1s500ms"},
                      GoodCase{"90m", minutes(90), "1h30m"}, GoodCase{"0s", seconds(0), "0s"},
                      GoodCase{"1d2h3m4s5ms", hours(26) + minutes(3) + seconds(4) + milliseconds(5),
                               "1d2h3m4s5ms"}));

struct BadCase {
  const char* text;
  const char* why;
};

class ParseDurationBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseDurationBad, RejectsWithReason) {
  const auto& c = GetParam();
  auto parsed = parseDuration(c.text);
  ASSERT_FALSE(parsed) << c.text;
  EXPECT_EQ(parsed.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(parsed.error().message.find(c.why), std::string::npos) << parsed.error().message;
}

INSTANTIATE_TEST_SUITE_P(Cases, ParseDurationBad,
                         ::testing::Values(BadCase{"15", "missing unit"},
                                           BadCase{"-5m", "no sign"},
                                           BadCase{"1x", "unknown unit \"x\""},
                                           BadCase{"", "empty"}, BadCase{"m", "expected a number"},
                                           BadCase{"5m1h", "largest to smallest"},
                                           BadCase{"1m1m", "largest to smallest"},
                                           BadCase{"1.5h", "fractions are not allowed"},
                                           BadCase{"99999999999999999999d", "too large"},
                                           BadCase{"5 m", "missing unit"}));

}  // namespace
}  // namespace runway
