// The persisted document of a deployment round-trips, and a damaged one is refused with the
// reason rather than half-read.

#include <gtest/gtest.h>

#include "runway/controller/controller.hpp"
#include "runway/engine/json.hpp"

namespace runway::controller {
namespace {

PersistedDeployment sample() {
  PersistedDeployment d;
  d.state.id = "dep-1";
  d.state.environment = "production";
  d.state.version = "v2";
  d.state.phase = engine::Phase::Progressing;
  d.starts.push_back(engine::StartVersion{"api", "v2", "api:v2", 3, engine::Colour::Green});
  engine::SetTraffic t;
  t.service = "api";
  t.weights = {{"v1", 90}, {"v2", 10}};
  engine::HeaderRouteSpec route;
  route.header = "X-Canary";
  route.value = "yes";
  t.routes.push_back(engine::RouteRule{route, "v2"});
  d.traffic.push_back(t);
  d.retirements.push_back(engine::RetireVersion{"api", "v0", fromUnixMillis(1'700'000'123'000)});
  engine::StartAnalysis a;
  a.run = 4;
  a.kind = engine::RunKind::Background;
  a.version = "v2";
  a.baseline = "v1";
  a.templates = {"errors"};
  a.args = {{"service", "api"}};
  a.interval = Duration{2000};
  d.analyses.push_back(a);
  engine::RunChecks c;
  c.run = 5;
  c.kind = engine::CheckKind::Step;
  c.step = 2;
  c.version = "v2";
  c.checks.smoke = "critical";
  d.checks.push_back(c);
  d.latest["4/error-rate"] = PersistedDeployment::Measured{0.25, "Failed", fromUnixMillis(1'700'000'000'500)};
  d.rollback = true;
  d.emergency = true;
  d.strategy = config::StrategyKind::Canary;
  d.requested_by = "alice";
  d.reason = "hotfix";
  d.hooks.push_back({config::HookPoint::PreRollback, 2});
  d.hooks.push_back({config::HookPoint::PostRollback, 2});
  return d;
}

TEST(PersistTest, RoundTripsEveryField) {
  const PersistedDeployment d = sample();
  auto back = parsePersisted(toJson(d));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->state, d.state);
  EXPECT_EQ(back->starts, d.starts);
  EXPECT_EQ(back->traffic, d.traffic);
  EXPECT_EQ(back->retirements, d.retirements);
  EXPECT_EQ(back->analyses, d.analyses);
  EXPECT_EQ(back->checks, d.checks);
  ASSERT_EQ(back->latest.count("4/error-rate"), 1u);
  EXPECT_DOUBLE_EQ(back->latest.at("4/error-rate").value, 0.25);
  EXPECT_EQ(back->latest.at("4/error-rate").outcome, "Failed");
  EXPECT_EQ(back->rollback, true);
  EXPECT_EQ(back->emergency, true);
  EXPECT_EQ(back->strategy, config::StrategyKind::Canary);
  EXPECT_EQ(back->requested_by, "alice");
  EXPECT_EQ(back->reason, "hotfix");
  EXPECT_EQ(back->hooks, d.hooks);
  EXPECT_EQ(toJson(*back), toJson(d));
}

// An ended deployment with hook intents left is still live (recovery runs them); a document
// written before hook intents were kept reads as having none.
TEST(PersistTest, HookIntentsKeepAnEndedDeploymentLive) {
  PersistedDeployment d = sample();
  d.state.phase = engine::Phase::RolledBack;
  d.state.watching = false;
  d.retirements.clear();
  d.analyses.clear();
  d.checks.clear();
  d.queued = false;
  EXPECT_TRUE(d.live());
  d.hooks.clear();
  EXPECT_FALSE(d.live());
  auto old = parsePersisted(R"({"state":)" + engine::stateToJson(d.state) + "}");
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_TRUE(old->hooks.empty());
}

TEST(PersistTest, LiveWhileAnythingIsLeftToDo) {
  PersistedDeployment d;
  d.state.phase = engine::Phase::Succeeded;
  EXPECT_FALSE(d.live());
  d.retirements.push_back(engine::RetireVersion{"api", "v1", TimePoint{}});
  EXPECT_TRUE(d.live());  // the old version still has to be retired
  d.retirements.clear();
  d.state.watching = true;
  EXPECT_TRUE(d.live());  // post-deploy watch
  d.state.watching = false;
  d.queued = true;
  EXPECT_TRUE(d.live());
  d.queued = false;
  d.state.phase = engine::Phase::Progressing;
  EXPECT_TRUE(d.live());
}

TEST(PersistTest, DamagedDocumentsAreRefused) {
  EXPECT_FALSE(parsePersisted("not json"));
  EXPECT_FALSE(parsePersisted("[]"));
  EXPECT_FALSE(parsePersisted(R"({"starts":[]})"));  // no state
  std::string text = toJson(sample());
  const auto at = text.find("\"requestedBy\":\"alice\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 21, "\"requestedBy\":42");
  auto r = parsePersisted(text);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("requestedBy"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace runway::controller
