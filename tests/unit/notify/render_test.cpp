// Channel formats: every rendering checked against the documented rules (the same checks the
// fake receivers run), limits kept for oversized input, webhook signatures and replay window.

#include <string>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "notification_formats.hpp"
#include "runway/notify/render.hpp"

namespace runway::notify {
namespace {

namespace json = boost::json;
using ::testing::IsEmpty;

const std::string kKey = "0123456789abcdef0123456789abcdef";

Message rollback() {
  Message m;
  m.event = "deployment.rolled_back";
  m.title = "production: v1.2.3 rolled back";
  m.reason = "error-rate 0.031 > 0.01 for 2m";
  m.severity = "error";
  m.environment = "production";
  m.application = "shop";
  m.version = "v1.2.3";
  m.previous_version = "v1.2.2";
  m.deployment_id = "d-1";
  m.dedup_key = dedupKeyFor("production", "d-1");
  m.at = fromUnixMillis(1'765'000'000'000);
  m.details = {{"metric", "error-rate"}, {"value", "0.031"}, {"threshold", "> 0.01"}};
  return m;
}

// A message far over every limit: long title and reason, 1000 long details, markup characters
// and multi-byte text.
Message oversized() {
  Message m = rollback();
  m.title = std::string(400, 'T') + " \u00e9\u00e9";
  m.reason = "<script>&" + std::string(5000, 'r');
  for (int i = 0; i < 1000; ++i) m.details.emplace_back("k" + std::to_string(i), std::string(2500, 'v'));
  return m;
}

TEST(SlackPayloadTest, IsValidBlockKitWithAFallbackText) {
  const std::string body = slackPayload(rollback());
  EXPECT_THAT(testing::slackViolations(body), IsEmpty()) << body;
  const auto v = json::parse(body).as_object();
  EXPECT_THAT(std::string(v.at("text").as_string()), ::testing::HasSubstr("production: v1.2.3 rolled back"));
  EXPECT_THAT(body, ::testing::HasSubstr("v1.2.2 \u2192 v1.2.3"));
  EXPECT_THAT(body, ::testing::HasSubstr("*threshold*\\n&gt; 0.01"));
  EXPECT_EQ(v.at("blocks").as_array().at(0).at("type").as_string(), "header");
}

TEST(SlackPayloadTest, OversizedInputStaysWithinEveryLimit) {
  const std::string body = slackPayload(oversized());
  EXPECT_THAT(testing::slackViolations(body), IsEmpty());
  const auto v = json::parse(body).as_object();
  const auto& header = v.at("blocks").as_array().at(0).at("text").at("text").as_string();
  EXPECT_EQ(testing::charCount(header), 150u);
  EXPECT_TRUE(std::string_view(header).ends_with("\u2026"));
  EXPECT_EQ(v.at("blocks").as_array().size(), 50u);
  EXPECT_THAT(body, ::testing::HasSubstr("&lt;script&gt;&amp;"));
}

TEST(PagerDutyPayloadTest, TriggerCarriesTheEvidence) {
  const std::string body = pagerDutyPayload(rollback(), PagerDutyAction::Trigger, kKey, "runway");
  EXPECT_THAT(testing::pagerDutyEventViolations(body), IsEmpty()) << body;
  const auto v = json::parse(body).as_object();
  EXPECT_EQ(v.at("event_action").as_string(), "trigger");
  EXPECT_EQ(v.at("dedup_key").as_string(), "runway/production/d-1");
  EXPECT_EQ(v.at("payload").at("severity").as_string(), "error");
  EXPECT_EQ(v.at("payload").at("custom_details").at("threshold").as_string(), "> 0.01");
  EXPECT_EQ(v.at("payload").at("custom_details").at("previous_version").as_string(), "v1.2.2");
  EXPECT_EQ(v.at("payload").at("timestamp").as_string(), "2025-12-06T05:46:40.000Z");
}

TEST(PagerDutyPayloadTest, OversizedSummaryIsCutAndUnknownSeverityBecomesError) {
  Message m = oversized();
  m.severity = "sev-1";
  const std::string body = pagerDutyPayload(m, PagerDutyAction::Trigger, kKey, "runway");
  EXPECT_THAT(testing::pagerDutyEventViolations(body), IsEmpty());
  const auto v = json::parse(body).as_object();
  EXPECT_EQ(testing::charCount(v.at("payload").at("summary").as_string()), 1024u);
  EXPECT_EQ(v.at("payload").at("severity").as_string(), "error");
}

TEST(PagerDutyPayloadTest, ResolveAndChangeEventsHaveTheirOwnShapes) {
  const std::string resolve = pagerDutyPayload(rollback(), PagerDutyAction::Resolve, kKey, "runway");
  EXPECT_THAT(testing::pagerDutyEventViolations(resolve), IsEmpty());
  EXPECT_EQ(json::parse(resolve).as_object().size(), 3u);  // routing_key, dedup_key, event_action
  const std::string change = pagerDutyPayload(rollback(), PagerDutyAction::Change, kKey, "runway");
  EXPECT_THAT(testing::pagerDutyChangeViolations(change), IsEmpty()) << change;
}

TEST(PagerDutyPayloadTest, EventsMapToActions) {
  EXPECT_EQ(pagerDutyAction("deployment.rolled_back", true), PagerDutyAction::Trigger);
  EXPECT_EQ(pagerDutyAction("incident.opened", false), PagerDutyAction::Trigger);
  EXPECT_EQ(pagerDutyAction("watch.completed", false), PagerDutyAction::Resolve);
  EXPECT_EQ(pagerDutyAction("deployment.succeeded", true), PagerDutyAction::Change);
  EXPECT_EQ(pagerDutyAction("deployment.succeeded", false), std::nullopt);
  EXPECT_EQ(pagerDutyAction("approval.needed", true), std::nullopt);
}

TEST(RenderTest, EachChannelGetsItsRequest) {
  config::NotificationChannel pd;
  pd.name = "oncall";
  pd.kind = config::NotificationChannel::Kind::PagerDuty;
  pd.url = "http://127.0.0.1:1";
  auto out = render(pd, rollback(), kKey, 7, 1'765'000'000);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->url, "http://127.0.0.1:1/v2/enqueue");
  Message started = rollback();
  started.event = "deployment.started";
  EXPECT_EQ(render(pd, started, kKey, 7, 0)->url, "http://127.0.0.1:1/v2/change/enqueue");
  started.event = "approval.needed";
  EXPECT_EQ(render(pd, started, kKey, 7, 0).error().code, ErrorCode::InvalidArgument);

  config::NotificationChannel slack;
  slack.kind = config::NotificationChannel::Kind::Slack;
  auto s = render(slack, rollback(), "http://127.0.0.1:2/services/T/B/secret", 7, 0);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->url, "http://127.0.0.1:2/services/T/B/secret");
  EXPECT_EQ(s->headers.at("Content-Type"), "application/json");
}

TEST(WebhookTest, SignedBodyVerifiesInsideTheWindowOnly) {
  config::NotificationChannel hook;
  hook.kind = config::NotificationChannel::Kind::Webhook;
  hook.url = "http://127.0.0.1:3/hook";
  auto out = render(hook, rollback(), "s3cret", 42, 1'765'000'000);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->headers.at("X-Runway-Delivery"), "42");
  EXPECT_EQ(out->headers.at("X-Runway-Dedup-Key"), "runway/production/d-1");
  EXPECT_EQ(json::parse(out->body).at("deliveryId").as_int64(), 42);
  const auto& ts = out->headers.at("X-Runway-Timestamp");
  const auto& sig = out->headers.at("X-Runway-Signature");
  const auto window = std::chrono::seconds(300);
  EXPECT_TRUE(verifyWebhookSignature("s3cret", ts, sig, out->body, 1'765'000'100, window).has_value());
  // Wrong key, edited body, replayed outside the window, malformed headers.
  EXPECT_FALSE(verifyWebhookSignature("other", ts, sig, out->body, 1'765'000'100, window).has_value());
  EXPECT_FALSE(verifyWebhookSignature("s3cret", ts, sig, out->body + " ", 1'765'000'100, window).has_value());
  auto replay = verifyWebhookSignature("s3cret", ts, sig, out->body, 1'765'000'301, window);
  ASSERT_FALSE(replay.has_value());
  EXPECT_THAT(replay.error().message, ::testing::HasSubstr("replay window"));
  EXPECT_FALSE(verifyWebhookSignature("s3cret", "", sig, out->body, 1'765'000'000, window).has_value());
  EXPECT_FALSE(verifyWebhookSignature("s3cret", ts, "md5=x", out->body, 1'765'000'000, window).has_value());
  // A known vector: HMAC-SHA256(key "key", "1.{}") (Python hmac.new(b"key", b"1.{}", sha256)).
  EXPECT_EQ(webhookSignature("key", 1, "{}"), "1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
}

}  // namespace
}  // namespace runway::notify
