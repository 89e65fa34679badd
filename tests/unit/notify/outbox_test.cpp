// The outbox worker with a fake clock and a scripted transport: retries and backoff on network
// errors, 429 (Retry-After) and 5xx, no retry on other 4xx, give-up after maxAttempts, order per
// dedup key, secrets kept out of records and logs.

#include <deque>
#include <mutex>
#include <string>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/config/loader.hpp"
#include "runway/notify/message.hpp"
#include "runway/notify/outbox.hpp"
#include "support/net.hpp"
#include "support/temp_dir.hpp"

namespace runway::notify {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const char* kOutboxConfig = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services: [{name: web, local: {command: [web]}}]
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: chat}
spec:
  slack: {webhookUrlEnv: SLACK_URL}
  timeout: 500ms
  retry: {initialBackoff: 1s, maxBackoff: 8s, maxAttempts: 6}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: pager}
spec:
  pagerduty: {routingKeyEnv: PD_KEY, url: "http://127.0.0.1:9"}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: production}
spec:
  notifications: [{channel: chat}, {channel: pager}]
)";

// Answers each request with the next scripted response (or a network error); 200 when the
// script is done. Records every request.
class ScriptedTransport final : public Transport {
 public:
  struct Step {
    int status = 200;
    std::string retry_after;
    std::optional<ErrorCode> error;  // set: no response, this error
    std::string body;
  };
  void script(std::deque<Step> steps) {
    std::lock_guard lock(mu_);
    steps_ = std::move(steps);
  }
  Result<http::Response> send(const http::Request& request) override {
    std::lock_guard lock(mu_);
    requests.push_back(request);
    Step step;
    if (!steps_.empty()) {
      step = steps_.front();
      steps_.pop_front();
    }
    if (step.error) return fail(*step.error, "POST " + request.log_name + ": timed out");
    http::Response r;
    r.status = step.status;
    r.body = step.body;
    if (!step.retry_after.empty()) r.headers["retry-after"] = step.retry_after;
    return r;
  }
  std::vector<http::Request> requests;

 private:
  std::mutex mu_;
  std::deque<Step> steps_;
};

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::openSqliteStore((dir_ / "runway.db").string());
    ASSERT_TRUE(opened.has_value());
    store_ = std::move(*opened);
    auto loaded = config::loadConfigText(kOutboxConfig, "t.yaml");
    ASSERT_TRUE(loaded.ok());
    config_ = std::make_shared<const config::Config>(std::move(*loaded.config));
    secrets_ = {{"SLACK_URL", "http://127.0.0.1:9/services/T000/B000/XXXXsecretXXXX"},
                {"PD_KEY", "0123456789abcdef0123456789abcdef"}};
    OutboxOptions o;
    o.store = store_;
    o.clock = clock_;
    o.transport = transport_;
    o.config = [this] { return config_; };
    o.secret = [this](const std::string& name) -> std::optional<std::string> {
      auto it = secrets_.find(name);
      if (it == secrets_.end()) return std::nullopt;
      return it->second;
    };
    worker_ = std::make_unique<OutboxWorker>(std::move(o));
  }

  // Enqueues `event` for deployment `id` to the channels production routes it to.
  void enqueue(const std::string& event, const std::string& id = "d-1") {
    Message m;
    m.event = event;
    m.title = "production: v2 " + event;
    m.environment = "production";
    m.version = "v2";
    m.deployment_id = id;
    m.dedup_key = dedupKeyFor("production", id);
    m.at = clock_->now();
    ASSERT_TRUE(store_->enqueueNotifications(route(*config_, m), {}).has_value());
  }

  store::NotificationRecord only(const std::string& channel) {
    const auto all = store_->listNotifications({});
    if (!all) ADD_FAILURE() << all.error().message;
    for (const auto& n : all.value_or(std::vector<store::NotificationRecord>{})) {
      if (n.channel == channel) return n;
    }
    ADD_FAILURE() << "no notification for " << channel;
    return {};
  }

  int pass() {
    auto r = worker_->deliverDue();
    EXPECT_TRUE(r.has_value());
    return r ? *r : -1;
  }

  test::TempDir dir_{"runway-outbox"};
  std::shared_ptr<store::Store> store_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::shared_ptr<ScriptedTransport> transport_ = std::make_shared<ScriptedTransport>();
  std::shared_ptr<const config::Config> config_;
  std::map<std::string, std::string> secrets_;
  std::unique_ptr<OutboxWorker> worker_;
};

