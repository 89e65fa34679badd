// Every default the documentation (docs/configuration.md) promises, as the loader produces it
// from the smallest valid documents.

#include <filesystem>

#include <gtest/gtest.h>

#include "runway/config/loader.hpp"

namespace runway::config {
namespace {

using namespace std::chrono_literals;

const Config& minimal() {
  static const LoadResult result = loadConfigText(R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: [web]}
      image: registry.example.com/web
---
apiVersion: runway/v1
kind: Environment
metadata: {name: dev}
spec: {}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: prod}
spec:
  runtime: {kubernetes: {}}
  strategy: canary
  canary: {steps: [{setWeight: 100}, {pause: }], analysis: {templates: [k8s]}}
  blueGreen: {}
  approvals: {roles: [tech-lead]}
  windows: [{start: "10:00", end: "16:00"}]
  thresholds: {}
  postDeploy: {duration: 1h}
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata: {name: t}
spec:
  metrics:
    - {name: m, query: error_rate, failureCondition: "result > 0.01"}
    - name: p
      provider: prometheus
      query: up
      failureCondition: "result < 1"
      prometheus: {address: "http://127.0.0.1:9090"}
    - name: w
      provider: web
      successCondition: "result == 1"
      web: {url: "http://127.0.0.1:8080/check"}
    - name: j
      provider: judge
      judge: {metrics: [{name: e, query: error_rate}]}
---
# On Kubernetes runway is not in the request path: prod's analysis measures with Prometheus.
apiVersion: runway/v1
kind: AnalysisTemplate
metadata: {name: k8s}
spec:
  metrics:
    - {name: up, provider: prometheus, query: up, failureCondition: "result < 1", prometheus: {address: "http://127.0.0.1:9090"}}
)",
                                                  "defaults.yaml");
  if (!result.ok()) {
    for (const auto& d : result.diagnostics) ADD_FAILURE() << d.format();
  }
  return *result.config;
}

TEST(DefaultsTest, Service) {
  const auto& svc = minimal().applications.at(0).services.at(0);
  EXPECT_EQ(svc.local->working_dir, "");
  // A text config named "defaults.yaml" lives in the current directory.
  EXPECT_EQ(svc.local->base_dir, std::filesystem::current_path().lexically_normal().string());
  EXPECT_EQ(Service{}.image, "");
  EXPECT_EQ(svc.port, 0);
  EXPECT_EQ(svc.instances, 1);
  EXPECT_TRUE(svc.env.empty());
  EXPECT_EQ(svc.health.path, "/health");
  EXPECT_EQ(svc.health.initial_delay, 0s);
  EXPECT_EQ(svc.health.period, 1s);
  EXPECT_EQ(svc.health.timeout, 1s);
  EXPECT_EQ(svc.health.failure_threshold, 3);
  EXPECT_EQ(svc.resources.cpu, 0.0);
  EXPECT_EQ(svc.resources.memory_mb, 0);
  EXPECT_EQ(svc.location.line, 6);
  EXPECT_EQ(svc.location.column, 7);
}

TEST(DefaultsTest, Environment) {
  const auto& env = *minimal().findEnvironment("dev");
  EXPECT_EQ(env.application, "");
  EXPECT_EQ(minimal().applicationFor(env)->name, "shop");
  EXPECT_EQ(env.runtime.kind, RuntimeSpec::Kind::Local);
  EXPECT_EQ(env.runtime.local.bind_address, "127.0.0.1");
  EXPECT_TRUE(env.runtime.local.ports.empty());
  EXPECT_EQ(env.promotes_from, "");
  EXPECT_EQ(env.strategy, StrategyKind::Rolling);
  EXPECT_EQ(env.rolling.max_surge.value, 25);
  EXPECT_TRUE(env.rolling.max_surge.percent);
  EXPECT_EQ(env.rolling.max_unavailable.value, 0);
  EXPECT_FALSE(env.rolling.max_unavailable.percent);
  EXPECT_TRUE(env.approvals.roles.empty());
  EXPECT_EQ(env.force_deploy, ForceDeployPolicy::Allowed);
  EXPECT_TRUE(env.promote_full_allowed);
  EXPECT_TRUE(env.windows.empty());
  EXPECT_TRUE(env.freezes.empty());
  EXPECT_FALSE(env.thresholds.error_rate.has_value());
  EXPECT_FALSE(env.thresholds.latency_p95.has_value());
  EXPECT_FALSE(env.thresholds.availability.has_value());
  EXPECT_EQ(env.progress_deadline, 10min);
  EXPECT_EQ(env.progress_deadline_action, ProgressDeadlineAction::Abort);
  EXPECT_EQ(env.rollback_window, 0);
  EXPECT_EQ(env.concurrency, ConcurrencyPolicy::Reject);
  EXPECT_EQ(env.post_deploy.duration, 0s);
  EXPECT_FALSE(env.incident_on_rollback);
}

