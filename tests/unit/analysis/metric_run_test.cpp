#include <cmath>
#include <deque>
#include <limits>

#include <gtest/gtest.h>

#include "runway/analysis/analysis.hpp"
#include "runway/core/clock.hpp"

namespace runway::analysis {
namespace {

using namespace std::chrono_literals;
using config::MetricSpec;
using config::NoDataPolicy;

const TimePoint kStart = fromUnixMillis(1'700'000'000'000);

MetricSpec metric(std::string name, std::string success, std::string failure) {
  MetricSpec m;
  m.name = std::move(name);
  m.success_condition = std::move(success);
  m.failure_condition = std::move(failure);
  return m;
}

Result<MetricValue> value(double v) { return MetricValue{v, ""}; }
Result<MetricValue> noData() { return MetricValue{std::nullopt, "empty vector"}; }
Result<MetricValue> error() { return fail(ErrorCode::Unavailable, "connection refused"); }

MetricRun make(const MetricSpec& spec) {
  auto run = MetricRun::create(spec, kStart);
  EXPECT_TRUE(run.has_value()) << (run ? "" : run.error().message);
  return std::move(*run);
}

// Feeds answers at the times the run asks for them.
void feed(MetricRun& run, std::initializer_list<Result<MetricValue>> answers) {
  for (const auto& a : answers) {
    const auto at = run.nextMeasurementAt();
    ASSERT_TRUE(at.has_value()) << "metric already complete";
    run.record(*at, a);
  }
}

// ---- Argo's evaluateResult ------------------------------------------------------------------

TEST(MetricOutcome, NoConditionsIsSuccessful) {
  auto run = make(metric("m", "", ""));
  EXPECT_EQ(run.evaluate(123), MeasurementOutcome::Successful);
}

TEST(MetricOutcome, SuccessConditionOnly) {
  auto run = make(metric("m", "result < 0.01", ""));
  EXPECT_EQ(run.evaluate(0.001), MeasurementOutcome::Successful);
  EXPECT_EQ(run.evaluate(0.5), MeasurementOutcome::Failed);
}

TEST(MetricOutcome, FailureConditionOnly) {
  auto run = make(metric("m", "", "result > 0.01"));
  EXPECT_EQ(run.evaluate(0.001), MeasurementOutcome::Successful);
  EXPECT_EQ(run.evaluate(0.5), MeasurementOutcome::Failed);
}

TEST(MetricOutcome, BothConditionsNeitherHoldsIsInconclusive) {
  auto run = make(metric("m", "result < 0.01", "result > 0.05"));
  EXPECT_EQ(run.evaluate(0.001), MeasurementOutcome::Successful);
  EXPECT_EQ(run.evaluate(0.1), MeasurementOutcome::Failed);
  EXPECT_EQ(run.evaluate(0.02), MeasurementOutcome::Inconclusive);
}

TEST(MetricOutcome, InvalidConditionIsRejectedWithColumn) {
  auto run = MetricRun::create(metric("errors", "", "result >"), kStart);
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(run.error().message.find("failureCondition: column 9"), std::string::npos)
      << run.error().message;
}

// ---- schedule ---------------------------------------------------------------------------------

TEST(MetricSchedule, WithoutIntervalOneMeasurement) {
  auto run = make(metric("m", "result < 1", ""));
  EXPECT_EQ(run.status().phase, Phase::Pending);
  EXPECT_EQ(run.nextMeasurementAt(), kStart);
  run.record(kStart, value(0.5));
  EXPECT_EQ(run.status().phase, Phase::Successful);
  EXPECT_FALSE(run.nextMeasurementAt().has_value());
}

TEST(MetricSchedule, InitialDelayThenInterval) {
  auto spec = metric("m", "result < 1", "");
  spec.initial_delay = 1min;
  spec.interval = 30s;
  spec.count = 3;
  auto run = make(spec);
  EXPECT_FALSE(run.isDue(kStart + 59s));
  EXPECT_TRUE(run.isDue(kStart + 60s));
  run.record(kStart + 60s, value(0));
  EXPECT_EQ(run.nextMeasurementAt(), kStart + 90s);
  EXPECT_FALSE(run.isDue(kStart + 89s));
  run.record(kStart + 90s, value(0));
  run.record(kStart + 120s, value(0));
  EXPECT_EQ(run.status().phase, Phase::Successful);
  EXPECT_EQ(run.status().count, 3);
}

TEST(MetricSchedule, IntervalWithoutCountRunsUntilTerminated) {
  auto spec = metric("m", "result < 1", "");
  spec.interval = 10s;
  auto run = make(spec);
  for (int i = 0; i < 100; ++i) feed(run, {value(0.5)});
  EXPECT_EQ(run.status().phase, Phase::Running);
  run.terminate(kStart + 1000s, "rollout promoted");
  EXPECT_EQ(run.status().phase, Phase::Successful);
  EXPECT_NE(run.status().message.find("rollout promoted"), std::string::npos);
}

TEST(MetricSchedule, ErrorRetriesAfterTenSeconds) {
  auto spec = metric("m", "result < 1", "");
  spec.interval = 1min;
  spec.count = 5;
  auto run = make(spec);
  run.record(kStart, error());
  EXPECT_EQ(run.nextMeasurementAt(), kStart + kErrorRetryInterval);
}

TEST(MetricSchedule, ErrorRetryNeverSlowerThanInterval) {
  auto spec = metric("m", "result < 1", "");
  spec.interval = 2s;
  spec.count = 5;
  auto run = make(spec);
  run.record(kStart, error());
  EXPECT_EQ(run.nextMeasurementAt(), kStart + 2s);
}

TEST(MetricSchedule, ErrorsDoNotCountTowardsCount) {
  auto spec = metric("m", "result < 1", "");
  spec.interval = 1s;
  spec.count = 2;
  auto run = make(spec);
  feed(run, {value(0), error(), error()});
  EXPECT_EQ(run.status().phase, Phase::Running);
  EXPECT_EQ(run.status().count, 1);
  feed(run, {value(0)});
  EXPECT_EQ(run.status().phase, Phase::Successful);
}

// ---- limits -----------------------------------------------------------------------------------

MetricSpec limited(int count) {
  auto spec = metric("m", "", "result > 0.01");
  spec.interval = 30s;
  spec.count = count;
  return spec;
}

TEST(MetricLimits, FailureLimitDefaultZeroFailsOnFirstFailure) {
  auto run = make(limited(10));
  feed(run, {value(0), value(0.5)});
  EXPECT_EQ(run.status().phase, Phase::Failed);
  EXPECT_EQ(run.status().failed, 1);
  EXPECT_NE(run.status().message.find("failureLimit 0"), std::string::npos);
}

TEST(MetricLimits, FailureLimitAllowsThatManyFailures) {
  auto spec = limited(10);
  spec.failure_limit = 2;
  auto run = make(spec);
  feed(run, {value(0.5), value(0), value(0.5)});
  EXPECT_EQ(run.status().phase, Phase::Running);
  feed(run, {value(0.5)});
  EXPECT_EQ(run.status().phase, Phase::Failed);
  EXPECT_EQ(run.status().failed, 3);
}

TEST(MetricLimits, FailureLimitMinusOneNeverFails) {
  auto spec = limited(4);
  spec.failure_limit = -1;
  auto run = make(spec);
  feed(run, {value(0.5), value(0.5), value(0.5), value(0.5)});
  EXPECT_EQ(run.status().phase, Phase::Successful);
  EXPECT_EQ(run.status().failed, 4);
}

TEST(MetricLimits, InconclusiveLimitDefaultZero) {
  auto spec = metric("m", "result < 0.01", "result > 0.05");
  spec.interval = 30s;
  spec.count = 5;
  auto run = make(spec);
  feed(run, {value(0.02)});
  EXPECT_EQ(run.status().phase, Phase::Inconclusive);
}

TEST(MetricLimits, InconclusiveLimitAllowsThatMany) {
  auto spec = metric("m", "result < 0.01", "result > 0.05");
  spec.interval = 30s;
  spec.count = 5;
  spec.inconclusive_limit = 1;
  auto run = make(spec);
  feed(run, {value(0.02), value(0)});
  EXPECT_EQ(run.status().phase, Phase::Running);
  feed(run, {value(0.03)});
  EXPECT_EQ(run.status().phase, Phase::Inconclusive);
}

TEST(MetricLimits, ConsecutiveErrorLimitDefaultFourFifthErrorIsError) {
  auto run = make(limited(10));
  feed(run, {error(), error(), error(), error()});
  EXPECT_EQ(run.status().phase, Phase::Running);
  EXPECT_EQ(run.status().consecutive_errors, 4);
  feed(run, {error()});
  EXPECT_EQ(run.status().phase, Phase::Error);
  EXPECT_NE(run.status().message.find("connection refused"), std::string::npos);
}

TEST(MetricLimits, ConsecutiveErrorsResetByAMeasurement) {
  auto run = make(limited(20));
  feed(run, {error(), error(), error(), error(), value(0), error(), error(), error(), error()});
  EXPECT_EQ(run.status().phase, Phase::Running);
  EXPECT_EQ(run.status().errors, 8);
  EXPECT_EQ(run.status().consecutive_errors, 4);
}

TEST(MetricLimits, ConsecutiveErrorLimitZeroFailsOnFirstError) {
  auto spec = limited(5);
  spec.consecutive_error_limit = 0;
  auto run = make(spec);
  feed(run, {error()});
  EXPECT_EQ(run.status().phase, Phase::Error);
}

TEST(MetricLimits, ProviderErrorIsNeverSuccessful) {
  auto spec = metric("m", "", "");  // no conditions: any value would pass
  auto run = make(spec);
  feed(run, {error()});
  EXPECT_EQ(run.status().measurements.back().outcome, MeasurementOutcome::Error);
  EXPECT_EQ(run.status().successful, 0);
}

// ---- no data ----------------------------------------------------------------------------------

MetricRun noDataRun(NoDataPolicy policy) {
  auto spec = limited(3);
  spec.no_data = policy;
  auto run = make(spec);
  feed(run, {noData()});
  return run;
}

TEST(MetricNoData, PassPolicyCountsAsSuccessful) {
  auto run = noDataRun(NoDataPolicy::Pass);
  EXPECT_EQ(run.status().measurements.back().outcome, MeasurementOutcome::Successful);
  EXPECT_EQ(run.status().phase, Phase::Running);
  EXPECT_NE(run.status().measurements.back().message.find("noData: pass"), std::string::npos);
}

TEST(MetricNoData, FailPolicyCountsAsFailed) {
  auto run = noDataRun(NoDataPolicy::Fail);
  EXPECT_EQ(run.status().measurements.back().outcome, MeasurementOutcome::Failed);
  EXPECT_EQ(run.status().phase, Phase::Failed);
}

TEST(MetricNoData, InconclusivePolicyIsTheDefault) {
  EXPECT_EQ(MetricSpec{}.no_data, NoDataPolicy::Inconclusive);
  auto run = noDataRun(NoDataPolicy::Inconclusive);
  EXPECT_EQ(run.status().measurements.back().outcome, MeasurementOutcome::Inconclusive);
  EXPECT_EQ(run.status().phase, Phase::Inconclusive);
}

TEST(MetricNoData, ErrorPolicyCountsAgainstTheErrorBudget) {
  auto run = noDataRun(NoDataPolicy::Error);
  EXPECT_EQ(run.status().measurements.back().outcome, MeasurementOutcome::Error);
  EXPECT_EQ(run.status().consecutive_errors, 1);
  EXPECT_EQ(run.status().phase, Phase::Running);
  feed(run, {noData(), noData(), noData(), noData()});
  EXPECT_EQ(run.status().phase, Phase::Error);
}

TEST(MetricNoData, NaNIsAValueNotNoData) {
  auto spec = limited(3);
  spec.no_data = NoDataPolicy::Fail;
  auto run = make(spec);
  feed(run, {value(std::numeric_limits<double>::quiet_NaN())});
  // NaN > 0.01 is false: the failure condition does not hold.
  EXPECT_EQ(run.status().measurements.back().outcome, MeasurementOutcome::Successful);
}

// ---- for ----------------------------------------------------------------------------------------

// The runbook: "Error Rate > 1% for 2 minutes", measured every 30 s, driven by a fake clock.
class ForDuration : public ::testing::Test {
 protected:
  ForDuration() {
    spec_ = metric("error-rate", "", "result > 0.01");
    spec_.interval = 30s;
    spec_.for_duration = 2min;
  }

