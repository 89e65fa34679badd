// Incidents through the real server and CLI: open, acknowledge, update, note, mitigate, resolve;
// an unacknowledged SEV-1 escalates to the next channel after its response time and reminds of
// an overdue update; PagerDuty gets trigger, acknowledge and resolve on the incident's dedup key;
// the postmortem draft names what happened.

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

std::string incidentConfig(const std::string& pagerduty_url) {
  return fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata: {{name: shop}}
spec:
  services:
    - name: web
      local: {{command: ["runway-demo-app", "--port", "${{PORT}}"]}}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {{name: oncall}}
spec:
  pagerduty: {{routingKeyEnv: PD_KEY, url: "{}"}}
  retry: {{initialBackoff: 100ms, maxBackoff: 1s}}
---
apiVersion: runway/v1
kind: NotificationChannel
metadata: {{name: management}}
spec:
  slack: {{webhookUrlEnv: MGMT_URL}}
  retry: {{initialBackoff: 100ms, maxBackoff: 1s}}
---
apiVersion: runway/v1
kind: IncidentSeverity
metadata: {{name: sev-1}}
spec:
  level: 1
  responseTime: 1s
  updateEvery: 2s
  escalation: [oncall, management]
---
apiVersion: runway/v1
kind: IncidentSeverity
metadata: {{name: sev-2}}
spec:
  level: 2
  responseTime: 1h
  escalation: [oncall]
---
apiVersion: runway/v1
kind: IncidentTemplate
metadata: {{name: initial-alert}}
spec:
  text: "INCIDENT ALERT [{{{{severity}}}}] Issue: {{{{title}}}}. Impact: {{{{message}}}}. Next update: {{{{next_update}}}}"
---
apiVersion: runway/v1
kind: IncidentTemplate
metadata: {{name: resolution}}
spec:
  text: "INCIDENT RESOLVED [{{{{severity}}}}] Resolution: {{{{message}}}}. Duration: {{{{duration}}}}"
---
apiVersion: runway/v1
kind: Environment
metadata: {{name: production}}
spec:
  runtime: {{local: {{}}}}
)",
                     pagerduty_url);
}