TEST(DefaultsTest, StrategiesAndPolicies) {
  const auto& env = *minimal().findEnvironment("prod");
  EXPECT_EQ(env.runtime.kind, RuntimeSpec::Kind::Kubernetes);
  EXPECT_EQ(env.runtime.kubernetes.context, "");
  EXPECT_EQ(env.runtime.kubernetes.namespace_name, "prod");  // the environment's name
  const auto& bg = env.blue_green;
  EXPECT_TRUE(bg.auto_promotion);
  EXPECT_EQ(bg.auto_promotion_after, 0s);
  EXPECT_FALSE(bg.pre_promotion_analysis.has_value());
  EXPECT_FALSE(bg.pre_promotion_checks.has_value());
  EXPECT_EQ(bg.verification, 15min);
  EXPECT_FALSE(bg.post_promotion_analysis.has_value());
  EXPECT_FALSE(bg.post_promotion_checks.has_value());
  EXPECT_EQ(bg.scale_down_delay, 30s);
  const auto& canary = env.canary;
  ASSERT_EQ(canary.steps.size(), 2U);
  EXPECT_EQ(canary.steps[1].kind, CanaryStep::Kind::Pause);
  EXPECT_FALSE(canary.steps[1].pause.has_value());  // "pause:" = until promoted
  EXPECT_EQ(canary.abort_scale_down_delay, 30s);
  EXPECT_EQ(canary.scale_down_delay, 30s);
  EXPECT_FALSE(canary.steps_on_initial_deploy);  // initialDeploy: skipSteps
  ASSERT_TRUE(canary.analysis.has_value());
  EXPECT_EQ(canary.analysis->starting_step, 0);
  EXPECT_EQ(canary.analysis->analysis.interval, 0s);
  EXPECT_TRUE(canary.analysis->analysis.args.empty());
  EXPECT_TRUE(env.approvals.prevent_self_approval);
  EXPECT_FALSE(env.approvals.timeout.has_value());
  const auto& window = env.windows.at(0);
  EXPECT_TRUE(window.days.empty());
  EXPECT_EQ(window.timezone, "UTC");
  EXPECT_EQ(window.utc_offset_minutes, 0);
  EXPECT_EQ(env.post_deploy.duration, 1h);
  EXPECT_TRUE(env.post_deploy.analysis.templates.empty());
}