  // Advances the fake clock to the next due time and records `v`.
  void step(MetricRun& run, double v) {
    const auto due = run.nextMeasurementAt();
    ASSERT_TRUE(due.has_value());
    clock_.set(*due);
    run.record(clock_.now(), value(v));
  }

  FakeClock clock_{kStart};
  MetricSpec spec_;
};

TEST_F(ForDuration, ShorterBreachIsNotAFailure) {
  auto run = make(spec_);
  for (double v : {0.05, 0.05, 0.05, 0.05}) step(run, v);  // held 0, 30, 60, 90 s
  EXPECT_EQ(run.status().phase, Phase::Running);
  EXPECT_EQ(run.status().failed, 0);
  EXPECT_EQ(run.status().breaching, 4);
  EXPECT_EQ(run.status().measurements.back().outcome, MeasurementOutcome::Breaching);
  EXPECT_NE(run.status().measurements.back().message.find("held 1m30s of 2m"), std::string::npos)
      << run.status().measurements.back().message;
}

TEST_F(ForDuration, BreachHeldForTheDurationFails) {
  auto run = make(spec_);
  for (double v : {0.05, 0.05, 0.05, 0.05, 0.05}) step(run, v);  // held 120 s at the 5th
  EXPECT_EQ(run.status().phase, Phase::Failed);
  EXPECT_EQ(clock_.now(), kStart + 2min);
  EXPECT_EQ(run.status().failed, 1);
}

TEST_F(ForDuration, RecoveryRestartsTheClock) {
  auto run = make(spec_);
  for (double v : {0.05, 0.05, 0.05, 0.05, 0.001}) step(run, v);
  for (double v : {0.05, 0.05, 0.05, 0.05}) step(run, v);
  EXPECT_EQ(run.status().phase, Phase::Running);
  step(run, 0.05);
  EXPECT_EQ(run.status().phase, Phase::Failed);
  EXPECT_EQ(clock_.now(), kStart + 2min + 30s + 2min);
}

TEST_F(ForDuration, ErrorsDoNotInterruptTheBreach) {
  auto run = make(spec_);
  step(run, 0.05);                                  // t = 0
  clock_.set(*run.nextMeasurementAt());             // t = 30 s
  run.record(clock_.now(), error());
  for (int i = 0; i < 10 && run.status().phase == Phase::Running; ++i) step(run, 0.05);
  EXPECT_EQ(run.status().phase, Phase::Failed);
  EXPECT_GE(clock_.now() - kStart, 2min);
  EXPECT_LT(clock_.now() - kStart, 2min + 30s);
}

TEST_F(ForDuration, FifteenMinuteAnalysisInAMomentOfFakeTime) {
  spec_.count = 30;  // 15 minutes of 30 s measurements
  auto run = make(spec_);
  while (run.nextMeasurementAt()) step(run, 0.002);
  EXPECT_EQ(run.status().phase, Phase::Successful);
  EXPECT_EQ(run.status().measurements.size(), 30u);
  EXPECT_EQ(clock_.now(), kStart + 14min + 30s);
}

// ---- AnalysisRun ------------------------------------------------------------------------------

class ScriptedProvider final : public MetricProvider {
 public:
  std::map<std::string, std::deque<Result<MetricValue>>> answers;
  std::vector<MeasureContext> seen;

