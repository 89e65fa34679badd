// Rehearsals (rehearse/rehearsal.hpp) of the runbook and of configurations that cannot
// proceed: what the plan does to a bad build, where it stops for a person, and that a seed gives
// the same timeline. The good runbook's full path (24 h of watch) is the e2e test's, with its
// golden timeline (tests/e2e/rehearse).

#include "runway/rehearse/rehearsal.hpp"

#include <algorithm>

#include "test_paths.hpp"
#include <gtest/gtest.h>

#include "runway/config/loader.hpp"

namespace runway::rehearse {
namespace {

using namespace std::chrono_literals;

// Monday 2026-12-07 09:00 UTC: production's window (Tue-Thu 10:00-16:00) opens a day later.
const TimePoint kMonday = fromUnixMillis(1'796'634'000'000);

std::shared_ptr<const config::Config> load(const std::string& relative) {
  auto loaded = config::loadConfig(std::string(RUNWAY_SOURCE_DIR) + "/" + relative);
  std::string all;
  for (const auto& d : loaded.diagnostics) all += d.format() + "\n";
  EXPECT_TRUE(loaded.ok()) << all;
  if (!loaded.config) return nullptr;
  return std::make_shared<const config::Config>(std::move(*loaded.config));
}

std::shared_ptr<const config::Config> loadText(const std::string& text) {
  auto loaded = config::loadConfigText(text, "/tmp/rehearsal-test/runway.yaml");
  std::string all;
  for (const auto& d : loaded.diagnostics) all += d.format() + "\n";
  EXPECT_TRUE(loaded.ok()) << all;
  return loaded.config ? std::make_shared<const config::Config>(std::move(*loaded.config))
                       : nullptr;
}

RehearsalOptions badRunbook(std::uint64_t seed = 1) {
  RehearsalOptions o;
  o.config = load("examples/runbook");
  o.start = kMonday;
  o.model.seed = seed;
  runtime::SimulatedFault fault;
  fault.error_rate = 0.05;
  o.fault = fault;
  return o;
}

bool has(const RehearsalReport& r, std::string_view environment, std::string_view kind,
         std::string_view text = {}) {
  return std::any_of(r.timeline.begin(), r.timeline.end(), [&](const TimelineEntry& e) {
    return e.environment == environment && e.kind == kind && e.text.find(text) != std::string::npos;
  });
}

TEST(RehearsalTest, TheRunbookRollsABadBuildBackAtTheCanarysFirstStep) {
  auto report = rehearse(badRunbook());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->passed) << renderText(*report);
  EXPECT_TRUE(report->stops.empty());
  EXPECT_EQ(report->path, (std::vector<std::string>{"development", "staging", "production"}));
  EXPECT_EQ(report->reached, "staging");  // the fault is production's (the default)
  EXPECT_EQ(report->rolled_back_in, "production");
  EXPECT_EQ(report->rolled_back_at_weight, 10);
  // The evidence: the condition and the value seen.
  EXPECT_NE(report->rollback_reason.find("failureCondition 'result > 0.005' holds"),
            std::string::npos);
  EXPECT_TRUE(has(*report, "staging", "approval.granted", "tech-lead"));
  EXPECT_TRUE(has(*report, "production", "approval.granted", "product-manager"));
  EXPECT_TRUE(has(*report, "production", "window.waiting", "2026-12-08T10:00:00.000Z"));
  EXPECT_TRUE(has(*report, "production", "step.started", "weight of v2 set to 10"));
  EXPECT_FALSE(has(*report, "production", "step.started", "weight of v2 set to 50"));
  // Staging passed its 15-minute verification; production waited for Tuesday 10:00.
  EXPECT_TRUE(has(*report, "staging", "analysis.successful", "seen: error-rate"));
  EXPECT_GT(report->elapsed, 25h);
  EXPECT_LT(report->elapsed, 26h);
  EXPECT_NE(renderText(*report).find(
                "PASSED: the plan caught the bad build: rolled back in production at 10 %"),
            std::string::npos);
  EXPECT_NE(renderJson(*report).find("\"rolledBackIn\":\"production\""), std::string::npos);
}

TEST(RehearsalTest, ASeedGivesTheSameTimelineAnotherSeedOtherValues) {
  auto a = rehearse(badRunbook(1));
  auto b = rehearse(badRunbook(1));
  auto c = rehearse(badRunbook(2));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(renderText(*a), renderText(*b));
  EXPECT_NE(renderText(*a), renderText(*c));
}

TEST(RehearsalTest, AFaultInStagingIsCaughtThere) {
  auto o = badRunbook();
  o.fault->environments = {"staging"};
  auto report = rehearse(o);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->passed) << renderText(*report);
  EXPECT_EQ(report->rolled_back_in, "staging");
  EXPECT_EQ(report->reached, "development");
}

TEST(RehearsalTest, AnAnalysisThatCanOnlyBeInconclusiveIsReportedWithItsPlace) {
  RehearsalOptions o;
  o.config = load("tests/data/rehearse/inconclusive");
  o.start = kMonday;
  auto report = rehearse(o);
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->passed);
  ASSERT_EQ(report->stops.size(), 1u) << renderText(*report);
  const auto& stop = report->stops[0];
  EXPECT_EQ(stop.kind, "inconclusive");
  EXPECT_EQ(stop.environment, "staging");
  EXPECT_NE(stop.location.file.find("tests/data/rehearse/inconclusive/runway.yaml"),
            std::string::npos);
  EXPECT_EQ(stop.location.line, 18);  // the metric error-rate
  EXPECT_NE(stop.message.find("initialDelay"), std::string::npos);
}

