// The runbook example (examples/runbook) is the configuration the quickstart and later issues
// execute; it must load clean and say what the runbook says.

#include <algorithm>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/config/loader.hpp"
#include "runway/config/summary.hpp"
#include "test_paths.hpp"

namespace runway::config {
namespace {

using ::testing::ElementsAre;
using namespace std::chrono_literals;

class RunbookTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    result_ = new LoadResult(loadConfig(std::string(RUNWAY_SOURCE_DIR) + "/examples/runbook"));
  }
  static void TearDownTestSuite() {
    delete result_;
    result_ = nullptr;
  }
  const Config& config() const { return *result_->config; }
  static LoadResult* result_;
};

LoadResult* RunbookTest::result_ = nullptr;

TEST_F(RunbookTest, LoadsWithZeroDiagnostics) {
  std::string all;
  for (const auto& d : result_->diagnostics) all += d.format() + "\n";
  EXPECT_TRUE(result_->ok()) << all;
  ASSERT_TRUE(result_->config.has_value());
}

TEST_F(RunbookTest, FiveServicesRunningTheDemoApp) {
  ASSERT_TRUE(result_->ok());
  ASSERT_EQ(config().applications.size(), 1U);
  const auto& app = config().applications[0];
  EXPECT_EQ(app.name, "insurance-lead-gen");
  std::vector<std::string> names;
  for (const auto& svc : app.services) {
    names.push_back(svc.name);
    ASSERT_TRUE(svc.local.has_value()) << svc.name;
    EXPECT_THAT(svc.local->command, ElementsAre("runway-demo-app", "--port", "${PORT}"));
    EXPECT_EQ(svc.env.at("VERSION"), "${VERSION}");
    EXPECT_EQ(svc.env.at("SERVICE"), "${SERVICE}");
    EXPECT_EQ(svc.health.path, "/health");
    EXPECT_EQ(svc.local->base_dir, std::string(RUNWAY_SOURCE_DIR) + "/examples/runbook");
  }
  EXPECT_THAT(names, ElementsAre("api", "backend", "data-service", "orchestrator", "frontend"));
}

// The runbook's pre-deployment checklist (docs/checklist.md) guards production only.
TEST_F(RunbookTest, ProductionJudgesTheChecklistBeforeItsApprovals) {
  ASSERT_TRUE(result_->ok());
  const auto& c = config().findEnvironment("production")->checklist;
  ASSERT_TRUE(c.code_review && c.ci_checks && c.vulnerabilities && c.tests && c.semver);
  EXPECT_EQ(c.code_review->min_approvals, 1);
  EXPECT_THAT(c.ci_checks->required, ElementsAre("build", "test"));
  EXPECT_EQ(c.vulnerabilities->fail_at, Severity::High);
  EXPECT_THAT(c.waiverRoles(), ElementsAre("security"));
  EXPECT_TRUE(c.waivableBy("tests")->empty());
  EXPECT_EQ(c.github.token_env, "GITHUB_TOKEN");
  EXPECT_TRUE(config().findEnvironment("staging")->checklist.empty());
}

TEST_F(RunbookTest, ThreeEnvironmentsInPromotionOrder) {
  ASSERT_TRUE(result_->ok());
  ASSERT_EQ(config().environments.size(), 3U);
  const auto* dev = config().findEnvironment("development");
  const auto* staging = config().findEnvironment("staging");
  const auto* prod = config().findEnvironment("production");
  ASSERT_TRUE(dev && staging && prod);
  EXPECT_EQ(dev->strategy, StrategyKind::Rolling);
  EXPECT_EQ(dev->promotes_from, "");
  EXPECT_TRUE(dev->approvals.roles.empty());
  EXPECT_EQ(staging->promotes_from, "development");
  EXPECT_EQ(prod->promotes_from, "staging");
  for (const auto* env : {dev, staging, prod}) {
    EXPECT_EQ(env->runtime.kind, RuntimeSpec::Kind::Local);
    EXPECT_EQ(config().applicationFor(*env), &config().applications[0]);
  }
}

TEST_F(RunbookTest, StagingIsBlueGreenWithFifteenMinuteVerification) {
  ASSERT_TRUE(result_->ok());
  const auto& staging = *config().findEnvironment("staging");
  EXPECT_EQ(staging.strategy, StrategyKind::BlueGreen);
  EXPECT_EQ(staging.blue_green.verification, 15min);
  ASSERT_TRUE(staging.blue_green.post_promotion_analysis.has_value());
  EXPECT_THAT(staging.blue_green.post_promotion_analysis->templates,
              ElementsAre("staging-error-rate", "staging-latency-p95"));
  EXPECT_THAT(staging.approvals.roles, ElementsAre("tech-lead"));
  const auto& errors = config().findTemplate("staging-error-rate")->metrics.at(0);
  EXPECT_EQ(errors.query, "error_rate");
  EXPECT_EQ(errors.failure_condition, "result > 0.01");
  const auto& latency = config().findTemplate("staging-latency-p95")->metrics.at(0);
  EXPECT_EQ(latency.query, "latency_p95");
  EXPECT_EQ(latency.failure_condition, "result > 2");
  // 30 measurements, 30 s apart: the 15-minute verification.
  EXPECT_EQ(errors.interval * errors.count, 15min);
}