TEST(DefaultsTest, Metrics) {
  const auto& tpl = *minimal().findTemplate("t");
  const auto& m = tpl.metrics.at(0);
  EXPECT_EQ(m.provider, MetricSpec::Provider::Builtin);
  EXPECT_EQ(m.window, 1min);
  EXPECT_EQ(m.success_condition, "");
  EXPECT_EQ(m.interval, 0s);
  EXPECT_EQ(m.count, 0);
  EXPECT_EQ(m.initial_delay, 0s);
  EXPECT_EQ(m.for_duration, 0s);
  EXPECT_EQ(m.failure_limit, 0);
  EXPECT_EQ(m.inconclusive_limit, 0);
  EXPECT_EQ(m.consecutive_error_limit, 4);
  EXPECT_EQ(m.no_data, NoDataPolicy::Inconclusive);
  EXPECT_FALSE(m.dry_run);

  const auto& p = tpl.metrics.at(1);
  EXPECT_EQ(p.prometheus.query, "up");
  EXPECT_EQ(p.prometheus.timeout, 10s);
  EXPECT_EQ(p.prometheus.bearer_token_env, "");
  EXPECT_FALSE(p.prometheus.insecure_skip_verify);

  const auto& w = tpl.metrics.at(2);
  EXPECT_EQ(w.web.json_pointer, "");
  EXPECT_TRUE(w.web.headers.empty());
  EXPECT_EQ(w.web.timeout, 10s);

  const auto& j = tpl.metrics.at(3).judge;
  EXPECT_EQ(j.pass_score, 75);
  EXPECT_EQ(j.marginal_score, 50);
  EXPECT_EQ(j.prometheus_address, "");
  EXPECT_EQ(j.lookback, 10min);
  EXPECT_EQ(j.step, 10s);
  EXPECT_TRUE(j.group_weights.empty());
  const auto& jm = j.metrics.at(0);
  EXPECT_EQ(jm.direction, JudgeMetric::Direction::Either);
  EXPECT_EQ(jm.nan_strategy, JudgeMetric::NanStrategy::Remove);
  EXPECT_FALSE(jm.remove_outliers);
  EXPECT_EQ(jm.outlier_factor, 3.0);
  EXPECT_FALSE(jm.critical);
  EXPECT_FALSE(jm.must_have_data);
  EXPECT_EQ(jm.effect_size, JudgeMetric::EffectSize::MeanRatio);
  EXPECT_EQ(jm.allowed_increase, 1.0);
  EXPECT_EQ(jm.critical_decrease, 1.0);
}

TEST(DefaultsTest, ClesEffectSizeDefaultsToOneHalf) {
  const auto result = loadConfigText(R"(apiVersion: runway/v1
kind: AnalysisTemplate
metadata: {name: t}
spec:
  metrics:
    - name: j
      provider: judge
      judge:
        metrics:
          - {name: e, query: error_rate, effectSize: {measure: cles, criticalIncrease: 0.9}}
)",
                                     "t.yaml");
  ASSERT_TRUE(result.ok());
  const auto& m = result.config->templates[0].metrics[0].judge.metrics[0];
  EXPECT_EQ(m.effect_size, JudgeMetric::EffectSize::Cles);
  EXPECT_EQ(m.allowed_increase, 0.5);
  EXPECT_EQ(m.allowed_decrease, 0.5);
  EXPECT_EQ(m.critical_increase, 0.9);
  EXPECT_EQ(m.critical_decrease, 0.5);
}

TEST(DefaultsTest, EveryFieldSetIsRead) {
  const auto result = loadConfigText(R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: [web, "--port", "${PORT}"], workingDir: bin}
      image: registry.example.com/web
      port: 8080
      instances: 3
      env: {MODE: "${ENVIRONMENT}", EMPTY: }
      health: {path: /ready, initialDelay: 2s, period: 5s, timeout: 250ms, failureThreshold: 5}
      resources: {cpu: 500m, memory: 1Gi}
  smoke:
    critical:
      - {name: home, path: /}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: prod}