// --speed: the runbook on a clock running 100,000 times faster than real time (its day of
// simulated time is about a second of sleep) catches the bad build in production too. Real
// time moves between two steps of the driver, so the times are not exact: the outcome is.
// The scaled clock multiplies every scheduling delay of the machine by the speed: a driver woken
// 20 ms late on a loaded CI machine has let 33 simulated minutes pass, past a progress deadline
// (seen once: the bad build "rolled back" in development). So up to three runs, each reported;
// one must end as the plan says.
TEST(RehearsalTest, AScaledClockPlaysThePlanInRealTimeToo) {
  std::string outcomes;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto o = badRunbook();
    o.speed = 100'000;
    const auto real = std::chrono::steady_clock::now();
    auto report = rehearse(o);
    ASSERT_TRUE(report);
    const auto took = std::chrono::steady_clock::now() - real;
    if (report->passed && report->rolled_back_in == "production" && report->elapsed > 25h && took < 30s) {
      SUCCEED();
      return;
    }
    outcomes += "attempt " + std::to_string(attempt) + ": rolled back in " + report->rolled_back_in + " after " +
                std::to_string(std::chrono::duration_cast<std::chrono::minutes>(report->elapsed).count()) +
                " simulated minutes, " +
                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()) + " ms real\n" +
                renderText(*report) + "\n";
  }
  ADD_FAILURE() << "no run of the scaled clock ended as the plan says:\n" << outcomes;
}

TEST(RehearsalTest, AWindowThatNeverOpensIsReportedWithTheFreezeThatClosesIt) {
  RehearsalOptions o;
  o.config = load("tests/data/rehearse/window-never");
  o.start = kMonday;
  auto report = rehearse(o);
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->passed);
  ASSERT_EQ(report->stops.size(), 1u) << renderText(*report);
  EXPECT_EQ(report->stops[0].kind, "window");
  EXPECT_EQ(report->stops[0].location.line, 24);  // the freeze
}

// A plan with no analysis lets a bad build through: that is a failed rehearsal.
TEST(RehearsalTest, ABadBuildThePlanNeverCatchesFailsTheRehearsal) {
  RehearsalOptions o;
  o.config = loadText(R"(apiVersion: runway/v1
kind: Application
metadata: { name: shop }
spec:
  services:
    - name: web
      local: { command: ["web", "--port", "${PORT}"] }
---
apiVersion: runway/v1
kind: Environment
metadata: { name: production }
spec:
  runtime: { local: {} }
  strategy: rolling
)");
  o.start = kMonday;
  runtime::SimulatedFault fault;
  fault.error_rate = 0.5;
  o.fault = fault;
  auto report = rehearse(o);
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->passed);
  EXPECT_EQ(report->reached, "production");
  EXPECT_TRUE(report->rolled_back_in.empty());
  EXPECT_NE(renderText(*report).find(
                "FAILED: the bad build reached production and was never rolled back"),
            std::string::npos);
}

// A rehearsal never queries a real Prometheus: a plan that needs one cannot be judged, and says
// which metric.
TEST(RehearsalTest, AMetricTheRehearsalCannotMeasureIsReportedWithItsPlace) {
  RehearsalOptions o;
  o.config = loadText(R"(apiVersion: runway/v1
kind: Application
metadata: { name: shop }
spec:
  services:
    - name: web
      local: { command: ["web", "--port", "${PORT}"] }
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata: { name: errors }
spec:
  metrics:
    - name: error-rate
      provider: prometheus
      prometheus: { address: "http://127.0.0.1:1" }
      query: 'sum(rate(http_requests_total{code=~"5.."}[1m]))'
      failureCondition: "result > 0.01"
      interval: 30s
      count: 3
---
apiVersion: runway/v1
kind: Environment
metadata: { name: production }
spec:
  runtime: { local: {} }
  strategy: canary
  canary:
    steps:
      - setWeight: 10
      - analysis: { templates: [errors] }
      - setWeight: 100
)");
  ASSERT_TRUE(o.config);
  o.start = kMonday;
  auto report = rehearse(o);
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->passed);
  ASSERT_EQ(report->stops.size(), 1u) << renderText(*report);
  EXPECT_EQ(report->stops[0].kind, "analysis");
  EXPECT_EQ(report->stops[0].location.line, 14);  // the metric error-rate
  EXPECT_NE(report->stops[0].message.find("does not simulate"), std::string::npos)
      << report->stops[0].message;
}

// Production's dual approval needs a product manager; a team where no one holds that role
// can never release there.
TEST(RehearsalTest, AnApprovalRoleNoOneHoldsStopsThePlanAtItsPlace) {
  auto o = badRunbook();
  o.fault.reset();
  o.held_roles = std::vector<std::string>{"tech-lead"};
  auto report = rehearse(o);
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->passed);
  EXPECT_EQ(report->reached, "staging");
  ASSERT_EQ(report->stops.size(), 1u) << renderText(*report);
  EXPECT_EQ(report->stops[0].kind, "approval");
  EXPECT_EQ(report->stops[0].environment, "production");
  EXPECT_NE(report->stops[0].message.find("product-manager, a role no one holds"),
            std::string::npos);
  EXPECT_NE(report->stops[0].location.file.find("examples/runbook/environments.yaml"),
            std::string::npos);
}

TEST(RehearsalTest, OffsetsReadAsDaysHoursMinutesSeconds) {
  EXPECT_EQ(formatOffset(Duration{0}), "T+0");
  EXPECT_EQ(formatOffset(15min), "T+15m");
  EXPECT_EQ(formatOffset(25h + 10s), "T+1d1h10s");
  EXPECT_EQ(formatOffset(1500ms), "T+1s500ms");
}

}  // namespace
}  // namespace runway::rehearse