TEST_F(RunbookTest, ProductionCanaryStepsAndPolicy) {
  ASSERT_TRUE(result_->ok());
  const auto& prod = *config().findEnvironment("production");
  EXPECT_EQ(prod.strategy, StrategyKind::Canary);
  std::vector<std::string> steps;
  for (const auto& step : prod.canary.steps) steps.push_back(describeStep(step));
  EXPECT_THAT(steps, ElementsAre("setWeight 10%", "pause 15m", "setWeight 50%",
                                 "analysis canary-stringent", "setWeight 100%", "pause 30m"));
  ASSERT_TRUE(prod.canary.analysis.has_value());
  EXPECT_EQ(prod.canary.analysis->starting_step, 0);
  EXPECT_THAT(prod.canary.analysis->analysis.templates,
              ElementsAre("canary-error-rate", "canary-latency-p95", "canary-availability"));
  EXPECT_THAT(prod.approvals.roles, ElementsAre("tech-lead", "product-manager"));
  EXPECT_TRUE(prod.approvals.prevent_self_approval);
  EXPECT_EQ(prod.force_deploy, ForceDeployPolicy::Forbidden);
  ASSERT_EQ(prod.windows.size(), 1U);
  EXPECT_THAT(prod.windows[0].days, ElementsAre(Weekday::Tue, Weekday::Wed, Weekday::Thu));
  EXPECT_EQ(prod.windows[0].start_minute, 600);
  EXPECT_EQ(prod.windows[0].end_minute, 960);
  EXPECT_EQ(prod.windows[0].utc_offset_minutes, 0);
  EXPECT_EQ(prod.thresholds.error_rate, 0.005);
  EXPECT_EQ(prod.thresholds.latency_p95, Duration(1s));
  EXPECT_EQ(prod.thresholds.availability, 0.99);
  EXPECT_EQ(prod.post_deploy.duration, 24h);
  EXPECT_THAT(prod.post_deploy.analysis.templates, ElementsAre("post-deploy"));
}

TEST_F(RunbookTest, CanaryRollbackTriggersUseTheRunbookForDurations) {
  ASSERT_TRUE(result_->ok());
  const auto& errors = config().findTemplate("canary-error-rate")->metrics.at(0);
  EXPECT_EQ(errors.failure_condition, "result > 0.005");
  EXPECT_EQ(errors.for_duration, 2min);
  EXPECT_EQ(errors.no_data, NoDataPolicy::Inconclusive);
  const auto& latency = config().findTemplate("canary-latency-p95")->metrics.at(0);
  EXPECT_EQ(latency.failure_condition, "result > 1");
  EXPECT_EQ(latency.for_duration, 5min);
  const auto& availability = config().findTemplate("canary-availability")->metrics.at(0);
  EXPECT_EQ(availability.failure_condition, "result < 0.99");
  EXPECT_EQ(availability.for_duration, 1min);
  for (const auto& tpl : config().templates) {
    for (const auto& metric : tpl.metrics) {
      EXPECT_EQ(metric.provider, MetricSpec::Provider::Builtin) << tpl.name;
      EXPECT_EQ(metric.no_data, NoDataPolicy::Inconclusive) << tpl.name;
    }
  }
}

// Issue 24: a metric measured the moment traffic switches has no data in its window, and
// staging paused "inconclusive" after every switch. Every 1-minute metric waits 30 s for data;
// the staging and stringent runs end 15 minutes after they start (30 s + 29 x 30 s).
TEST_F(RunbookTest, MetricsWaitForDataBeforeTheirFirstMeasurement) {
  ASSERT_TRUE(result_->ok());
  for (const auto& tpl : config().templates) {
    for (const auto& metric : tpl.metrics) {
      if (metric.window != 1min) continue;
      EXPECT_EQ(metric.initial_delay, 30s) << tpl.name << "/" << metric.name;
      if (metric.count > 0) {
        EXPECT_EQ(metric.initial_delay + (metric.count - 1) * metric.interval, 15min) << tpl.name;
      }
    }
  }
  for (const auto* name : {"staging-error-rate", "staging-latency-p95"}) {
    EXPECT_EQ(config().findTemplate(name)->metrics.at(0).inconclusive_limit, 2) << name;
  }
}

TEST_F(RunbookTest, SummaryNamesServicesEnvironmentsAndSteps) {
  ASSERT_TRUE(result_->ok());
  const auto text = summarize(config());
  for (const auto* needle :
       {"application insurance-lead-gen: 5 services", "  data-service ",
        "3 environments", "development (rolling)", "staging (blue-green)",
        "verify for 15m: staging-error-rate, staging-latency-p95", "production (canary)",
        "1. setWeight 10%", "2. pause 15m", "6. pause 30m", "post-deploy watch 1d: post-deploy",
        "checklist before approvals: codeReview (waivable by security), ciChecks (waivable by security), "
        "vulnerabilities (waivable by security), tests, semver",
        "7 analysis templates"}) {
    EXPECT_NE(text.find(needle), std::string::npos) << needle << "\n" << text;
  }
}

}  // namespace
}  // namespace runway::config