TEST_F(OutboxTest, ServerErrorThrottleAndTimeoutAreRetriedWithBackoffThenDeliveredOnce) {
  config_ = std::make_shared<const config::Config>([&] {
    auto c = *config_;
    c.environments[0].notifications.pop_back();  // chat only
    return c;
  }());
  enqueue("deployment.rolled_back");
  transport_->script({{500, "", std::nullopt, "rollup_error"},
                      {429, "5", std::nullopt, ""},
                      {0, "", ErrorCode::Timeout, ""},
                      {200, "", std::nullopt, "ok"}});
  const TimePoint t0 = clock_->now();
  EXPECT_EQ(pass(), 1);  // 500 → next in 1 s (initial backoff)
  auto n = only("chat");
  EXPECT_EQ(n.status, "pending");
  EXPECT_EQ(n.last_status, 500);
  EXPECT_EQ(n.last_error, "HTTP 500: rollup_error");
  EXPECT_EQ(n.next_attempt_at, t0 + Duration{1000});
  EXPECT_EQ(pass(), 0);  // not due yet
  clock_->advance(Duration{1000});
  EXPECT_EQ(pass(), 1);  // 429 Retry-After: 5 beats the 2 s backoff
  n = only("chat");
  EXPECT_EQ(n.next_attempt_at, clock_->now() + Duration{5000});
  clock_->advance(Duration{4999});
  EXPECT_EQ(pass(), 0);
  clock_->advance(Duration{1});
  EXPECT_EQ(pass(), 1);  // timeout → 4 s
  n = only("chat");
  EXPECT_EQ(n.last_status, 0);
  EXPECT_EQ(n.next_attempt_at, clock_->now() + Duration{4000});
  clock_->advance(Duration{4000});
  EXPECT_EQ(pass(), 1);  // 200
  n = only("chat");
  EXPECT_EQ(n.status, "delivered");
  EXPECT_EQ(n.attempts, 4);
  EXPECT_EQ(n.last_error, "");
  clock_->advance(Duration{60'000});
  EXPECT_EQ(pass(), 0);
  EXPECT_EQ(transport_->requests.size(), 4u);
  EXPECT_EQ(worker_->counters().delivered, 1);
  EXPECT_EQ(worker_->counters().retried, 3);
  // Every attempt was the same request.
  for (const auto& r : transport_->requests) EXPECT_EQ(r.body, transport_->requests[0].body);
}

TEST_F(OutboxTest, ClientErrorIsNotRetriedAndKeepsTheResponse) {
  enqueue("deployment.rolled_back");
  transport_->script({{400, "", std::nullopt, "invalid_payload"}, {202, "", std::nullopt, ""}});
  EXPECT_EQ(pass(), 2);
  auto chat = only("chat");
  EXPECT_EQ(chat.status, "failed");
  EXPECT_EQ(chat.last_status, 400);
  EXPECT_EQ(chat.last_error, "HTTP 400: invalid_payload");
  EXPECT_EQ(only("pager").status, "delivered");
  clock_->advance(Duration{3'600'000});
  EXPECT_EQ(pass(), 0);
  EXPECT_EQ(transport_->requests.size(), 2u);
  EXPECT_EQ(worker_->counters().failed, 1);
}

TEST_F(OutboxTest, GivesUpAfterMaxAttemptsWithTheBackoffCapped) {
  config_ = std::make_shared<const config::Config>([&] {
    auto c = *config_;
    c.environments[0].notifications.pop_back();
    return c;
  }());
  enqueue("deployment.failed");
  transport_->script(std::deque<ScriptedTransport::Step>(10, {503, "", std::nullopt, ""}));
  std::vector<Duration> waits;
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(pass(), 1);
    auto n = only("chat");
    if (n.status != "pending") break;
    waits.push_back(n.next_attempt_at - clock_->now());
    clock_->set(n.next_attempt_at);
  }
  EXPECT_EQ(waits, (std::vector<Duration>{Duration{1000}, Duration{2000}, Duration{4000}, Duration{8000},
                                          Duration{8000}}));
  auto n = only("chat");
  EXPECT_EQ(n.status, "failed");
  EXPECT_EQ(n.attempts, 6);
  EXPECT_EQ(n.last_error, "gave up after 6 attempts: HTTP 503");
}

TEST_F(OutboxTest, LaterMessagesOfOneDedupKeyWaitForEarlierOnes) {
  config_ = std::make_shared<const config::Config>([&] {
    auto c = *config_;
    c.environments[0].notifications.erase(c.environments[0].notifications.begin());  // pager only
    return c;
  }());
  enqueue("deployment.degraded", "d-1");      // trigger
  enqueue("watch.completed", "d-1");          // resolve: must not overtake the trigger
  enqueue("deployment.rolled_back", "d-2");   // another deployment: independent
  transport_->script({{502, "", std::nullopt, ""}});
  EXPECT_EQ(pass(), 2);  // d-1's trigger (502) and d-2's trigger
  ASSERT_EQ(transport_->requests.size(), 2u);
  EXPECT_THAT(transport_->requests[0].body, HasSubstr("\"event_action\":\"trigger\""));
  EXPECT_THAT(transport_->requests[1].body, HasSubstr("runway/production/d-2"));
  EXPECT_EQ(pass(), 0);  // the resolve waits behind the pending trigger
  clock_->advance(Duration{1000});
  EXPECT_EQ(pass(), 1);  // the trigger again (now delivered)
  EXPECT_EQ(pass(), 1);  // then the resolve
  ASSERT_EQ(transport_->requests.size(), 4u);
  EXPECT_THAT(transport_->requests[2].body, HasSubstr("\"event_action\":\"trigger\""));
  EXPECT_THAT(transport_->requests[3].body, HasSubstr("\"event_action\":\"resolve\""));
  EXPECT_EQ(transport_->requests[3].url, "http://127.0.0.1:9/v2/enqueue");
}

TEST_F(OutboxTest, MissingSecretOrChannelFailsAtOnceWithoutSending) {
  enqueue("deployment.rolled_back");
  secrets_.erase("PD_KEY");
  auto c = *config_;
  c.channels.erase(c.channels.begin());  // chat is gone
  config_ = std::make_shared<const config::Config>(std::move(c));
  EXPECT_EQ(pass(), 2);
  EXPECT_TRUE(transport_->requests.empty());
  EXPECT_EQ(only("chat").last_error, "channel chat is no longer configured");
  EXPECT_EQ(only("pager").last_error,
            "environment variable PD_KEY (the secret of channel pager) is not set");
  EXPECT_EQ(only("pager").status, "failed");
}

// The real HTTP client against a port nothing listens on: the error recorded names the channel,
// never the Slack webhook URL (which is the secret).
TEST_F(OutboxTest, NetworkErrorsAreRecordedWithoutTheSecret) {
  auto port = test::freeLoopbackPort();
  ASSERT_TRUE(port.has_value());
  secrets_["SLACK_URL"] = fmt::format("http://127.0.0.1:{}/services/T000/B000/XXXXsecretXXXX", *port);
  OutboxOptions o;
  o.store = store_;
  o.clock = clock_;
  o.transport = httpTransport();
  o.config = [this] { return config_; };
  o.secret = [this](const std::string& name) -> std::optional<std::string> { return secrets_.at(name); };
  OutboxWorker real(std::move(o));
  enqueue("deployment.rolled_back");
  auto r = real.deliverDue();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 2);
  auto chat = only("chat");
  EXPECT_EQ(chat.status, "pending");
  EXPECT_THAT(chat.last_error, HasSubstr("slack channel chat"));
  EXPECT_THAT(chat.last_error, Not(HasSubstr("secret")));
  EXPECT_THAT(chat.last_error, Not(HasSubstr("/services/")));
}

}  // namespace
}  // namespace runway::notify
