// Notifications through the real `runway serve`: what a deployment commits reaches Slack,
// PagerDuty and signed-webhook receivers on loopback, exactly once per message through 500,
// 429 + Retry-After and a timeout; a 400 is not retried and is listed as failed; and a server
// killed with -9 while 100 messages wait delivers all of them after its restart.

#include <set>
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

constexpr const char* kRoutingKey = "0123456789abcdef0123456789abcdef";
constexpr const char* kSlackPath = "/services/T0001/B0001/sl4ckS3cretPath";
constexpr const char* kHookKey = "hook-signing-key";

std::string application() {
  return R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local:
        command: ["runway-demo-app", "--port", "${PORT}"]
      env: {VERSION: "${VERSION}"}
      health: {path: /health, period: 100ms, failureThreshold: 3}
)";
}

std::string channel(const std::string& name, const std::string& body) {
  return fmt::format(R"(---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {{name: {}}}
spec:
{}
  timeout: 500ms
  retry: {{initialBackoff: 100ms, maxBackoff: 1s, maxAttempts: 1000}}
)",
                     name, body);
}

std::string environment(const std::vector<std::string>& channels) {
  std::string routes;
  for (const auto& c : channels) routes += fmt::format("    - {{channel: {}}}\n", c);
  return R"(---
apiVersion: runway/v1
kind: Environment
metadata: {name: staging}
spec:
  runtime: {local: {}}
  strategy: rolling
  progressDeadline: 1m
  notifications:
)" + routes;
}

class NotifyServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServeFixture>(dir_.path());
  }

  json::array notifications(const std::string& filter = "") {
    auto v = server_->getJson("/api/v1/notifications?limit=1000" + filter);
    if (!v.is_object()) return {};
    return v.at("notifications").as_array();
  }

  // Polls until no notification is pending; returns whether that happened.
  bool settled(std::chrono::seconds limit) {
    return pollUntil([&] { return notifications().size() > 0 && notifications("&status=pending").empty(); },
                     deadlineIn(limit));
  }

  std::string metrics() {
    auto r = httpGet(server_->url() + "/metrics");
    return r ? r->body : std::string();
  }

  TempDir dir_{"runway-notify"};
  std::unique_ptr<ServeFixture> server_;
};

std::string slackIdentity(const FakeReceiver::Received& r) {
  return std::string(json::parse(r.body).at("text").as_string());
}

std::string pagerDutyIdentity(const FakeReceiver::Received& r) {
  const auto v = json::parse(r.body);
  return r.path + " " + std::string(v.at("payload").at("summary").as_string());
}

