// Routing: which channels get which events of which environment, and that every event the
// engine emits can be routed.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/config/loader.hpp"
#include "runway/engine/actions.hpp"
#include "runway/notify/message.hpp"

namespace runway::notify {
namespace {

const char* kRouteConfig = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services: [{name: web, local: {command: [web]}}]
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: chat}
spec: {slack: {webhookUrlEnv: SLACK_URL}}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: pager}
spec: {pagerduty: {routingKeyEnv: PD_KEY}}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: quiet-pager}
spec: {pagerduty: {routingKeyEnv: PD_KEY, changeEvents: false}}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: production}
spec:
  notifications:
    - {channel: chat}
    - {channel: pager}
    - {channel: quiet-pager}
    - {channel: chat, events: [deployment.rolled_back]}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: staging}
spec:
  notifications:
    - {channel: chat, events: [deployment.failed, deployment.rolled_back]}
)";

config::Config load() {
  auto r = config::loadConfigText(kRouteConfig, "t.yaml");
  EXPECT_TRUE(r.ok());
  return *r.config;
}

Message message(std::string environment, std::string event) {
  Message m;
  m.event = std::move(event);
  m.title = "t";
  m.environment = environment;
  m.deployment_id = "d-1";
  m.dedup_key = dedupKeyFor(environment, "d-1");
  m.at = fromUnixMillis(1000);
  return m;
}

std::vector<std::string> channels(const std::vector<store::NewNotification>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.channel);
  return out;
}

TEST(RouteTest, EachRoutedChannelGetsTheEventOnce) {
  const auto cfg = load();
  const auto rows = route(cfg, message("production", "deployment.rolled_back"));
  EXPECT_THAT(channels(rows), ::testing::ElementsAre("chat", "pager", "quiet-pager"));
  EXPECT_EQ(rows[0].subject, "d-1");
  EXPECT_EQ(rows[0].environment, "production");
  EXPECT_EQ(rows[0].dedup_key, "runway/production/d-1");
  EXPECT_EQ(rows[0].event, "deployment.rolled_back");
  auto parsed = parseMessage(rows[0].message_json);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->at, fromUnixMillis(1000));
}

TEST(RouteTest, PagerDutyGetsOnlyEventsItHasAnActionFor) {
  const auto cfg = load();
  EXPECT_THAT(channels(route(cfg, message("production", "approval.needed"))), ::testing::ElementsAre("chat"));
  EXPECT_THAT(channels(route(cfg, message("production", "deployment.started"))),
              ::testing::ElementsAre("chat", "pager"));
}

TEST(RouteTest, EventFiltersAndUnroutedEnvironments) {
  const auto cfg = load();
  EXPECT_THAT(channels(route(cfg, message("staging", "deployment.failed"))), ::testing::ElementsAre("chat"));
  EXPECT_TRUE(route(cfg, message("staging", "deployment.succeeded")).empty());
  EXPECT_TRUE(route(cfg, message("nowhere", "deployment.failed")).empty());
}

TEST(RouteTest, EveryEngineEventCanBeRouted) {
  const auto& known = config::notificationEvents();
  for (int e = 0; e <= static_cast<int>(engine::NotifyEvent::WatchCompleted); ++e) {
    const std::string name(engine::toString(static_cast<engine::NotifyEvent>(e)));
    EXPECT_NE(std::find(known.begin(), known.end(), name), known.end()) << name;
  }
}

TEST(MessageTest, JsonRoundTripAndBadInput) {
  Message m = message("production", "deployment.failed");
  m.details = {{"metric", "error-rate"}, {"value", "0.2"}};
  m.previous_version = "v1";
  auto back = parseMessage(toJson(m));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->details, m.details);
  EXPECT_EQ(back->previous_version, "v1");
  EXPECT_EQ(back->dedup_key, m.dedup_key);
  EXPECT_EQ(parseMessage("[]").error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(parseMessage(R"({"event":"x"})").error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(dedupKeyFor("e", std::string(400, 'x')).size(), 255u);
}

}  // namespace
}  // namespace runway::notify
