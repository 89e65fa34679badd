#include "runway/analysis/validate.hpp"

#include "runway/analysis/analysis.hpp"

#include <gtest/gtest.h>
#include "test_paths.hpp"

namespace runway::analysis {
namespace {

using namespace std::chrono_literals;
using config::MetricSpec;

config::Config withMetric(MetricSpec m) {
  m.location = config::SourceLocation{"analysis.yaml", 12, 7};
  config::AnalysisTemplate t;
  t.name = "error-rate";
  t.location = config::SourceLocation{"analysis.yaml", 1, 1};
  t.metrics.push_back(std::move(m));
  config::Config c;
  c.templates.push_back(std::move(t));
  return c;
}

MetricSpec builtinMetric() {
  MetricSpec m;
  m.name = "errors";
  m.provider = MetricSpec::Provider::Builtin;
  m.query = "error_rate";
  m.failure_condition = "result > 0.01";
  return m;
}

// The single diagnostic for `field`, or a failure listing what was found.
const config::Diagnostic* find(const std::vector<config::Diagnostic>& ds, const std::string& field) {
  for (const auto& d : ds) {
    if (d.field == field) return &d;
  }
  std::string all;
  for (const auto& d : ds) all += d.field + ": " + d.message + "\n";
  ADD_FAILURE() << "no diagnostic for " << field << "; got:\n" << all;
  return nullptr;
}

TEST(ValidateTemplates, ValidTemplateHasNoDiagnostics) {
  EXPECT_TRUE(validateTemplates(withMetric(builtinMetric())).empty());
}

TEST(ValidateTemplates, InvalidConditionIsLocatedWithColumn) {
  auto m = builtinMetric();
  m.failure_condition = "result >> 0.01";
  const auto ds = validateTemplates(withMetric(m));
  ASSERT_EQ(ds.size(), 1u);
  const auto* d = find(ds, "spec.metrics[0].failureCondition");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->location.file, "analysis.yaml");
  EXPECT_EQ(d->location.line, 12);
  EXPECT_NE(d->message.find("column 9"), std::string::npos) << d->message;
}

TEST(ValidateTemplates, InvalidSuccessCondition) {
  auto m = builtinMetric();
  m.success_condition = "reslt < 1";
  EXPECT_NE(find(validateTemplates(withMetric(m)), "spec.metrics[0].successCondition"), nullptr);
}

TEST(ValidateTemplates, ThresholdPlaceholderIsAllowedInConditions) {
  auto m = builtinMetric();
  m.failure_condition = "result > ${threshold}";
  EXPECT_TRUE(validateTemplates(withMetric(m)).empty());
  m.failure_condition = "result > ${threshold} )";
  const auto ds = validateTemplates(withMetric(m));
  const auto* d = find(ds, "spec.metrics[0].failureCondition");
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find("column 23"), std::string::npos) << d->message;
}

TEST(ValidateTemplates, UnknownBuiltinQuerySuggests) {
  auto m = builtinMetric();
  m.query = "latency_p59";
  const auto ds = validateTemplates(withMetric(m));
  const auto* d = find(ds, "spec.metrics[0].query");
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find("did you mean 'latency_p50'"), std::string::npos) << d->message;
}

TEST(ValidateTemplates, PrometheusNeedsAddressAndQuery) {
  MetricSpec m;
  m.name = "p95";
  m.provider = MetricSpec::Provider::Prometheus;
  m.prometheus.location = config::SourceLocation{"analysis.yaml", 14, 9};
  const auto ds = validateTemplates(withMetric(m));
  const auto* address = find(ds, "spec.metrics[0].prometheus.address");
  ASSERT_NE(address, nullptr);
  EXPECT_EQ(address->location.line, 14);
  EXPECT_NE(find(ds, "spec.metrics[0].query"), nullptr);
}

TEST(ValidateTemplates, PrometheusAddressMustBeHttp) {
  MetricSpec m;
  m.name = "p95";
  m.provider = MetricSpec::Provider::Prometheus;
  m.prometheus.address = "prometheus:9090";
  m.prometheus.query = "up";
  EXPECT_NE(find(validateTemplates(withMetric(m)), "spec.metrics[0].prometheus.address"), nullptr);
}

TEST(ValidateTemplates, MalformedPlaceholder) {
  MetricSpec m;
  m.name = "p95";
  m.provider = MetricSpec::Provider::Prometheus;
  m.prometheus.address = "http://127.0.0.1:9090";
  m.prometheus.query = "rate(x[${window)";
  EXPECT_NE(find(validateTemplates(withMetric(m)), "spec.metrics[0].query"), nullptr);
}

