// Alertmanager → runway through the real server: an automatic_rollback alert rolls the
// environment back once; the same firing delivered again and a new firing within the rule's
// cooldown (flapping) do not roll back again; the resolution is recorded; PagerDuty gets a
// trigger and a resolve for the alert, every payload valid; a viewer token may not post alerts.

#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_receivers.hpp"
#include "runway/notify/render.hpp"
#include "integration/serve/serve_fixture.hpp"

namespace runway::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::FakeReceiver;

std::string config(const std::string& pagerduty_url) {
  return fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata: {{name: shop}}
spec:
  services:
    - name: web
      local:
        command: ["runway-demo-app", "--port", "${{PORT}}"]
      env: {{VERSION: "${{VERSION}}"}}
      health: {{path: /health, period: 100ms, failureThreshold: 3}}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {{name: pager}}
spec:
  pagerduty: {{routingKeyEnv: PD_KEY, url: "{}"}}
  retry: {{initialBackoff: 100ms, maxBackoff: 1s}}
---
apiVersion: runway/v1
kind: Environment
metadata: {{name: staging}}
spec:
  runtime: {{local: {{}}}}
  strategy: rolling
  progressDeadline: 1m
  notifications:
    - {{channel: pager, events: [alert.firing, alert.resolved, deployment.rolled_back]}}
---
apiVersion: runway/v1
kind: AlertRule
metadata: {{name: high-error-rate}}
spec:
  environment: staging
  builtin: {{metric: error_rate, above: 0.01}}
  for: 2m
  severity: critical
  action: automatic_rollback
  cooldown: 30m
)",
                     pagerduty_url);
}

std::string webhook(const std::string& status, const std::string& starts_at) {
  return fmt::format(R"({{"version":"4","groupKey":"{{}}:{{alertname=\"HighErrorRate\"}}","truncatedAlerts":0,
    "status":"{0}","receiver":"runway","groupLabels":{{"alertname":"HighErrorRate"}},
    "commonLabels":{{"alertname":"HighErrorRate","severity":"critical"}},"commonAnnotations":{{}},
    "externalURL":"http://127.0.0.1:9093",
    "alerts":[{{"status":"{0}","labels":{{"alertname":"HighErrorRate","severity":"critical",
      "runway_rule":"high-error-rate","runway_action":"automatic_rollback","runway_environment":"staging"}},
      "annotations":{{"summary":"5xx above 1% in staging"}},"startsAt":"{1}",
      "endsAt":"{2}","generatorURL":"http://127.0.0.1:9090/graph","fingerprint":"5c0ffee5"}}]}})",
                     status, starts_at, status == "firing" ? "0001-01-01T00:00:00Z" : "2026-12-07T11:00:00Z");
}

class AlertmanagerTest : public ::testing::Test {
 protected:
  json::object post(const std::string& body, std::optional<std::string> token = std::nullopt, long expect = 200) {
    auto r = server_->call("POST", "/api/v1/alerts/alertmanager", body, token);
    EXPECT_TRUE(r.has_value());
    if (!r) return {};
    EXPECT_EQ(r->status, expect) << r->body;
    boost::system::error_code ec;
    auto v = json::parse(r->body, ec);
    return !ec && v.is_object() ? v.as_object() : json::object{};
  }

  std::size_t deployments() {
    auto v = server_->getJson("/api/v1/environments/staging/history?limit=100");
    return v.is_object() ? v.at("deployments").as_array().size() : 0;
  }

  TempDir dir_{"runway-alerts"};
  std::unique_ptr<ServeFixture> server_ = std::make_unique<ServeFixture>(dir_.path());
};

