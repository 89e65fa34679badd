// AlertRules: the rules file (and promtool's verdict on it), Alertmanager's webhook format, and
// the decision per alert: rollback once per firing, not again while the rule's cooldown runs
// (flapping), notify for the other actions and for resolutions, ignore duplicates.

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/alerts/alertmanager.hpp"
#include "runway/alerts/rules_file.hpp"
#include "runway/config/loader.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace runway::alerts {
namespace {

using ::testing::HasSubstr;

const char* kRules = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services: [{name: web, local: {command: [web]}}]
---
apiVersion: runway/v1
kind: Environment
metadata: {name: production}
spec: {}
---
apiVersion: runway/v1
kind: AlertRule
metadata: {name: service-down}
spec:
  environment: production
  expr: 'up{namespace="production"} == 0'
  for: 30s
  severity: critical
  action: immediate_incident_response
---
apiVersion: runway/v1
kind: AlertRule
metadata: {name: high-error-rate}
spec:
  environment: production
  builtin: {metric: error_rate, above: 0.01}
  for: 2m
  severity: critical
  action: automatic_rollback
  cooldown: 10m
---
apiVersion: runway/v1
kind: AlertRule
metadata: {name: high-latency}
spec:
  alert: HighLatency
  environment: production
  builtin: {metric: latency_p95, above: 2, window: 1m}
  for: 5m
  severity: critical
  action: investigate_and_mitigate
  summary: "P95 above 2 s: \"quoted\", a backslash \\ and a newline\nhere"
---
apiVersion: runway/v1
kind: AlertRule
metadata: {name: low-availability}
spec:
  environment: production
  builtin: {metric: availability, below: 0.99}
  for: 1m
  action: automatic_rollback
)";

config::Config rules() {
  auto r = config::loadConfigText(kRules, "t.yaml");
  EXPECT_TRUE(r.ok());
  return *r.config;
}

TEST(RulesFileTest, BuiltinMetricsBecomeRouterQueries) {
  const auto cfg = rules();
  ASSERT_EQ(cfg.alert_rules.size(), 4u);
  EXPECT_EQ(cfg.alert_rules[1].alert, "HighErrorRate");
  EXPECT_EQ(ruleExpr(cfg.alert_rules[0]), "up{namespace=\"production\"} == 0");
  EXPECT_EQ(ruleExpr(cfg.alert_rules[1]),
            "(sum(rate(runway_router_requests_total{listener=~\".+[.]production\",code=~\"5..|0\"}[5m])) / "
            "sum(rate(runway_router_requests_total{listener=~\".+[.]production\"}[5m]))) > 0.01");
  EXPECT_EQ(ruleExpr(cfg.alert_rules[2]),
            "histogram_quantile(0.95, sum by (le) (rate(runway_router_request_duration_seconds_bucket"
            "{listener=~\".+[.]production\"}[1m]))) > 2");
  EXPECT_THAT(ruleExpr(cfg.alert_rules[3]), ::testing::StartsWith("(1 - sum(rate("));
  EXPECT_THAT(ruleExpr(cfg.alert_rules[3]), ::testing::EndsWith(" < 0.99"));
}

// `promtool check rules` on `text`; returns its output, and fails the test unless it accepts.
std::string promtoolCheck(const std::string& text) {
  test::TempDir dir("runway-rules");
  auto path = dir.write("rules.yml", text);
  if (!path) {
    ADD_FAILURE() << path.error().message;
    return "";
  }
  test::SubprocessOptions o;
  o.argv = {"/usr/bin/promtool", "check", "rules", path->string()};
  o.stderr_to = test::Output::pipe();
  auto p = test::Subprocess::start(std::move(o));
  if (!p) {
    ADD_FAILURE() << p.error().message;
    return "";
  }
  auto out = p->readToEnd(test::deadlineIn(std::chrono::seconds(60)));
  auto status = p->waitExit(test::deadlineIn(std::chrono::seconds(60)));
  if (!out || !status || !status->exited) {
    ADD_FAILURE() << "promtool did not finish";
    return "";
  }
  EXPECT_EQ(status->code, 0) << out->out << out->err << text;
  return out->out + out->err;
}