class IncidentServeTest : public ::testing::Test {
 protected:
  // Runs the runway CLI against the server; returns (exit code, stdout).
  std::pair<int, std::string> cli(std::vector<std::string> args) {
    SubprocessOptions o;
    o.argv = {binaryPath("runway").string()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.argv.insert(o.argv.end(), {"--server", server_.url(), "--token", server_.adminToken()});
    o.stderr_to = Output::pipe();
    auto p = Subprocess::start(std::move(o));
    if (!p) return {-1, p.error().message};
    auto out = p->readToEnd(deadlineIn(30s));
    auto status = p->waitExit(deadlineIn(30s));
    if (!out || !status || !status->exited) return {-1, "did not finish"};
    return {status->code, out->out + out->err};
  }

  json::value incident(const std::string& id) { return server_.getJson("/api/v1/incidents/" + id); }

  std::vector<std::string> kinds(const std::string& id) {
    std::vector<std::string> out;
    auto v = incident(id);
    if (!v.is_object()) return out;
    for (const auto& t : v.at("timeline").as_array()) out.emplace_back(t.at("kind").as_string());
    return out;
  }

  TempDir dir_{"runway-incidents"};
  ServeFixture server_{dir_.path()};
};

TEST_F(IncidentServeTest, LifecycleEscalationRemindersAndPostmortem) {
  FakeReceiver pagerduty(FakeReceiver::Kind::PagerDuty), management(FakeReceiver::Kind::Slack);
  ASSERT_TRUE(pagerduty.start());
  ASSERT_TRUE(management.start());
  server_.writeConfig(incidentConfig(pagerduty.url()));
  server_.setEnv({{"PD_KEY", "0123456789abcdef0123456789abcdef"}, {"MGMT_URL", management.url() + "/services/T/B/mgmt"}});
  ASSERT_TRUE(server_.start());

  // A SEV-2 worked through its whole life with the CLI.
  auto [code, out] = cli({"incident", "open", "Checkout latency doubled", "--severity", "2", "--env", "production",
                          "--reason", "P95 2.1 s since 10:40", "-o", "json"});
  ASSERT_EQ(code, 0) << out;
  const std::string id(json::parse(out).at("id").as_string());
  EXPECT_EQ(cli({"incident", "ack", id}).first, 0);
  EXPECT_EQ(cli({"incident", "commander", id, "bob"}).first, 0);
  EXPECT_EQ(cli({"incident", "update", id, "connection pool exhausted"}).first, 0);
  EXPECT_EQ(cli({"incident", "note", id, "status page updated"}).first, 0);
  EXPECT_EQ(cli({"incident", "mitigate", id, "pool raised from 20 to 50"}).first, 0);
  auto again = cli({"incident", "ack", id});
  EXPECT_EQ(again.first, 1);
  EXPECT_THAT(again.second, ::testing::HasSubstr("cannot acknowledge incident " + id + ": it is mitigated"));
  EXPECT_EQ(cli({"incident", "resolve", id, "P95 back to 0.8 s"}).first, 0);
  EXPECT_EQ(kinds(id), (std::vector<std::string>{"incident.opened", "incident.acknowledged", "incident.commander",
                                                 "incident.updated", "incident.note", "incident.mitigated",
                                                 "incident.resolved"}));
  auto show = cli({"incident", "show", id});
  EXPECT_EQ(show.first, 0);
  EXPECT_THAT(show.second, ::testing::HasSubstr("resolved"));
  auto pm = cli({"incident", "postmortem", id});
  ASSERT_EQ(pm.first, 0) << pm.second;
  EXPECT_THAT(pm.second, ::testing::HasSubstr("# Postmortem draft: Checkout latency doubled"));
  EXPECT_THAT(pm.second, ::testing::HasSubstr("- Commander: bob"));
  EXPECT_THAT(pm.second, ::testing::HasSubstr("pool raised from 20 to 50"));
  // A level the configuration does not define is refused.
  EXPECT_EQ(cli({"incident", "open", "x", "--severity", "7"}).first, 2);

  // A SEV-1 nobody acknowledges: after its response time the next channel is told, and the
  // missed update is reminded.
  auto sev1 = server_.call("POST", "/api/v1/incidents", R"({"title":"API down","severity":1,"environment":"production"})");
  ASSERT_TRUE(sev1 && sev1->status == 201) << (sev1 ? sev1->body : sev1.error().message);
  const std::string urgent(json::parse(sev1->body).at("id").as_string());
  ASSERT_TRUE(pollUntil(
      [&] {
        auto k = kinds(urgent);
        return std::count(k.begin(), k.end(), "incident.escalated") == 1 &&
               std::count(k.begin(), k.end(), "incident.update_overdue") >= 1;
      },
      deadlineIn(30s)))
      << ::testing::PrintToString(kinds(urgent));
  ASSERT_TRUE(pollUntil(
      [&] {
        auto v = server_.getJson("/api/v1/notifications?status=pending");
        return v.is_object() && v.at("notifications").as_array().empty();
      },
      deadlineIn(30s)));
  bool escalated = false;
  for (const auto& r : management.received()) escalated = escalated || r.body.find("escalated to management") != std::string::npos;
  EXPECT_TRUE(escalated);
  // PagerDuty: the SEV-2's trigger, acknowledge and resolve on one dedup key.
  std::vector<std::string> actions;
  for (const auto& r : pagerduty.received()) {
    if (!r.accepted) continue;
    const auto v = json::parse(r.body);
    if (v.at("dedup_key").as_string() == "runway/incident/" + id) actions.emplace_back(v.at("event_action").as_string());
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"trigger", "acknowledge", "resolve"}));
  // The trigger and the resolve carry the configured templates' wording.
  std::string summaries;
  for (const auto& r : pagerduty.received()) {
    const auto v = json::parse(r.body);
    if (r.accepted && v.as_object().contains("payload")) summaries += std::string(v.at("payload").at("summary").as_string()) + "\n";
  }
  EXPECT_THAT(summaries, ::testing::HasSubstr("INCIDENT ALERT [SEV-2] Issue: Checkout latency doubled. Impact: P95 2.1 s "
                                              "since 10:40. Next update: as needed"));
  EXPECT_THAT(pagerduty.violations(), ::testing::IsEmpty());
  EXPECT_THAT(management.violations(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace runway::test
