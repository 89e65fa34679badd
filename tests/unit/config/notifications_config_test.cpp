// NotificationChannel documents and an environment's notification routes: every field read,
// each mistake reported at its file:line:column with the field's path.

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/config/loader.hpp"
#include "text.hpp"

namespace runway::config {
namespace {

using ::testing::ElementsAre;
using test::messages;

// Lines 1-6: one application.
const std::string kShop = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services: [{name: web, local: {command: [web]}}]
---
)";

const std::string kChannels = R"(apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: incidents}
spec:
  slack: {webhookUrlEnv: SLACK_WEBHOOK_URL}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: oncall}
spec:
  pagerduty: {routingKeyEnv: PD_KEY, url: "http://127.0.0.1:9/", source: shop-prod, changeEvents: false}
  timeout: 3s
  retry: {initialBackoff: 200ms, maxBackoff: 10s, maxAttempts: 4}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: audit}
spec:
  webhook: {url: "https://hooks.example.com/runway", secretEnv: HOOK_KEY}
---
)";

TEST(NotificationsConfigTest, EveryFieldIsRead) {
  const auto result = loadConfigText(kShop + kChannels + R"(apiVersion: runway/v1
kind: Environment
metadata: {name: production}
spec:
  notifications:
    - {channel: incidents}
    - {channel: oncall, events: [deployment.rolled_back, deployment.failed, incident.opened]}
)",
                                     "t.yaml");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& cfg = *result.config;
  ASSERT_EQ(cfg.channels.size(), 3u);
  const auto* slack = cfg.findChannel("incidents");
  ASSERT_NE(slack, nullptr);
  EXPECT_EQ(slack->kind, NotificationChannel::Kind::Slack);
  EXPECT_EQ(slack->secret_env, "SLACK_WEBHOOK_URL");
  EXPECT_EQ(slack->timeout, Duration{10'000});
  EXPECT_EQ(slack->retry.max_attempts, 10);
  const auto* pd = cfg.findChannel("oncall");
  ASSERT_NE(pd, nullptr);
  EXPECT_EQ(pd->kind, NotificationChannel::Kind::PagerDuty);
  EXPECT_EQ(pd->secret_env, "PD_KEY");
  EXPECT_EQ(pd->url, "http://127.0.0.1:9");  // trailing slash dropped
  EXPECT_EQ(pd->source, "shop-prod");
  EXPECT_FALSE(pd->change_events);
  EXPECT_EQ(pd->timeout, Duration{3000});
  EXPECT_EQ(pd->retry.initial_backoff, Duration{200});
  EXPECT_EQ(pd->retry.max_backoff, Duration{10'000});
  EXPECT_EQ(pd->retry.max_attempts, 4);
  const auto* hook = cfg.findChannel("audit");
  ASSERT_NE(hook, nullptr);
  EXPECT_EQ(hook->kind, NotificationChannel::Kind::Webhook);
  EXPECT_EQ(hook->url, "https://hooks.example.com/runway");
  EXPECT_EQ(hook->secret_env, "HOOK_KEY");
  const auto& routes = cfg.environments.at(0).notifications;
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].channel, "incidents");
  EXPECT_TRUE(routes[0].events.empty());
  EXPECT_THAT(routes[1].events,
              ElementsAre("deployment.rolled_back", "deployment.failed", "incident.opened"));
}

TEST(NotificationsConfigTest, PagerDutyDefaultsToTheEventsApi) {
  const auto result = loadConfigText(kShop + R"(apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: oncall}
spec:
  pagerduty: {routingKeyEnv: PD_KEY}
)",
                                     "t.yaml");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->channels.at(0).url, "https://events.pagerduty.com");
  EXPECT_EQ(result.config->channels.at(0).source, "runway");
  EXPECT_TRUE(result.config->channels.at(0).change_events);
}

TEST(NotificationsConfigTest, EachMistakeIsReportedWhereItIs) {
  const auto result = loadConfigText(kShop + R"(apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: two}
spec:
  slack: {webhookUrlEnv: A}
  webhook: {url: "http://x", secretEnv: B}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: literal}
spec:
  slack: {webhookUrlEnv: "https://hooks.slack.com/services/T0/B0/xyz"}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: badurl}
spec:
  webhook: {url: "ftp://x", secretEnv: K}
  retry: {initialBackoff: 10s, maxBackoff: 1s}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: literal}