TEST(RulesFileTest, PromtoolAcceptsTheRenderedFile) {
  const auto text = renderRulesFile(rules());
  EXPECT_THAT(text, HasSubstr("          runway_action: \"automatic_rollback\"\n"));
  EXPECT_THAT(text, HasSubstr("        for: 2m\n"));
  EXPECT_THAT(promtoolCheck(text), HasSubstr("SUCCESS: 4 rules found"));
}

// The runbook's six alerting thresholds (examples/runbook/oncall.yaml, docs/oncall.md).
TEST(RulesFileTest, TheRunbooksAlertRulesRenderAndPromtoolAcceptsThem) {
  auto loaded = config::loadConfig(std::string(RUNWAY_SOURCE_DIR) + "/examples/runbook");
  ASSERT_TRUE(loaded.ok());
  std::vector<std::string> alerts;
  for (const auto& r : loaded.config->alert_rules) {
    alerts.push_back(r.alert + " " + std::string(config::toString(r.action)));
  }
  EXPECT_THAT(alerts, ::testing::ElementsAre("ServiceDown immediate_incident_response",
                                             "HighErrorRate automatic_rollback",
                                             "HighLatency investigate_and_mitigate", "ElevatedErrorRate investigate",
                                             "HighCPUUsage scale_or_optimize", "HighDBLatency investigate_database"));
  EXPECT_THAT(promtoolCheck(renderRulesFile(*loaded.config)), HasSubstr("SUCCESS: 6 rules found"));
}

TEST(RulesFileTest, NoRulesIsAnEmptyGroup) {
  config::Config empty;
  EXPECT_THAT(renderRulesFile(empty), HasSubstr("rules: []\n"));
}

Alert firing(std::string name, std::string starts = "2026-12-07T10:00:00Z", std::string fingerprint = "fp1") {
  Alert a;
  a.status = "firing";
  a.labels = {{"alertname", std::move(name)}};
  a.starts_at = std::move(starts);
  a.fingerprint = std::move(fingerprint);
  return a;
}

