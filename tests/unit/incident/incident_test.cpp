// Incidents as folds of their events, driven with a fake clock: the state machine, reminders
// and escalation at the configured response time and update cadence, and the postmortem draft
// against a golden file (tests/data/incident/postmortem.md; RUNWAY_UPDATE_GOLDEN=1 rewrites it).

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/config/loader.hpp"
#include "runway/incident/incident.hpp"
#include "test_paths.hpp"

namespace runway::incident {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The runbook's severities: SEV-1 acknowledged within 15 minutes, updates every 15 minutes;
// SEV-3 within 2 hours, updates as needed.
const char* kSeverities = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services: [{name: web, local: {command: [web]}}]
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: oncall}
spec: {pagerduty: {routingKeyEnv: PD_KEY}}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {name: management}
spec: {slack: {webhookUrlEnv: MGMT_URL}}
---
apiVersion: runway/v1
kind: IncidentSeverity
metadata: {name: sev-1}
spec:
  level: 1
  description: Complete service outage or major functionality broken
  responseTime: 15m
  updateEvery: 15m
  escalation: [oncall, management]
---
apiVersion: runway/v1
kind: IncidentSeverity
metadata: {name: sev-3}
spec:
  level: 3
  responseTime: 2h
  escalation: [oncall]
)";

// Plays the role of the store: events appended get a sequence number.
class Log {
 public:
  void append(const store::NewEvent& e) {
    store::EventRecord r;
    r.seq = static_cast<std::int64_t>(records_.size()) + 1;
    r.at = e.at;
    r.actor = e.actor;
    r.kind = e.kind;
    r.subject = e.subject;
    r.reason = e.reason;
    r.data_json = e.data_json;
    records_.push_back(r);
  }
  Incident incident(const std::string& id) const {
    auto r = replay(id, records_);
    EXPECT_TRUE(r.has_value());
    return r ? *r : Incident{};
  }
  const std::vector<store::EventRecord>& records() const { return records_; }

 private:
  std::vector<store::EventRecord> records_;
};

class IncidentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = config::loadConfigText(kSeverities, "t.yaml");
    ASSERT_TRUE(loaded.ok());
    cfg_ = *loaded.config;
  }

  void open(int severity = 1) {
    Opening o;
    o.id = "inc-1";
    o.title = "production: v1.4.0 rolled back";
    o.severity = severity;
    o.environment = "production";
    o.deployment = "dep-01";
    o.reason = "error-rate 0.031 > 0.01";
    o.evidence = {{"metric", "error-rate"}, {"value", "0.031"}, {"threshold", "> 0.01"}};
    o.actor = "runway";
    o.at = clock_.now();
    log_.append(openEvent(o));
  }

  void doVerb(Verb verb, const std::string& actor, const std::string& text = "") {
    auto e = act(log_.incident("inc-1"), verb, actor, text, clock_.now());
    ASSERT_TRUE(e.has_value()) << e.error().message;
    log_.append(*e);
  }

  // Sends what is due (as the server's reminder loop does) and returns the keys.
  std::vector<std::string> remind() {
    std::vector<std::string> keys;
    const auto inc = log_.incident("inc-1");
    for (const auto& r : dueReminders(inc, cfg_.findSeverity(inc.severity), clock_.now())) {
      keys.push_back(r.key + (r.channel.empty() ? "" : "→" + r.channel));
      log_.append(reminderEvent(inc, r, clock_.now()));
    }
    return keys;
  }

  config::Config cfg_;
  FakeClock clock_{fromUnixMillis(1'765'000'000'000)};
  Log log_;
};