TEST_F(AlertmanagerTest, AFiringAlertRollsBackOnceAndItsResolutionIsRecorded) {
  FakeReceiver pagerduty(FakeReceiver::Kind::PagerDuty);
  ASSERT_TRUE(pagerduty.start());
  server_->writeConfig(config(pagerduty.url()));
  server_->setEnv({{"PD_KEY", "0123456789abcdef0123456789abcdef"}});
  ASSERT_TRUE(server_->start());
  for (const char* v : {"v1", "v2"}) {
    const auto id = server_->deploy("staging", v);
    ASSERT_FALSE(id.empty());
    ASSERT_EQ(server_->waitTerminal(id, 60s), "Succeeded");
  }
  ASSERT_EQ(deployments(), 2u);

  auto first = post(webhook("firing", "2026-12-07T10:00:00Z"));
  ASSERT_EQ(first.at("alerts").as_array().size(), 1u);
  const auto& outcome = first.at("alerts").as_array()[0].as_object();
  EXPECT_EQ(outcome.at("taken").as_string(), "rollback");
  EXPECT_EQ(outcome.at("rule").as_string(), "high-error-rate");
  const std::string rollback(outcome.at("deployment").as_string());
  ASSERT_EQ(server_->waitTerminal(rollback, 60s), "Succeeded");
  const auto d = server_->getJson("/api/v1/deployments/" + rollback);
  EXPECT_EQ(d.at("version").as_string(), "v1");
  EXPECT_THAT(std::string(d.at("reason").as_string()), ::testing::HasSubstr("alert HighErrorRate firing"));
  EXPECT_EQ(deployments(), 3u);

  // Alertmanager repeats the notification: nothing more happens.
  auto again = post(webhook("firing", "2026-12-07T10:00:00Z"));
  EXPECT_EQ(again.at("alerts").as_array()[0].at("taken").as_string(), "none");
  EXPECT_THAT(std::string(again.at("alerts").as_array()[0].at("why").as_string()),
              ::testing::HasSubstr("already handled"));
  // It resolved and fires again (flapping): people are told, the environment is not rolled back
  // a second time.
  auto flap = post(webhook("firing", "2026-12-07T10:04:00Z"));
  EXPECT_EQ(flap.at("alerts").as_array()[0].at("taken").as_string(), "notified");
  EXPECT_THAT(std::string(flap.at("alerts").as_array()[0].at("why").as_string()),
              ::testing::HasSubstr("within its cooldown"));
  auto resolved = post(webhook("resolved", "2026-12-07T10:04:00Z"));
  EXPECT_EQ(resolved.at("alerts").as_array()[0].at("taken").as_string(), "notified");
  EXPECT_EQ(deployments(), 3u);

  // The audit log has the alert's story.
  auto events = server_->getJson("/api/v1/events?stream=false&limit=1000");
  std::vector<std::string> kinds;
  if (events.is_object() && events.as_object().contains("events")) {
    for (const auto& e : events.at("events").as_array()) {
      if (e.at("subject").as_string() == "alert:5c0ffee5") kinds.emplace_back(e.at("kind").as_string());
    }
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"alert.rollback", "alert.firing", "alert.resolved"}));

  // The rollback opened an incident carrying the alert and the rollback deployment; the later
  // firing and the resolution are on its timeline.
  auto incidents = server_->getJson("/api/v1/incidents?all=true");
  ASSERT_TRUE(incidents.is_object());
  ASSERT_EQ(incidents.at("incidents").as_array().size(), 1u);
  const std::string incident(incidents.at("incidents").as_array()[0].at("id").as_string());
  EXPECT_EQ(first.at("alerts").as_array()[0].at("incident").as_string(), incident);
  const auto inc = server_->getJson("/api/v1/incidents/" + incident);
  EXPECT_EQ(inc.at("severity").as_int64(), 1);
  EXPECT_EQ(inc.at("status").as_string(), "open");
  EXPECT_EQ(inc.at("deployments").as_array().at(0).as_string(), rollback);
  EXPECT_EQ(inc.at("evidence").at("alert").as_string(), "HighErrorRate");
  EXPECT_EQ(inc.at("evidence").at("summary").as_string(), "5xx above 1% in staging");
  std::string timeline;
  for (const auto& t : inc.at("timeline").as_array()) {
    timeline += std::string(t.at("kind").as_string()) + ": " + std::string(t.at("text").as_string()) + "\n";
  }
  EXPECT_THAT(timeline, ::testing::HasSubstr("incident.opened: staging: alert HighErrorRate, rolled back"));
  EXPECT_THAT(timeline, ::testing::HasSubstr("incident.note: alert HighErrorRate resolved: 5xx above 1% in staging"));

  // PagerDuty: a trigger per firing and a resolve, one dedup key for the alert; all valid.
  ASSERT_TRUE(pollUntil(
      [&] {
        auto v = server_->getJson("/api/v1/notifications?status=pending");
        return v.is_object() && v.at("notifications").as_array().empty();
      },
      deadlineIn(30s)));
  std::vector<std::string> actions;
  for (const auto& r : pagerduty.received()) {
    if (!r.accepted || r.path != "/v2/enqueue") continue;
    const auto v = json::parse(r.body);
    if (v.at("dedup_key").as_string() == "runway/alert/5c0ffee5") actions.emplace_back(v.at("event_action").as_string());
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"trigger", "trigger", "resolve"}));
  EXPECT_THAT(pagerduty.violations(), ::testing::IsEmpty());
}