spec:
  pagerduty: {routingKeyEnv: K}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: production}
spec:
  notifications:
    - {channel: incident}
    - {channel: badurl, events: [deployment.rolledback]}
)",
                                     "t.yaml");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(
      messages(result),
      ElementsAre(
          "t.yaml:11:3: spec: set exactly one of slack, pagerduty or webhook",
          "t.yaml:18:26: spec.slack.webhookUrlEnv: expected the name of an environment variable that "
          "holds the secret, got \"https://hooks.slack.com/services/T0/B0/xyz\" (secrets are never "
          "written in the configuration)",
          "t.yaml:24:18: spec.webhook.url: expected an http:// or https:// URL, got \"ftp://x\"",
          "t.yaml:25:10: spec.retry.maxBackoff: maxBackoff must not be shorter than initialBackoff",
          "t.yaml:29:18: metadata.name: duplicate NotificationChannel \"literal\" (first defined at "
          "t.yaml:16:18)",
          "t.yaml:38:7: spec.notifications[0].channel: unknown NotificationChannel \"incident\" (defined: "
          "two, literal, badurl)",
          "t.yaml:39:34: spec.notifications[1].events[0]: unknown event \"deployment.rolledback\" (did "
          "you mean \"deployment.rolled_back\"?)"));
}

TEST(NotificationsConfigTest, IncidentSeveritiesAreReadAndChecked) {
  const auto ok = loadConfigText(kShop + kChannels + R"(apiVersion: runway/v1
kind: IncidentSeverity
metadata: {name: sev-1}
spec: {level: 1, description: outage, responseTime: 15m, updateEvery: 15m, escalation: [oncall, incidents]}
)",
                                 "t.yaml");
  ASSERT_TRUE(ok.ok()) << ::testing::PrintToString(messages(ok));
  const auto* sev = ok.config->findSeverity(1);
  ASSERT_NE(sev, nullptr);
  EXPECT_EQ(sev->response_time, Duration{900'000});
  EXPECT_EQ(sev->update_every, Duration{900'000});
  EXPECT_THAT(sev->escalation, ElementsAre("oncall", "incidents"));
  const auto bad = loadConfigText(kShop + kChannels + R"(apiVersion: runway/v1
kind: IncidentSeverity
metadata: {name: sev-1}
spec: {level: 1, escalation: [oncal]}
---
apiVersion: runway/v1
kind: IncidentSeverity
metadata: {name: sev-one}
spec: {level: 1}
)",
                                  "t.yaml");
  EXPECT_THAT(messages(bad),
              ElementsAre("t.yaml:29:18: spec.escalation[0]: unknown NotificationChannel \"oncal\" (did you mean \"oncall\"?)",
                          "t.yaml:34:18: spec.level: severity level 1 is already defined at t.yaml:29:18"));
}

TEST(NotificationsConfigTest, IncidentTemplatePlaceholdersAreCheckedAtLoad) {
  const auto bad = loadConfigText(kShop + R"(apiVersion: runway/v1
kind: IncidentTemplate
metadata: {name: initial-alert}
spec:
  text: "INCIDENT ALERT [{{severity}}] {{titel}} next {{next_update"
---
apiVersion: runway/v1
kind: IncidentTemplate
metadata: {name: farewell}
spec: {text: "bye"}
)",
                                  "t.yaml");
  EXPECT_THAT(messages(bad),
              ElementsAre("t.yaml:11:9: spec.text: unknown placeholder {{titel}} (did you mean {{title}}?)",
                          "t.yaml:11:9: spec.text: \"{{\" without a closing \"}}\"",
                          "t.yaml:15:18: metadata.name: unknown value \"farewell\" (expected one of: initial-alert, "
                          "status-update, resolution)"));
  const auto ok = loadConfigText(kShop + R"(apiVersion: runway/v1
kind: IncidentTemplate
metadata: {name: resolution}
spec: {text: "INCIDENT RESOLVED [{{severity}}] after {{ duration }}: {{message}}"}
)",
                                 "t.yaml");
  ASSERT_TRUE(ok.ok()) << ::testing::PrintToString(messages(ok));
  EXPECT_NE(ok.config->findIncidentTemplate("resolution"), nullptr);
}

}  // namespace
}  // namespace runway::config
