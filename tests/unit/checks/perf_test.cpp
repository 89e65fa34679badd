#include "runway/checks/perf.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace runway::checks {
namespace {

using ::testing::HasSubstr;

LoadResult result(double p95, double p99, double throughput, double error_rate = 0) {
  LoadResult r;
  r.requests = 1000;
  r.failed = static_cast<std::uint64_t>(error_rate * 1000);
  r.ok = r.requests - r.failed;
  r.error_rate = error_rate;
  r.p50_ms = p95 / 2;
  r.p95_ms = p95;
  r.p99_ms = p99;
  r.throughput = throughput;
  r.rate = 50;
  r.release = "v2";
  return r;
}

TEST(PerfCompareTest, WithinTolerancePasses) {
  config::PerformanceSpec spec;
  const auto base = result(100, 150, 50);
  EXPECT_TRUE(comparePerformance(result(109, 180, 46), base, spec).passed());
}

TEST(PerfCompareTest, P95MoreThanTenPercentWorseFails) {
  config::PerformanceSpec spec;
  const auto verdict = comparePerformance(result(120, 150, 50), result(100, 150, 50), spec);
  EXPECT_FALSE(verdict.passed());
  EXPECT_EQ(verdict.firstFailure()->name, "P95");
  EXPECT_EQ(verdict.firstFailure()->reason, "P95 120.0ms vs baseline 100.0ms (+20%, tolerance 10%)");
}

TEST(PerfCompareTest, SubNoiseLatencyChangesOnFastServicesPass) {
  // 1ms -> 3ms is +200 % but within the default 5ms noise allowance.
  config::PerformanceSpec spec;
  EXPECT_TRUE(comparePerformance(result(3, 4, 50), result(1, 1.5, 50), spec).passed());
  // 1ms -> 7ms is a real regression.
  EXPECT_FALSE(comparePerformance(result(7, 8, 50), result(1, 1.5, 50), spec).passed());
}

TEST(PerfCompareTest, ThroughputDropAndErrorsFail) {
  config::PerformanceSpec spec;
  auto low = comparePerformance(result(100, 150, 40), result(100, 150, 50), spec);
  EXPECT_EQ(low.firstFailure()->name, "throughput");
  auto errors = comparePerformance(result(100, 150, 50, 0.05), result(100, 150, 50), spec);
  EXPECT_EQ(errors.firstFailure()->name, "error rate");
  EXPECT_THAT(errors.firstFailure()->reason, HasSubstr("5.00% failed (50 of 1000), limit 1.00%"));
}

TEST(PerfCompareTest, NoBaselineIsSkippedNotPassed) {
  config::PerformanceSpec spec;
  const auto verdict = judgeWithoutBaseline(result(100, 150, 50), spec);
  EXPECT_TRUE(verdict.passed());  // the error-rate item passed
  EXPECT_EQ(verdict.items.back().status, ItemStatus::Skipped);
}

TEST(PerfResultTest, JsonRoundTrip) {
  auto r = result(12.5, 20.25, 48.5, 0.002);
  r.target = "http://127.0.0.1:1/x";
  r.at_unix_ms = 1795662000000;
  auto back = parseLoadResult(toJson(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->requests, r.requests);
  EXPECT_EQ(back->failed, r.failed);
  EXPECT_DOUBLE_EQ(back->p95_ms, 12.5);
  EXPECT_DOUBLE_EQ(back->p99_ms, 20.25);
  EXPECT_EQ(back->release, "v2");
  EXPECT_EQ(back->target, r.target);
  EXPECT_EQ(back->at_unix_ms, r.at_unix_ms);
  EXPECT_FALSE(parseLoadResult("[1,2]"));
  EXPECT_FALSE(parseLoadResult("not json"));
}

TEST(PerfLoadTest, RejectsBadOptions) {
  LoadOptions options;
  EXPECT_FALSE(generateLoad(options));  // no URL
  options.urls = {"http://127.0.0.1:1/"};
  options.rate = 0;
  EXPECT_FALSE(generateLoad(options));
}

}  // namespace
}  // namespace runway::checks
