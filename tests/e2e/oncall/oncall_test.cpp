// The on-call path end to end, with nothing faked but Slack and PagerDuty: a bad build's error
// rate goes up behind runway's router; Prometheus, scraping runway serve's /metrics, evaluates
// the rule `runway alerts render` wrote and fires; Alertmanager posts to runway with a deployer
// token; runway rolls the environment back with the alert as the reason and pages; the error
// rate falls, the alert resolves, and the resolution is recorded and sent. Every Slack and
// PagerDuty payload is checked against the documented formats.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_receivers.hpp"
#include "integration/serve/serve_fixture.hpp"

namespace runway::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::FakeReceiver;

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";
constexpr const char* kRoutingKey = "fedcba9876543210fedcba9876543210";

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string runwayConfig(const std::string& pagerduty_url) {
  return fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata: {{name: shop}}
spec:
  services:
    - name: web
      local:
        command: ["runway-demo-app", "--port", "${{PORT}}"]
      env: {{VERSION: "${{VERSION}}", FAULTY_VERSIONS: "v2=0.5"}}
      health: {{path: /health, period: 100ms, failureThreshold: 3}}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {{name: incidents}}
spec:
  slack: {{webhookUrlEnv: SLACK_URL}}
  retry: {{initialBackoff: 100ms, maxBackoff: 1s}}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {{name: oncall}}
spec:
  pagerduty: {{routingKeyEnv: PD_KEY, url: "{}"}}
  retry: {{initialBackoff: 100ms, maxBackoff: 1s}}
---
apiVersion: runway/v1
kind: Environment
metadata: {{name: production}}
spec:
  runtime: {{local: {{}}}}
  strategy: rolling
  progressDeadline: 1m
  notifications:
    - {{channel: incidents}}
    - {{channel: oncall, events: [alert.firing, alert.resolved]}}
---
apiVersion: runway/v1
kind: AlertRule
metadata: {{name: high-error-rate}}
spec:
  environment: production
  builtin: {{metric: error_rate, above: 0.1, window: 5s}}
  for: 2s
  severity: critical
  action: automatic_rollback
  summary: "More than 10% of production's requests fail"
)",
                     pagerduty_url);
}

class OncallTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (load_) load_->stop();
    if (alertmanager_) {
      (void)alertmanager_->signal(SIGTERM);
      (void)alertmanager_->waitExit(deadlineIn(10s));
    }
    if (prometheus_) {
      (void)prometheus_->signal(SIGTERM);
      (void)prometheus_->waitExit(deadlineIn(10s));
    }
  }

  Result<Subprocess> startTool(std::vector<std::string> argv, const std::string& log) {
    SubprocessOptions o;
    o.argv = std::move(argv);
    o.stdout_to = Output::file(dir_ / log);
    o.stderr_to = Output::file(dir_ / log);
    return Subprocess::start(std::move(o));
  }

  bool ready(const std::string& url) {
    return pollUntil(
        [&] {
          auto r = httpGet(url + "/-/ready", 1s);
          return r && r->status == 200;
        },
        deadlineIn(30s), 100ms);
  }

  std::vector<json::value> alertEvents() {
    std::vector<json::value> out;
    auto v = server_.getJson("/api/v1/events?stream=false&limit=1000");
    if (!v.is_object()) return out;
    for (const auto& e : v.at("events").as_array()) {
      if (std::string_view(e.at("subject").as_string()).starts_with("alert:")) out.push_back(e);
    }
    return out;
  }

  TempDir dir_{"runway-oncall"};
  ServeFixture server_{dir_.path()};
  std::optional<Subprocess> prometheus_;
  std::optional<Subprocess> alertmanager_;
  std::unique_ptr<LoadGenerator> load_;
};