  Result<MetricValue> measure(const MetricSpec& m, const MeasureContext& context) override {
    seen.push_back(context);
    auto& queue = answers[m.name];
    if (queue.empty()) return fail(ErrorCode::Internal, "no scripted answer for " + m.name);
    auto a = queue.front();
    queue.pop_front();
    return a;
  }
};

TEST(AnalysisRunPhase, PhaseOrderIsArgos) {
  EXPECT_TRUE(isWorse(Phase::Successful, Phase::Inconclusive));
  EXPECT_TRUE(isWorse(Phase::Inconclusive, Phase::Error));
  EXPECT_TRUE(isWorse(Phase::Error, Phase::Failed));
  EXPECT_FALSE(isWorse(Phase::Failed, Phase::Error));
}

TEST(AnalysisRunPhase, AllSuccessfulIsSuccessful) {
  auto run = AnalysisRun::create("canary", {metric("a", "result < 1", ""), metric("b", "", "result > 5")},
                                 MeasureContext{}, kStart);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->phase(), Phase::Pending);
  ScriptedProvider p;
  p.answers["a"] = {value(0.5)};
  p.answers["b"] = {value(1)};
  run->tick(kStart, p);
  EXPECT_EQ(run->phase(), Phase::Successful);
  EXPECT_FALSE(run->nextWakeup().has_value());
}

TEST(AnalysisRunPhase, FailureTerminatesTheOthersAndDecides) {
  auto slow = metric("latency", "result < 1", "");
  slow.interval = 1min;  // runs until stopped
  auto errors = metric("errors", "", "result > 0.01");
  errors.interval = 30s;
  errors.count = 10;
  MeasureContext ctx;
  ctx.service = "api";
  ctx.version = "v2";
  auto run = AnalysisRun::create("canary", {slow, errors}, ctx, kStart);
  ASSERT_TRUE(run);
  ScriptedProvider p;
  p.answers["latency"] = {value(0.2)};
  p.answers["errors"] = {value(0.001), value(0.2)};
  run->tick(kStart, p);
  EXPECT_EQ(run->phase(), Phase::Running);
  EXPECT_EQ(run->nextWakeup(), kStart + 30s);
  run->tick(kStart + 30s, p);
  EXPECT_EQ(run->phase(), Phase::Failed);
  EXPECT_EQ(run->metrics()[0].status().phase, Phase::Successful);  // terminated
  EXPECT_NE(run->message().find("errors:"), std::string::npos) << run->message();
  ASSERT_EQ(p.seen.size(), 3u);
  EXPECT_EQ(p.seen[2].service, "api");
  EXPECT_EQ(p.seen[2].now, kStart + 30s);
}

TEST(AnalysisRunPhase, WorstPhaseWins) {
  auto a = metric("a", "result < 0.01", "result > 0.05");  // inconclusive
  auto b = metric("b", "", "result > 1");                  // error
  b.consecutive_error_limit = 0;
  auto run = AnalysisRun::create("r", {a, b}, MeasureContext{}, kStart);
  ASSERT_TRUE(run);
  run->record(1, kStart, error());
  run->record(0, kStart, value(0.02));  // ignored: the run already terminated on b's Error
  EXPECT_EQ(run->phase(), Phase::Error);

  auto run2 = AnalysisRun::create("r", {a, metric("c", "", "result > 1")}, MeasureContext{}, kStart);
  ASSERT_TRUE(run2);
  run2->record(0, kStart, value(0.02));
  EXPECT_EQ(run2->phase(), Phase::Inconclusive);
}

TEST(AnalysisRunDryRun, DryRunFailureNeverDecides) {
  auto real = metric("real", "result < 1", "");
  auto dry = metric("dry", "result < 1", "");
  dry.dry_run = true;
  auto run = AnalysisRun::create("r", {real, dry}, MeasureContext{}, kStart);
  ASSERT_TRUE(run);
  ScriptedProvider p;
  p.answers["real"] = {value(0.5)};
  p.answers["dry"] = {value(7)};
  run->tick(kStart, p);
  EXPECT_EQ(run->phase(), Phase::Successful);
  const auto& d = run->metrics()[1].status();
  EXPECT_TRUE(d.dry_run);
  EXPECT_EQ(d.phase, Phase::Failed);  // measured and recorded
  ASSERT_EQ(d.measurements.size(), 1u);
  EXPECT_EQ(d.measurements[0].value, 7.0);
  EXPECT_EQ(d.measurements[0].outcome, MeasurementOutcome::Failed);
}

TEST(AnalysisRunDryRun, DryRunFailureDoesNotTerminateOthers) {
  auto real = metric("real", "result < 1", "");
  real.interval = 10s;
  real.count = 3;
  auto dry = metric("dry", "result < 1", "");
  dry.dry_run = true;
  auto run = AnalysisRun::create("r", {real, dry}, MeasureContext{}, kStart);
  ASSERT_TRUE(run);
  run->record(1, kStart, value(9));
  run->record(0, kStart, value(0));
  EXPECT_EQ(run->phase(), Phase::Running);
  EXPECT_EQ(run->metrics()[0].status().phase, Phase::Running);
}

TEST(AnalysisRunPhase, DuplicateMetricNamesRejected) {
  auto run = AnalysisRun::create("r", {metric("a", "", ""), metric("a", "", "")}, MeasureContext{},
                                 kStart);
  ASSERT_FALSE(run);
  EXPECT_NE(run.error().message.find("used twice"), std::string::npos);
}

TEST(AnalysisRunPhase, EveryMeasurementIsKept) {
  auto spec = metric("m", "result < 1", "");
  spec.interval = 1s;
  spec.count = 4;
  spec.no_data = NoDataPolicy::Pass;
  auto run = make(spec);
  feed(run, {value(0.1), error(), noData(), value(0.2), value(0.3)});
  const auto& ms = run.status().measurements;
  ASSERT_EQ(ms.size(), 5u);
  EXPECT_EQ(ms[0].value, 0.1);
  EXPECT_EQ(ms[0].time, kStart);
  EXPECT_EQ(ms[1].outcome, MeasurementOutcome::Error);
  EXPECT_EQ(ms[1].message, "connection refused");
  EXPECT_FALSE(ms[2].value.has_value());
  EXPECT_EQ(ms[4].outcome, MeasurementOutcome::Successful);
}

// Lead 12: the per-use thresholds are applied when the run is built, so one template serves a
// lenient step and a strict one.
config::Config thresholdConfig() {
  config::Config cfg;
  config::AnalysisTemplate errors;
  errors.name = "errors";
  auto m = metric("error-rate", "", "result > ${threshold}");
  m.interval = 30s;
  errors.metrics.push_back(m);
  errors.metrics.push_back(metric("latency", "result < 2", ""));
  cfg.templates.push_back(errors);
  config::AnalysisTemplate more;
  more.name = "more-errors";
  more.metrics.push_back(metric("error-rate", "", "result > 0.5"));
  cfg.templates.push_back(more);
  return cfg;
}

TEST(BuildMetrics, AppliesThePerUseThresholdAndInterval) {
  const auto cfg = thresholdConfig();
  auto strict = buildMetrics(cfg, {"errors"}, 10s, {{"error-rate", "0.001"}});
  ASSERT_TRUE(strict) << strict.error().message;
  ASSERT_EQ(strict->size(), 2u);
  EXPECT_EQ((*strict)[0].failure_condition, "result > 0.001");
  EXPECT_EQ((*strict)[0].interval, 10s);
  EXPECT_EQ((*strict)[1].success_condition, "result < 2");
  auto lenient = buildMetrics(cfg, {"errors"}, Duration{0}, {{"error-rate", "0.05"}});
  ASSERT_TRUE(lenient) << lenient.error().message;
  EXPECT_EQ((*lenient)[0].failure_condition, "result > 0.05");
  EXPECT_EQ((*lenient)[0].interval, 30s);

  // The substituted condition judges: 0.01 fails the strict run and passes the lenient one.
  auto strict_run = MetricRun::create((*strict)[0], kStart);
  auto lenient_run = MetricRun::create((*lenient)[0], kStart);
  ASSERT_TRUE(strict_run && lenient_run);
  EXPECT_EQ(strict_run->evaluate(0.01), MeasurementOutcome::Failed);
  EXPECT_EQ(lenient_run->evaluate(0.01), MeasurementOutcome::Successful);
}

TEST(BuildMetrics, RefusesWhatCannotBeMeasured) {
  const auto cfg = thresholdConfig();
  auto missing = buildMetrics(cfg, {"errors"}, Duration{0}, {});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("no threshold is given"), std::string::npos)
      << missing.error().message;
  auto twice = buildMetrics(cfg, {"errors", "more-errors"}, Duration{0}, {{"error-rate", "0.1"}});
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("\"error-rate\" is defined by template \"errors\" and by "
                                       "\"more-errors\""),
            std::string::npos)
      << twice.error().message;
  auto gone = buildMetrics(cfg, {"renamed"}, Duration{0}, {});
  ASSERT_FALSE(gone);
  EXPECT_NE(gone.error().message.find("\"renamed\" is not configured"), std::string::npos);
}

}  // namespace
}  // namespace runway::analysis
