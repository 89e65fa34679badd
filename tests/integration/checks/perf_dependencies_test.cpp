// Dependencies in comprehensive health (a TCP port nobody listens on, a failing command) and the
// performance comparison catching a demo-app version with LATENCY_MS=250 against the baseline of
// the normal version.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixture.hpp"
#include "runway/checks/health.hpp"
#include "runway/checks/perf.hpp"

namespace runway::checks::itest {
namespace {

using ::testing::HasSubstr;

class DependencyTest : public ChecksFixture {};

TEST_F(DependencyTest, ComprehensiveFailsOnAMissingDependencyWithItsReason) {
  auto closed = test::freeLoopbackPort();
  ASSERT_TRUE(closed);
  loadConfig(fmt::format(R"(  dependencies:
    - {{name: database, tcp: "127.0.0.1:{}", timeout: 1s}}
    - {{name: migrations-table, command: [sh, -c, "echo relation missing >&2; exit 3"]}}
    - {{name: shell, command: ["true"]}}
)",
                         *closed));
  start("v1", {});
  HealthRequest request;
  request.config = config_.get();
  request.environment = "staging";
  request.version = "v1";
  request.level = HealthLevel::Comprehensive;
  auto report = runHealth(request, *runtime_, nullptr, *systemClock());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_FALSE(report->passed());
  EXPECT_EQ(report->summary(),
            fmt::format("dependency database: tcp 127.0.0.1:{}: Connection refused; and 1 more "
                        "failed",
                        *closed));
  const auto table = report->toTable();
  EXPECT_THAT(table, HasSubstr("sh exited with status 3: relation missing"));
  EXPECT_THAT(table, HasSubstr("true exited with status 0"));
  // basic does not look at dependencies.
  request.level = HealthLevel::Basic;
  auto basic = runHealth(request, *runtime_, nullptr, *systemClock());
  ASSERT_TRUE(basic);
  EXPECT_TRUE(basic->passed()) << basic->toTable();
}

class PerfTest : public ChecksFixture {
 public:
  LoadResult load(const std::string& version) {
    auto list = runtime_->instances("staging", "api");
    EXPECT_TRUE(list);
    LoadOptions options;
    for (const auto& i : *list) {
      if (i.version == version) {
        options.urls.push_back(fmt::format("http://127.0.0.1:{}/api/leads", i.port));
      }
    }
    options.rate = 40;
    options.duration = std::chrono::seconds(3);
    auto result = generateLoad(options);
    EXPECT_TRUE(result) << result.error().message;
    result->release = version;
    return *result;
  }
};

TEST_F(PerfTest, LatencyRegressionIsCaughtAgainstTheBaseline) {
  loadConfig();
  start("v1", {});
  start("v2", {{"LATENCY_MS", "250"}}, 1, false);
  auto spec = config_->findEnvironment("staging")->performance;
  // Two runs of the same version on a shared 2-core machine differ in P95 by tens of ms when
  // other tests load it (seen in CI: a baseline of 24ms, the same version again 68ms); the
  // injected 250ms is far above this allowance.
  spec.latency_noise = Duration{120};
  // P99 of 120 samples is the second-slowest request: on a shared machine it jumps by tens of
  // ms between identical runs (seen: 10ms -> 32.6ms; 2.4ms -> 28.3ms while CI's sanitizer build
  // ran at idle priority). This test judges the P95, so the P99 allowance cannot decide it.
  spec.p99_tolerance = 1e6;

  const auto baseline = load("v1");
  EXPECT_EQ(baseline.requests, 120U);
  EXPECT_EQ(baseline.failed, 0U);
  ASSERT_TRUE(saveBaseline(data_dir(), "staging", baseline));
  auto saved = loadBaseline(data_dir(), "staging");
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->release, "v1");
  EXPECT_DOUBLE_EQ(saved->p95_ms, baseline.p95_ms);

  const auto slow = load("v2");
  ASSERT_TRUE(recordRun(data_dir(), "staging", slow));
  const auto verdict = comparePerformance(slow, *saved, spec);
  EXPECT_FALSE(verdict.passed()) << verdict.toTable();
  ASSERT_NE(verdict.firstFailure(), nullptr);
  EXPECT_EQ(verdict.firstFailure()->name, "P95") << verdict.toTable();
  EXPECT_GE(slow.p95_ms, 240.0);

  const auto again = load("v1");
  const auto same = comparePerformance(again, *saved, spec);
  EXPECT_TRUE(same.passed()) << same.toTable();
}

TEST_F(PerfTest, ErrorsFailEvenWithoutABaseline) {
  loadConfig();
  start("v1", {{"ERROR_RATE", "0.5"}, {"SEED", "3"}});
  const auto run = load("v1");
  const auto verdict = judgeWithoutBaseline(run, config_->findEnvironment("staging")->performance);
  EXPECT_FALSE(verdict.passed());
  EXPECT_THAT(verdict.summary(), HasSubstr("perf error rate: "));
  EXPECT_FALSE(loadBaseline(data_dir(), "staging"));
}

}  // namespace
}  // namespace runway::checks::itest