TEST_F(OncallTest, ABadBuildsAlertRollsBackPagesAndResolves) {
  ASSERT_TRUE(std::filesystem::exists(kPrometheus)) << "run scripts/install-deps.sh (prometheus)";
  ASSERT_TRUE(std::filesystem::exists(kAlertmanager)) << "run scripts/install-deps.sh (prometheus-alertmanager)";
  FakeReceiver slack(FakeReceiver::Kind::Slack), pagerduty(FakeReceiver::Kind::PagerDuty);
  ASSERT_TRUE(slack.start());
  ASSERT_TRUE(pagerduty.start());

  // runway: v1, then the bad v2, serving production behind the router.
  server_.writeConfig(runwayConfig(pagerduty.url()));
  server_.setEnv({{"SLACK_URL", slack.url() + "/services/T0/B0/oncallsecret"}, {"PD_KEY", kRoutingKey}});
  ASSERT_TRUE(server_.start());
  for (const char* v : {"v1", "v2"}) {
    const auto id = server_.deploy("production", v);
    ASSERT_FALSE(id.empty());
    ASSERT_EQ(server_.waitTerminal(id, 60s), "Succeeded");
  }
  const std::string address = server_.serviceAddress("production", "web");
  ASSERT_FALSE(address.empty());
  load_ = std::make_unique<LoadGenerator>("http://" + address + "/");

  // The rules file, Alertmanager (posting to runway with a deployer token) and Prometheus.
  auto token = server_.call("POST", "/api/v1/tokens", R"({"name":"alertmanager","roles":["deployer"]})");
  ASSERT_TRUE(token && token->status == 201);
  const std::string bearer(json::parse(token->body).at("token").as_string());
  SubprocessOptions render;
  render.argv = {binaryPath("runway").string(), "alerts", "render", "--config", server_.configPath().string(),
                 "--output", (dir_ / "rules.yml").string()};
  auto r = Subprocess::start(std::move(render));
  ASSERT_TRUE(r);
  auto rendered = r->waitExit(deadlineIn(30s));
  ASSERT_TRUE(rendered && rendered->exited && rendered->code == 0);

  auto am_port = freeLoopbackPort();
  auto prom_port = freeLoopbackPort();
  ASSERT_TRUE(am_port && prom_port);
  ASSERT_TRUE(dir_.write("alertmanager.yml", fmt::format(R"(route:
  receiver: runway
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: runway
    webhook_configs:
      - url: "{}/api/v1/alerts/alertmanager"
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: "{}"}}
)",
                                                          server_.url(), bearer)));
  auto am = startTool({kAlertmanager, "--config.file=" + (dir_ / "alertmanager.yml").string(),
                       "--storage.path=" + (dir_ / "am-data").string(),
                       fmt::format("--web.listen-address=127.0.0.1:{}", *am_port), "--cluster.listen-address=",
                       "--log.level=warn"},
                      "alertmanager.log");
  ASSERT_TRUE(am) << am.error().message;
  alertmanager_ = std::move(*am);
  ASSERT_TRUE(ready(fmt::format("http://127.0.0.1:{}", *am_port))) << slurp(dir_ / "alertmanager.log");

  const std::string runway_target = server_.url().substr(std::string("http://").size());
  ASSERT_TRUE(dir_.write("prometheus.yml", fmt::format(R"(global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{}"]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["127.0.0.1:{}"]}}]
scrape_configs:
  - job_name: runway
    static_configs: [{{targets: ["{}"]}}]
)",
                                                        (dir_ / "rules.yml").string(), *am_port, runway_target)));
  auto prom = startTool({kPrometheus, "--config.file=" + (dir_ / "prometheus.yml").string(),
                         "--storage.tsdb.path=" + (dir_ / "prom-data").string(),
                         fmt::format("--web.listen-address=127.0.0.1:{}", *prom_port), "--log.level=warn"},
                        "prometheus.log");
  ASSERT_TRUE(prom) << prom.error().message;
  prometheus_ = std::move(*prom);
  ASSERT_TRUE(ready(fmt::format("http://127.0.0.1:{}", *prom_port))) << slurp(dir_ / "prometheus.log");

  // The alert fires and runway rolls production back to v1.
  std::string rollback;
  ASSERT_TRUE(pollUntil(
      [&] {
        for (const auto& e : alertEvents()) {
          if (e.at("kind").as_string() == "alert.rollback") {
            rollback = std::string(e.at("data").at("deployment").as_string());
            return true;
          }
        }
        return false;
      },
      deadlineIn(120s), 200ms))
      << "no rollback; Prometheus alerts: "
      << [&] {
           auto a = httpGet(fmt::format("http://127.0.0.1:{}/api/v1/alerts", *prom_port));
           return a ? a->body : a.error().message;
         }()
      << "\nalertmanager.log:\n" << slurp(dir_ / "alertmanager.log");
  ASSERT_EQ(server_.waitTerminal(rollback, 60s), "Succeeded");
  const auto d = server_.getJson("/api/v1/deployments/" + rollback);
  EXPECT_EQ(d.at("version").as_string(), "v1");
  EXPECT_THAT(std::string(d.at("reason").as_string()), ::testing::HasSubstr("alert HighErrorRate firing"));

  // The error rate falls with v1 serving; the alert resolves and runway records it.
  ASSERT_TRUE(pollUntil(
      [&] {
        for (const auto& e : alertEvents()) {
          if (e.at("kind").as_string() == "alert.resolved") return true;
        }
        return false;
      },
      deadlineIn(120s), 200ms))
      << "the alert did not resolve; alertmanager.log:\n" << slurp(dir_ / "alertmanager.log");
  // Exactly one rollback for the whole episode, however often Alertmanager posted.
  int rollbacks = 0;
  for (const auto& e : alertEvents()) rollbacks += e.at("kind").as_string() == "alert.rollback" ? 1 : 0;
  EXPECT_EQ(rollbacks, 1);

  // Slack and PagerDuty heard about it, in their documented formats.
  ASSERT_TRUE(pollUntil(
      [&] {
        auto v = server_.getJson("/api/v1/notifications?status=pending");
        return v.is_object() && v.at("notifications").as_array().empty();
      },
      deadlineIn(30s)));
  std::vector<std::string> pages;
  for (const auto& rec : pagerduty.received()) {
    if (rec.accepted) pages.emplace_back(json::parse(rec.body).at("event_action").as_string());
  }
  EXPECT_THAT(pages, ::testing::ElementsAre("trigger", "resolve"));
  bool slack_rollback = false;
  for (const auto& rec : slack.received()) {
    slack_rollback = slack_rollback || rec.body.find("alert HighErrorRate firing") != std::string::npos;
  }
  EXPECT_TRUE(slack_rollback);
  EXPECT_THAT(slack.violations(), ::testing::IsEmpty());
  EXPECT_THAT(pagerduty.violations(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace runway::test