TEST_F(IncidentTest, StatesMoveForwardOnly) {
  open();
  auto inc = log_.incident("inc-1");
  EXPECT_EQ(inc.status, Status::Open);
  EXPECT_EQ(inc.deployments, std::vector<std::string>{"dep-01"});
  doVerb(Verb::Acknowledge, "alice");
  inc = log_.incident("inc-1");
  EXPECT_EQ(inc.status, Status::Acknowledged);
  EXPECT_EQ(inc.commander, "alice");  // who acknowledges commands until someone is named
  auto again = act(inc, Verb::Acknowledge, "bob", "", clock_.now());
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::FailedPrecondition);
  EXPECT_EQ(again.error().message, "cannot acknowledge incident inc-1: it is acknowledged");
  doVerb(Verb::Commander, "alice", "bob");
  doVerb(Verb::Mitigate, "bob", "rolled back to v1.3.2");
  doVerb(Verb::Resolve, "bob", "error rate back to 0.05 %");
  inc = log_.incident("inc-1");
  EXPECT_EQ(inc.status, Status::Resolved);
  EXPECT_EQ(inc.commander, "bob");
  for (auto verb : {Verb::Acknowledge, Verb::Update, Verb::Mitigate, Verb::Resolve, Verb::Commander}) {
    EXPECT_EQ(act(inc, verb, "x", "y", clock_.now()).error().code, ErrorCode::FailedPrecondition) << toString(verb);
  }
  // What the request lacks is said before what the state refuses (400, not 412): an update
  // without a message, or a commander without a name, of a resolved incident.
  EXPECT_EQ(act(inc, Verb::Update, "x", "", clock_.now()).error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(act(inc, Verb::Commander, "x", "", clock_.now()).error().code, ErrorCode::InvalidArgument);
  // Notes are always possible; empty texts are not.
  EXPECT_TRUE(act(inc, Verb::Note, "carol", "customer emails answered", clock_.now()).has_value());
  EXPECT_EQ(act(inc, Verb::Note, "carol", "", clock_.now()).error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(replay("inc-2", log_.records()).error().code, ErrorCode::NotFound);
}

TEST_F(IncidentTest, UnacknowledgedSev1EscalatesEachResponseTime) {
  open(1);
  EXPECT_TRUE(remind().empty());
  clock_.advance(std::chrono::minutes(14));
  EXPECT_TRUE(remind().empty());
  clock_.advance(std::chrono::minutes(1));  // 15 min: the next target, and the first update is due
  EXPECT_THAT(remind(), ElementsAre("escalate-1→management", "overdue-1765000000000"));
  EXPECT_TRUE(remind().empty());  // once
  clock_.advance(std::chrono::minutes(15));  // no third target; the overdue reminder is not repeated
  EXPECT_TRUE(remind().empty());
  doVerb(Verb::Acknowledge, "alice");
  doVerb(Verb::Update, "alice", "investigating the connection pool");
  clock_.advance(std::chrono::minutes(15));
  const auto keys = remind();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_THAT(keys[0], ::testing::StartsWith("overdue-"));
  const auto inc = log_.incident("inc-1");
  EXPECT_THAT(inc.timeline.back().text, HasSubstr("status update overdue: the last was 15m 00s ago"));
}

TEST_F(IncidentTest, Sev3HasNoUpdateCadenceAndAcknowledgedIncidentsDoNotEscalate) {
  open(3);
  clock_.advance(std::chrono::hours(5));
  EXPECT_TRUE(remind().empty());  // one escalation target only, and updates "as needed"
  open(1);
  doVerb(Verb::Acknowledge, "alice");
  doVerb(Verb::Mitigate, "alice", "rolled back");
  clock_.advance(std::chrono::hours(1));
  EXPECT_TRUE(remind().empty());  // mitigated: no escalation, no update reminders
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(IncidentTest, PostmortemMatchesTheGoldenFile) {
  open(1);
  clock_.advance(std::chrono::minutes(4));
  doVerb(Verb::Acknowledge, "alice");
  doVerb(Verb::Commander, "alice", "bob");
  clock_.advance(std::chrono::minutes(6));
  doVerb(Verb::Update, "bob", "database connection pool exhausted since v1.4.0");
  doVerb(Verb::Link, "bob", "dep-02");
  clock_.advance(std::chrono::minutes(2));
  doVerb(Verb::Mitigate, "bob", "rolled back to v1.3.2 | error rate falling");
  clock_.advance(std::chrono::minutes(28));
  doVerb(Verb::Note, "carol", "status page updated");
  doVerb(Verb::Resolve, "bob", "error rate at 0.05 % for 15 min");
  const std::string text = postmortem(log_.incident("inc-1"));
  const std::string golden = std::string(RUNWAY_SOURCE_DIR) + "/tests/data/incident/postmortem.md";
  if (std::getenv("RUNWAY_UPDATE_GOLDEN") != nullptr) std::ofstream(golden) << text;
  EXPECT_EQ(text, slurp(golden));
}

// The runbook's "Initial Alert" template, as configuration, rendered for an incident.
TEST_F(IncidentTest, TemplatesRenderTheRunbooksWording) {
  open(1);
  clock_.advance(std::chrono::minutes(3));
  const auto inc = log_.incident("inc-1");
  const auto vars = templateVars(inc, cfg_.findSeverity(1), "All user requests failing", clock_.now());
  const std::string text = renderTemplate(
      "\U0001F6A8 INCIDENT ALERT [{{severity}}]\n\nIssue: {{ title }}\nImpact: {{message}}\nDetected: {{detected}}\n"
      "Next Update: {{next_update}} ({{duration}} in, commander {{commander}}){{unknown}}",
      vars);
  EXPECT_EQ(text,
            "\U0001F6A8 INCIDENT ALERT [SEV-1]\n\nIssue: production: v1.4.0 rolled back\nImpact: All user requests "
            "failing\nDetected: 2025-12-06T05:46:40.000Z\nNext Update: 06:04 UTC (3m 00s in, commander not named yet)");
  EXPECT_EQ(renderTemplate("no placeholders {{", {}), "no placeholders {{");
  EXPECT_EQ(templateVars(inc, cfg_.findSeverity(3), "", clock_.now()).at("next_update"), "as needed");
}

}  // namespace
}  // namespace runway::incident