TEST(ValidateTemplates, WebNeedsUrlAndPointer) {
  MetricSpec m;
  m.name = "score";
  m.provider = MetricSpec::Provider::Web;
  m.web.url = "http://example.test/score";
  m.web.json_pointer = "data.value";
  const auto ds = validateTemplates(withMetric(m));
  const auto* d = find(ds, "spec.metrics[0].web.jsonPointer");
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find("RFC 6901"), std::string::npos);
  m.web.url.clear();
  EXPECT_NE(find(validateTemplates(withMetric(m)), "spec.metrics[0].web.url"), nullptr);
}

TEST(ValidateTemplates, CountNeedsInterval) {
  auto m = builtinMetric();
  m.count = 5;
  EXPECT_NE(find(validateTemplates(withMetric(m)), "spec.metrics[0].interval"), nullptr);
}

TEST(ValidateTemplates, ForLongerThanTheRunCanNeverFail) {
  auto m = builtinMetric();
  m.interval = 30s;
  m.count = 3;  // spans 1 minute
  m.for_duration = 2min;
  const auto ds = validateTemplates(withMetric(m));
  const auto* d = find(ds, "spec.metrics[0].for");
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find("never fail"), std::string::npos);
}

TEST(ValidateTemplates, LimitsBelowMinusOne) {
  auto m = builtinMetric();
  m.failure_limit = -2;
  m.inconclusive_limit = -3;
  m.consecutive_error_limit = -5;
  const auto ds = validateTemplates(withMetric(m));
  EXPECT_NE(find(ds, "spec.metrics[0].failureLimit"), nullptr);
  EXPECT_NE(find(ds, "spec.metrics[0].inconclusiveLimit"), nullptr);
  EXPECT_NE(find(ds, "spec.metrics[0].consecutiveErrorLimit"), nullptr);
}

TEST(ValidateTemplates, DuplicateMetricName) {
  auto c = withMetric(builtinMetric());
  c.templates[0].metrics.push_back(c.templates[0].metrics[0]);
  EXPECT_NE(find(validateTemplates(c), "spec.metrics[1].name"), nullptr);
}

TEST(ValidateTemplates, JudgeSettings) {
  MetricSpec m;
  m.name = "canary-score";
  m.provider = MetricSpec::Provider::Judge;
  m.success_condition = "result >= 75";
  config::JudgeMetric jm;
  jm.name = "latency";
  jm.query = "latency_p95x";
  m.judge.metrics = {jm};
  m.judge.group_weights = {{"a", 80}, {"b", 40}};
  m.judge.pass_score = 40;
  m.judge.marginal_score = 60;
  const auto ds = validateTemplates(withMetric(m));
  EXPECT_NE(find(ds, "spec.metrics[0].judge.groupWeights"), nullptr);
  EXPECT_NE(find(ds, "spec.metrics[0].judge.thresholds"), nullptr);
  EXPECT_NE(find(ds, "spec.metrics[0].judge.metrics[0].query"), nullptr);
  m.judge.metrics.clear();
  EXPECT_NE(find(validateTemplates(withMetric(m)), "spec.metrics[0].judge.metrics"), nullptr);
}

TEST(ValidateTemplates, EveryProblemAtOnce) {
  auto c = withMetric(builtinMetric());
  auto bad1 = builtinMetric();
  bad1.name = "a";
  bad1.failure_condition = "result >";
  auto bad2 = builtinMetric();
  bad2.name = "b";
  bad2.query = "nope";
  c.templates[0].metrics = {bad1, bad2};
  EXPECT_EQ(validateTemplates(c).size(), 2u);
}

}  // namespace
}  // namespace runway::analysis

namespace runway::analysis {
namespace {

// The runbook configuration in examples/runbook passes the analysis checks, and each of its
// metrics can start a run once ${threshold} is filled in.
TEST(ValidateTemplates, RunbookExampleIsClean) {
  auto loaded = config::loadConfig(std::string(RUNWAY_SOURCE_DIR) + "/examples/runbook");
  ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].format());
  ASSERT_FALSE(loaded.config->templates.empty());
  for (const auto& d : validateTemplates(*loaded.config)) ADD_FAILURE() << d.format();
  for (const auto& t : loaded.config->templates) {
    for (auto m : t.metrics) {
      for (std::string* c : {&m.success_condition, &m.failure_condition}) {
        for (std::size_t at = 0; (at = c->find("${threshold}", at)) != std::string::npos;) {
          c->replace(at, 12, "0.01");
        }
      }
      auto run = MetricRun::create(m, TimePoint{});
      EXPECT_TRUE(run) << t.name << "/" << m.name << ": " << run.error().message;
    }
  }
}

}  // namespace
}  // namespace runway::analysis