spec:
  application: shop
  runtime: {local: {bindAddress: 0.0.0.0, ports: {web: 9000}}}
  strategy: blue-green
  rolling: {maxSurge: 2, maxUnavailable: "50%"}
  blueGreen:
    autoPromotion: false
    autoPromotionAfter: 5m
    prePromotionAnalysis: {templates: [t], args: {service: web}, interval: 10s, thresholds: {m: 0.02}}
    prePromotionChecks: {smoke: critical, health: basic}
    verification: 20m
    scaleDownDelay: 1h
  approvals: {roles: [a, b], preventSelfApproval: false, timeout: 4h}
  forceDeploy: forbidden
  promoteFull: forbidden
  windows: [{days: [Mon, Sun], start: "22:00", end: "02:00", timezone: "-05:30"}]
  freezes: [{start: "2026-12-20T08:00:00.250+02:00", end: "2027-01-02T00:00:00Z", reason: holidays}]
  thresholds: {errorRate: 0.01, latencyP95: 1500ms, availability: 0.995}
  progressDeadline: 20m
  progressDeadlineAction: degrade
  rollbackWindow: 5
  concurrency: queue
  postDeploy: {duration: 24h, analysis: {templates: [t], thresholds: {m: 0.01}}}
  incidentOnRollback: true
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata: {name: t}
spec:
  metrics:
    - name: m
      query: latency_p99
      window: 5m
      successCondition: "result < 1"
      failureCondition: "result > ${threshold}"
      interval: 30s
      count: 10
      initialDelay: 1m
      for: 2m
      failureLimit: 1
      inconclusiveLimit: 2
      consecutiveErrorLimit: 3
      noData: fail
      dryRun: true
)",
                                     "full.yaml");
  ASSERT_TRUE(result.ok()) << (result.diagnostics.empty() ? "" : result.diagnostics[0].format());
  const auto& svc = result.config->applications[0].services[0];
  EXPECT_EQ(svc.local->working_dir, "bin");
  EXPECT_EQ(svc.port, 8080);
  EXPECT_EQ(svc.instances, 3);
  EXPECT_EQ(svc.env.at("MODE"), "${ENVIRONMENT}");
  EXPECT_EQ(svc.env.at("EMPTY"), "");
  EXPECT_EQ(svc.health.path, "/ready");
  EXPECT_EQ(svc.health.timeout, 250ms);
  EXPECT_EQ(svc.health.failure_threshold, 5);
  EXPECT_EQ(svc.resources.cpu, 0.5);
  EXPECT_EQ(svc.resources.memory_mb, 1024);
  const auto& env = result.config->environments[0];
  EXPECT_EQ(env.runtime.local.bind_address, "0.0.0.0");
  EXPECT_EQ(env.runtime.local.ports.at("web"), 9000);
  EXPECT_EQ(env.rolling.max_surge.value, 2);
  EXPECT_TRUE(env.rolling.max_unavailable.percent);
  EXPECT_FALSE(env.blue_green.auto_promotion);
  EXPECT_EQ(env.blue_green.auto_promotion_after, 5min);
  EXPECT_EQ(env.blue_green.pre_promotion_analysis->thresholds.at("m"), "0.02");
  EXPECT_EQ(env.blue_green.pre_promotion_analysis->args.at("service"), "web");
  EXPECT_EQ(env.blue_green.pre_promotion_checks->smoke, "critical");
  EXPECT_EQ(env.blue_green.pre_promotion_checks->health, "basic");
  EXPECT_EQ(env.blue_green.verification, 20min);
  EXPECT_FALSE(env.approvals.prevent_self_approval);
  EXPECT_EQ(env.approvals.timeout, Duration(4h));
  EXPECT_FALSE(env.promote_full_allowed);
  EXPECT_EQ(env.windows[0].start_minute, 22 * 60);
  EXPECT_EQ(env.windows[0].end_minute, 2 * 60);
  EXPECT_EQ(env.windows[0].utc_offset_minutes, -330);
  EXPECT_EQ(toUnixMillis(env.freezes[0].start), 1'797'746'400'250);  // 2026-12-20T06:00:00.250Z
  EXPECT_EQ(env.freezes[0].reason, "holidays");
  EXPECT_EQ(env.thresholds.latency_p95, Duration(1500ms));
  EXPECT_EQ(env.progress_deadline_action, ProgressDeadlineAction::Degrade);
  EXPECT_EQ(env.rollback_window, 5);
  EXPECT_EQ(env.concurrency, ConcurrencyPolicy::Queue);
  EXPECT_TRUE(env.incident_on_rollback);
  const auto& m = result.config->templates[0].metrics[0];
  EXPECT_EQ(m.window, 5min);
  EXPECT_EQ(m.count, 10);
  EXPECT_EQ(m.initial_delay, 1min);
  EXPECT_EQ(m.for_duration, 2min);
  EXPECT_EQ(m.failure_limit, 1);
  EXPECT_EQ(m.inconclusive_limit, 2);
  EXPECT_EQ(m.consecutive_error_limit, 3);
  EXPECT_EQ(m.no_data, NoDataPolicy::Fail);
  EXPECT_TRUE(m.dry_run);
}

}  // namespace
}  // namespace runway::config