TEST_F(AlertmanagerTest, OnlyADeployerOrAValidSignatureMayPostAlertsAndBadPayloadsAreRefused) {
  FakeReceiver pagerduty(FakeReceiver::Kind::PagerDuty);
  ASSERT_TRUE(pagerduty.start());
  server_->writeConfig(config(pagerduty.url()));
  server_->setEnv({{"RUNWAY_ALERTS_HMAC_KEY", "alert-signing-key"}});
  ASSERT_TRUE(server_->start());
  auto r = server_->call("POST", "/api/v1/tokens", R"({"name":"vera","roles":["viewer"]})");
  ASSERT_TRUE(r && r->status == 201);
  const std::string viewer(json::parse(r->body).at("token").as_string());
  post(webhook("firing", "2026-12-07T10:00:00Z"), viewer, 403);
  post(webhook("firing", "2026-12-07T10:00:00Z"), std::string(), 401);
  auto bad = post(R"({"version":"3","status":"firing","alerts":[]})", std::nullopt, 400);
  EXPECT_EQ(bad.at("error").at("code").as_string(), "invalid_argument");
  // An alert no rule knows is answered, and nothing is done.
  std::string unknown = webhook("firing", "2026-12-07T10:00:00Z");
  for (auto pos = unknown.find("HighErrorRate"); pos != std::string::npos; pos = unknown.find("HighErrorRate")) {
    unknown.replace(pos, 13, "DiskFull");
  }
  for (auto pos = unknown.find("high-error-rate"); pos != std::string::npos; pos = unknown.find("high-error-rate")) {
    unknown.replace(pos, 15, "disk-full");
  }
  auto ignored = post(unknown);
  EXPECT_EQ(ignored.at("alerts").as_array()[0].at("taken").as_string(), "none");
  EXPECT_EQ(deployments(), 0u);

  // Signed instead of a token: accepted inside the replay window with the right key only.
  const auto signedPost = [&](const std::string& key, std::int64_t ts) {
    HttpHeaders headers{{"Content-Type", "application/json"},
                        {"X-Runway-Timestamp", std::to_string(ts)},
                        {"X-Runway-Signature", "sha256=" + notify::webhookSignature(key, ts, unknown)}};
    auto resp = httpRequest(server_->url() + "/api/v1/alerts/alertmanager", "POST", unknown, headers, 30s);
    return resp ? resp->status : 0L;
  };
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  EXPECT_EQ(signedPost("alert-signing-key", now), 200);
  EXPECT_EQ(signedPost("wrong-key", now), 401);
  EXPECT_EQ(signedPost("alert-signing-key", now - 3600), 401);
}

}  // namespace
}  // namespace runway::test