TEST(DecideTest, AFiringRollbackAlertRollsBackOncePerFiringAndNotAgainWithinTheCooldown) {
  const auto cfg = rules();
  const TimePoint now = fromUnixMillis(1'765'000'000'000);
  AlertHistory h;
  auto d = decide(cfg, firing("HighErrorRate"), h, now);
  EXPECT_EQ(d.kind, AlertDecision::Kind::Rollback);
  EXPECT_EQ(d.environment, "production");
  EXPECT_THAT(d.reason, HasSubstr("alert HighErrorRate firing"));
  // The same firing delivered again (Alertmanager repeats notifications).
  h.episodes_acted_on.push_back(firing("HighErrorRate").episode());
  h.last_rollback = now;
  EXPECT_EQ(decide(cfg, firing("HighErrorRate"), h, now + Duration{1000}).kind, AlertDecision::Kind::Ignore);
  // It resolved and fired again five minutes later (flapping): told, not rolled back again.
  auto again = decide(cfg, firing("HighErrorRate", "2026-12-07T10:05:00Z"), h, now + Duration{300'000});
  EXPECT_EQ(again.kind, AlertDecision::Kind::Notify);
  EXPECT_THAT(again.why, HasSubstr("within its cooldown"));
  // After the cooldown a new firing rolls back again.
  EXPECT_EQ(decide(cfg, firing("HighErrorRate", "2026-12-07T10:20:00Z"), h, now + Duration{600'000}).kind,
            AlertDecision::Kind::Rollback);
}

TEST(DecideTest, OtherActionsNotifyResolutionsAreRecordedOnceUnknownAlertsAreIgnored) {
  const auto cfg = rules();
  const TimePoint now = fromUnixMillis(0);
  auto d = decide(cfg, firing("ServiceDown"), {}, now);
  EXPECT_EQ(d.kind, AlertDecision::Kind::Notify);
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->action, config::AlertAction::ImmediateIncidentResponse);
  // The runway_rule label wins over the alert name.
  Alert labelled = firing("Renamed");
  labelled.labels["runway_rule"] = "high-latency";
  EXPECT_EQ(decide(cfg, labelled, {}, now).rule->name, "high-latency");
  Alert resolved = firing("HighErrorRate");
  resolved.status = "resolved";
  EXPECT_EQ(decide(cfg, resolved, {}, now).kind, AlertDecision::Kind::Notify);
  AlertHistory h;
  h.episodes_resolved.push_back(resolved.episode());
  EXPECT_EQ(decide(cfg, resolved, h, now).kind, AlertDecision::Kind::Ignore);
  auto unknown = decide(cfg, firing("DiskFull"), {}, now);
  EXPECT_EQ(unknown.kind, AlertDecision::Kind::Ignore);
  EXPECT_EQ(unknown.why, "no AlertRule matches alert \"DiskFull\"");
}

TEST(AlertmanagerWebhookTest, ReadsVersionFourAndRejectsOtherShapes) {
  auto w = parseAlertmanagerWebhook(R"({"version":"4","groupKey":"{}:{alertname=\"HighErrorRate\"}",
    "truncatedAlerts":0,"status":"firing","receiver":"runway","groupLabels":{"alertname":"HighErrorRate"},
    "commonLabels":{},"commonAnnotations":{},"externalURL":"http://am:9093",
    "alerts":[{"status":"firing","labels":{"alertname":"HighErrorRate","runway_rule":"high-error-rate"},
      "annotations":{"summary":"5xx above 1%"},"startsAt":"2026-12-07T10:00:00Z",
      "endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom/graph","fingerprint":"c0ffee"}]})");
  ASSERT_TRUE(w.has_value()) << w.error().message;
  ASSERT_EQ(w->alerts.size(), 1u);
  EXPECT_EQ(w->alerts[0].label("runway_rule"), "high-error-rate");
  EXPECT_EQ(w->alerts[0].annotations.at("summary"), "5xx above 1%");
  EXPECT_EQ(w->alerts[0].episode(), "c0ffee@2026-12-07T10:00:00Z");
  EXPECT_EQ(parseAlertmanagerWebhook("[]").error().message, "body is not a JSON object");
  EXPECT_EQ(parseAlertmanagerWebhook(R"({"version":"3","status":"firing","alerts":[]})").error().message,
            "webhook version \"3\" is not supported (4 is)");
  // Schemathesis found a group status other than firing/resolved accepted (with no alerts, 200).
  EXPECT_EQ(parseAlertmanagerWebhook(R"({"version":"4","status":"AAA","alerts":[]})").error().message,
            "status must be firing or resolved, got \"AAA\"");
  EXPECT_EQ(parseAlertmanagerWebhook(R"({"version":"4","status":"firing","alerts":[{"status":"odd"}]})")
                .error()
                .message,
            "alerts[0].status must be firing or resolved, got \"odd\"");
  EXPECT_EQ(parseAlertmanagerWebhook(R"({"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":1}}]})")
                .error()
                .message,
            "alerts[0].labels.a must be a string");
}

TEST(AlertRuleConfigTest, MistakesAreReportedWhereTheyAre) {
  auto r = config::loadConfigText(R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services: [{name: web, local: {command: [web]}}]
---
apiVersion: runway/v1
kind: AlertRule
metadata: {name: both}
spec:
  environment: prod
  expr: "up == 0"
  builtin: {metric: error_rte, above: 1, below: 2}
  action: rollback
)",
                                  "t.yaml");
  ASSERT_FALSE(r.ok());
  std::vector<std::string> got;
  for (const auto& d : r.diagnostics) got.push_back(d.format());
  EXPECT_THAT(got, ::testing::ElementsAre(
                       "t.yaml:11:3: spec: set exactly one of expr (PromQL) or builtin (a metric runway measures)",
                       "t.yaml:11:16: spec.environment: unknown Environment \"prod\"",
                       "t.yaml:13:12: spec.builtin: set exactly one of above or below",
                       "t.yaml:13:21: spec.builtin.metric: unknown value \"error_rte\" (did you mean \"error_rate\"?; "
                       "expected one of: error_rate, latency_p95, availability, request_rate)",
                       "t.yaml:14:11: spec.action: unknown value \"rollback\" (expected one of: automatic_rollback, "
                       "immediate_incident_response, investigate_and_mitigate, investigate, scale_or_optimize, "
                       "investigate_database)"));
}

}  // namespace
}  // namespace runway::alerts