TEST_F(NotifyServeTest, EachMessageIsAcceptedOnceThroughErrorsThrottlingAndTimeouts) {
  FakeReceiver slack(FakeReceiver::Kind::Slack), pagerduty(FakeReceiver::Kind::PagerDuty),
      broken(FakeReceiver::Kind::Slack);
  ASSERT_TRUE(slack.start());
  ASSERT_TRUE(pagerduty.start());
  ASSERT_TRUE(broken.start());
  slack.script({{500, "rollup_error", "", 0ms}, {429, "", "1", 0ms}, {200, "ok", "", 1500ms}});
  pagerduty.script({{503, "", "", 0ms}, {429, "", "1", 0ms}, {202, "", "", 1500ms}});
  broken.script(std::deque<FakeReceiver::Reply>(10, {400, "invalid_payload", "", 0ms}));

  server_->writeConfig(application() + channel("chat", "  slack: {webhookUrlEnv: SLACK_URL}") +
                       channel("pager", fmt::format("  pagerduty: {{routingKeyEnv: PD_KEY, url: \"{}\"}}", pagerduty.url())) +
                       channel("misconfigured", "  slack: {webhookUrlEnv: BROKEN_SLACK_URL}") +
                       environment({"chat", "pager", "misconfigured"}));
  server_->setEnv({{"SLACK_URL", slack.url() + kSlackPath},
                   {"BROKEN_SLACK_URL", broken.url() + "/services/T0002/B0002/other"},
                   {"PD_KEY", kRoutingKey}});
  ASSERT_TRUE(server_->start());
  const auto id = server_->deploy("staging", "v1");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(server_->waitTerminal(id, 60s), "Succeeded");
  ASSERT_TRUE(settled(60s)) << json::serialize(notifications());

  // deployment.started and deployment.succeeded: to Slack, and to PagerDuty as change events.
  const auto chat = slack.acceptedBy(slackIdentity);
  EXPECT_EQ(chat.size(), 2u);
  for (const auto& [message, times] : chat) EXPECT_EQ(times, 1) << message;
  const auto pages = pagerduty.acceptedBy(pagerDutyIdentity);
  EXPECT_EQ(pages.size(), 2u);
  for (const auto& [message, times] : pages) {
    EXPECT_EQ(times, 1) << message;
    EXPECT_THAT(message, ::testing::StartsWith("/v2/change/enqueue "));
  }
  // The receivers saw the script played out: 500, 429, a held answer, then success.
  EXPECT_GE(slack.received().size(), 5u);
  EXPECT_GE(pagerduty.received().size(), 5u);
  EXPECT_THAT(slack.violations(), ::testing::IsEmpty());
  EXPECT_THAT(pagerduty.violations(), ::testing::IsEmpty());

  // A 400 is final: one request per message, listed as failed with the response.
  EXPECT_EQ(broken.received().size(), 2u);
  const auto failed = notifications("&status=failed");
  ASSERT_EQ(failed.size(), 2u);
  for (const auto& n : failed) {
    EXPECT_EQ(n.at("channel").as_string(), "misconfigured");
    EXPECT_EQ(n.at("attempts").as_int64(), 1);
    EXPECT_EQ(n.at("lastStatus").as_int64(), 400);
    EXPECT_EQ(n.at("lastError").as_string(), "HTTP 400: invalid_payload");
  }
  EXPECT_EQ(notifications("&status=delivered").size(), 4u);

  const auto text = metrics();
  EXPECT_THAT(text, ::testing::HasSubstr("runway_notifications{status=\"failed\"} 2\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("runway_notifications{status=\"delivered\"} 4\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("runway_notification_attempts_total{outcome=\"delivered\"} 4\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("runway_notification_attempts_total{outcome=\"failed\"} 2\n"));

  // The CLI lists the failures.
  SubprocessOptions cli;
  cli.argv = {binaryPath("runway").string(), "notifications", "list", "--failed", "--server", server_->url(),
              "--token", server_->adminToken()};
  auto p = Subprocess::start(std::move(cli));
  ASSERT_TRUE(p);
  auto out = p->readToEnd(deadlineIn(30s));
  ASSERT_TRUE(out);
  auto status = p->waitExit(deadlineIn(30s));
  ASSERT_TRUE(status && status->exited);
  EXPECT_EQ(status->code, 0);
  EXPECT_THAT(out->out, ::testing::HasSubstr("misconfigured"));
  EXPECT_THAT(out->out, ::testing::HasSubstr("HTTP 400: invalid_payload"));
  EXPECT_THAT(out->out, ::testing::Not(::testing::HasSubstr("chat ")));

  // Secrets never reach the log.
  auto log = readFile(dir_ / "serve.log");
  ASSERT_TRUE(log);
  EXPECT_THAT(*log, ::testing::Not(::testing::HasSubstr("sl4ckS3cretPath")));
  EXPECT_THAT(*log, ::testing::Not(::testing::HasSubstr(kRoutingKey)));
}

TEST_F(NotifyServeTest, AKilledServerDeliversEveryPendingMessageAfterItsRestart) {
  // 24 webhook channels and Slack: every event is 25 messages; two deployments, 100 messages.
  auto hook_port = freeLoopbackPort();
  auto slack_port = freeLoopbackPort();
  ASSERT_TRUE(hook_port && slack_port);
  std::string yaml = application();
  std::vector<std::string> names{"chat"};
  yaml += channel("chat", "  slack: {webhookUrlEnv: SLACK_URL}");
  for (int i = 0; i < 24; ++i) {
    const std::string name = fmt::format("hook-{:02}", i);
    names.push_back(name);
    yaml += channel(name, fmt::format("  webhook: {{url: \"http://127.0.0.1:{}/hook/{}\", secretEnv: HOOK_KEY}}",
                                      *hook_port, name));
  }
  server_->writeConfig(yaml + environment(names));
  server_->setEnv({{"SLACK_URL", fmt::format("http://127.0.0.1:{}{}", *slack_port, kSlackPath)},
                   {"HOOK_KEY", kHookKey}});
  ASSERT_TRUE(server_->start());
  // Nothing listens yet: every attempt is refused and retried.
  for (const char* version : {"v1", "v2"}) {
    const auto id = server_->deploy("staging", version);
    ASSERT_FALSE(id.empty());
    ASSERT_EQ(server_->waitTerminal(id, 60s), "Succeeded");
  }
  ASSERT_TRUE(pollUntil([&] { return notifications().size() >= 100; }, deadlineIn(30s)));
  const auto all = notifications();
  ASSERT_EQ(all.size(), 100u);
  EXPECT_EQ(notifications("&status=pending").size(), 100u);
  std::set<std::string> expected_hooks;
  for (const auto& n : all) {
    if (n.at("channel").as_string() != "chat") expected_hooks.insert(std::to_string(n.at("id").as_int64()));
  }
  ASSERT_EQ(expected_hooks.size(), 96u);

  server_->kill9();
  FakeReceiver hooks(FakeReceiver::Kind::Webhook, kHookKey), slack(FakeReceiver::Kind::Slack);
  ASSERT_TRUE(hooks.start(static_cast<std::uint16_t>(*hook_port)));
  ASSERT_TRUE(slack.start(static_cast<std::uint16_t>(*slack_port)));
  ASSERT_TRUE(server_->start());
  ASSERT_TRUE(settled(60s)) << json::serialize(notifications("&status=pending"));
  EXPECT_EQ(notifications("&status=delivered").size(), 100u);

  // Every webhook message arrived (at least once; by its delivery id exactly once here), signed.
  const auto delivered = hooks.acceptedBy([](const FakeReceiver::Received& r) { return r.headers.at("x-runway-delivery"); });
  std::set<std::string> got;
  for (const auto& [delivery, times] : delivered) {
    got.insert(delivery);
    EXPECT_EQ(times, 1) << delivery;
  }
  EXPECT_EQ(got, expected_hooks);
  EXPECT_EQ(slack.acceptedBy(slackIdentity).size(), 4u);
  EXPECT_THAT(hooks.violations(), ::testing::IsEmpty());
  EXPECT_THAT(slack.violations(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace runway::test
