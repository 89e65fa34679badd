// The reconciler driven synchronously (harness.hpp): one input → one commit → its actions, and
// crashes between them.

#include "reconciler.hpp"

#include <gtest/gtest.h>

#include "forwarding_store.hpp"
#include "harness.hpp"
#include "runway/incident/incident.hpp"

namespace runway::controller::testing {
namespace {

struct Crash {};

using Kind = engine::OperatorCommand::Kind;

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_ = loadTestConfig();
    ASSERT_NE(cfg_, nullptr);
    h_ = std::make_unique<Harness>(cfg_);
    ASSERT_TRUE(h_->boot());
  }

  std::string deploy(const std::string& env, const std::string& version) {
    auto r = h_->r().deploy(deployOf(env, version));
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    h_->clock->advance(Duration{5});
    h_->settle();
    return r ? r->deployment_id : std::string();
  }

  // v1 serving in `env` (a first release succeeds at once).
  void serveV1(const std::string& env) {
    const auto id = deploy(env, "v1");
    ASSERT_EQ(h_->phaseOf(id), "Succeeded");
  }

  std::shared_ptr<const config::Config> cfg_;
  std::unique_ptr<Harness> h_;
};

TEST_F(ReconcilerTest, APromotionCommitsWhatServesWithTheState) {
  serveV1("rolling");
  EXPECT_EQ(h_->runtime->serving("rolling", "web"), "v1");
  auto serving = h_->store->getServing("rolling");
  ASSERT_TRUE(serving && serving->has_value());
  EXPECT_EQ((*serving)->version, "v1");
  const auto v2 = deploy("rolling", "v2");
  h_->advance(Duration{5000});
  EXPECT_EQ(h_->phaseOf(v2), "Succeeded");
  EXPECT_EQ((*h_->store->getServing("rolling"))->version, "v2");
  EXPECT_EQ((*h_->store->getServing("rolling"))->deployment_id, v2);
  EXPECT_EQ(h_->runtime->serving("rolling", "api"), "v2");
}

// The server's pass (Reconciler::pass) does not ask the runtime about every deployment: it
// refreshes the services the runtime said changed, and a sweep, on refreshes, finds a change
// no event reported.
TEST_F(ReconcilerTest, APassRefreshesWhatTheRuntimeSaysChangedAndTheSweepFindsTheRest) {
  serveV1("rolling");
  h_->runtime->never_ready.insert("v2");
  auto r = h_->r().deploy(deployOf("rolling", "v2"));
  ASSERT_TRUE(r) << r.error().message;
  const std::string id = r->deployment_id;
  h_->settlePasses(false);
  ASSERT_TRUE(h_->r().deployments().contains(id)) << h_->phaseOf(id);
  const auto ready = [&](const std::string& service) {
    for (const auto& sv : h_->r().deployments().all().at(id).doc.state.services) {
      if (sv.name == service) return sv.new_ready;
    }
    return -1;
  };
  ASSERT_EQ(ready("web"), 0);
  ASSERT_EQ(ready("api"), 0);
  // v2's instances become ready and nobody says so: passes without a refresh do not look.
  h_->runtime->never_ready.clear();
  h_->clock->advance(Duration{1000});
  h_->settlePasses(false);
  EXPECT_EQ(ready("web"), 0);
  EXPECT_EQ(ready("api"), 0);
  // The runtime reports web's change: web is refreshed, not api.
  const auto handler = h_->r().runtimeEventHandler();
  handler(runtime::RuntimeEvent{runtime::RuntimeEvent::Kind::InstanceReady, "rolling", "web", "v2", 0, "ready", h_->clock->now()});
  h_->settlePasses(false);
  EXPECT_GT(ready("web"), 0);
  EXPECT_EQ(ready("api"), 0);
  EXPECT_NE(h_->phaseOf(id), "Succeeded");
  // A refresh sweeps the live deployments: api's change is found without an event, and the
  // update completes (the deployment is let go once it has ended).
  h_->settlePasses(true);
  EXPECT_TRUE(!h_->r().deployments().contains(id) || ready("api") > 0);
  h_->advance(Duration{5000});
  EXPECT_EQ(h_->phaseOf(id), "Succeeded");
}

// Timers come from a schedule kept with every commit, not a scan: a timed pause of a canary
// ends on the pass at its time, not on one before; once the deployment has ended nothing of it
// is scheduled.
TEST(ReconcilerPassTest, ATimedPauseEndsOnThePassAtItsTimeAndNoSooner) {
  ConfigKnobs knobs;
  knobs.canary_pause = "pause: {duration: 10s}";
  auto cfg = loadTestConfig(knobs);
  ASSERT_NE(cfg, nullptr);
  Harness h(cfg);
  ASSERT_TRUE(h.boot());
  auto first = h.r().deploy(deployOf("canary", "v1"));
  ASSERT_TRUE(first) << first.error().message;
  h.settlePasses(true);
  ASSERT_EQ(h.phaseOf(first->deployment_id), "Succeeded");
  auto r = h.r().deploy(deployOf("canary", "v2"));
  ASSERT_TRUE(r) << r.error().message;
  const std::string id = r->deployment_id;
  const auto step = [&] { return h.r().deployments().all().at(id).doc.state.step_index; };
  // At the pause: its end is the deployment's wake-up.
  const auto pausing = [&] {
    const auto& s = h.r().deployments().all().at(id).doc.state;
    return s.step_index == 1 && s.wake_at.has_value();
  };
  for (int i = 0; i < 50 && !pausing(); ++i) {
    h.clock->advance(Duration{100});
    h.settlePasses(true);
  }
  ASSERT_TRUE(pausing()) << h.phaseOf(id) << " at step " << step();
  const auto wake = h.r().deployments().all().at(id).doc.state.wake_at;
  ASSERT_TRUE(wake.has_value());
  ASSERT_EQ(h.r().nextDue(), wake);
  const auto paused_at = step();
  h.clock->set(*wake - Duration{1});
  h.settlePasses(false);
  EXPECT_EQ(step(), paused_at);
  h.clock->set(*wake);
  h.settlePasses(false);
  EXPECT_GT(step(), paused_at);
  for (int i = 0; i < 100 && h.r().deployments().contains(id); ++i) {
    h.clock->advance(Duration{500});
    h.settlePasses(true);
  }
  EXPECT_EQ(h.phaseOf(id), "Succeeded");
  EXPECT_FALSE(h.r().nextDue().has_value());
}

TEST_F(ReconcilerTest, ABadBuildRollsBackAndWhatServesStays) {
  serveV1("canary");
  h_->provider->error_rate["v2"] = 0.5;
  const auto v2 = deploy("canary", "v2");
  ASSERT_EQ(h_->phaseOf(v2), "Paused");
  ASSERT_TRUE(h_->r().command(commandOf(v2, Kind::Promote)));
  h_->advance(Duration{10000});
  EXPECT_EQ(h_->phaseOf(v2), "RolledBack");
  EXPECT_EQ(h_->runtime->serving("canary", "web"), "v1");
  EXPECT_EQ((*h_->store->getServing("canary"))->version, "v1");
}

TEST_F(ReconcilerTest, AnAnalysisThatCannotMeasureNeverPromotes) {
  serveV1("canary");
  h_->provider->unmeasurable.insert("error-rate");
  const auto v2 = deploy("canary", "v2");
  ASSERT_TRUE(h_->r().command(commandOf(v2, Kind::Promote)));
  h_->advance(Duration{20000});
  EXPECT_EQ(h_->phaseOf(v2), "RolledBack");
  EXPECT_EQ(h_->runtime->serving("canary", "web"), "v1");
}

// A store whose deployment commits fail with Unavailable while `down` (PostgreSQL stopped).
class StoreThatGoesDown final : public runway::testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  bool down = false;
  int refused = 0;
  using ForwardingStore::updateDeployment;
  Result<store::DeploymentRecord> updateDeployment(const store::DeploymentRecord& r,
                                                   const std::vector<store::NewEvent>& e,
                                                   const std::vector<store::ApprovalRecord>& a,
                                                   const std::optional<store::ServingRecord>& s,
                                                   const std::vector<store::NewNotification>& n) override {
    if (down) {
      ++refused;
      return fail(ErrorCode::Unavailable, "cannot reach the store");
    }
    return ForwardingStore::updateDeployment(r, e, a, s, n);
  }
};

// The failing measurement of a bad build is taken while the store is down: its commit fails,
// and the verdict (the run is complete in memory; nothing measures again) is delivered when
// the store is back. Before, it was dropped and the deployment waited in its analysis step.
TEST(ReconcilerStoreDownTest, AVerdictWhoseCommitFailedIsDeliveredWhenTheStoreIsBack) {
  auto cfg = loadTestConfig();
  ASSERT_NE(cfg, nullptr);
  Harness h(cfg);
  auto flaky = std::make_shared<StoreThatGoesDown>(h.store);
  h.store = flaky;
  ASSERT_TRUE(h.boot());
  auto v1 = h.r().deploy(deployOf("canary", "v1"));
  ASSERT_TRUE(v1);
  h.advance(Duration{1000});
  ASSERT_EQ(h.phaseOf(v1->deployment_id), "Succeeded");
  h.provider->error_rate["v2"] = 0.5;
  auto v2 = h.r().deploy(deployOf("canary", "v2"));
  ASSERT_TRUE(v2);
  h.advance(Duration{1000});
  ASSERT_EQ(h.phaseOf(v2->deployment_id), "Paused");
  ASSERT_TRUE(h.r().command(commandOf(v2->deployment_id, Kind::Promote)));
  flaky->down = true;  // committed: the analysis step has started, nothing measured yet
  h.advance(Duration{10000});
  ASSERT_GT(flaky->refused, 0);
  EXPECT_EQ(h.phaseOf(v2->deployment_id), "Progressing");  // nothing judged was written
  flaky->down = false;
  h.advance(Duration{10000});
  EXPECT_EQ(h.phaseOf(v2->deployment_id), "RolledBack");
  EXPECT_EQ(h.runtime->serving("canary", "web"), "v1");
}

class StoreWithoutSnapshots final : public runway::testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  bool refuse = true;
  Result<std::string> putConfigSnapshot(const std::string& text) override {
    if (refuse) return fail(ErrorCode::Unavailable, "cannot reach the store");
    return ForwardingStore::putConfigSnapshot(text);
  }
};

// A deployment is created only with its configuration snapshot stored: when the store refuses
// the snapshot, the request fails with the store's error and nothing of it exists; the next
// request, with the store back, stores the snapshot and starts.
TEST(ReconcilerSnapshotTest, ADeploymentWhoseSnapshotCannotBeStoredIsNotCreated) {
  auto cfg = loadTestConfig();
  ASSERT_NE(cfg, nullptr);
  Harness h(cfg);
  auto store = std::make_shared<StoreWithoutSnapshots>(h.store);
  h.store = store;
  ASSERT_TRUE(h.boot());
  auto refused = h.r().deploy(deployOf("canary", "v1"));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::Unavailable);
  EXPECT_TRUE(store->inner().listDeployments({})->empty());
  store->refuse = false;
  auto v1 = h.r().deploy(deployOf("canary", "v1"));
  ASSERT_TRUE(v1) << v1.error().message;
  h.advance(Duration{1000});
  EXPECT_EQ(h.phaseOf(v1->deployment_id), "Succeeded");
}

// A crash after the commit and before its traffic action: recovery executes the committed
// intent again, and the deployment carries on from the committed step (not from the start).
TEST_F(ReconcilerTest, ACrashBetweenCommitAndActionReExecutesTheIntent) {
  serveV1("canary");
  bool armed = true;
  h_->runtime->on_effect = [&](const runway::testing::FakeRuntime::Effect& e) {
    if (armed && e.kind == "traffic") {
      armed = false;
      throw Crash{};
    }
  };
  ASSERT_TRUE(h_->r().deploy(deployOf("canary", "v2")).has_value());
  EXPECT_THROW(h_->settle(), Crash);  // the 50 % step is committed; its split is not applied
  h_->crash();
  EXPECT_EQ(h_->runtime->serving("canary", "web"), "v1");  // the split never reached the runtime
  ASSERT_TRUE(h_->boot());
  h_->settle();
  auto list = h_->store->listDeployments(store::DeploymentFilter{"canary", "", "v2", 1});
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().phase, "Paused");
  auto split = h_->runtime->traffic("canary", "web");
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(split->weights.at("v2"), 500);
}

// A lifecycle hook committed as an intent, then a crash before it ran: it runs after recovery.
TEST_F(ReconcilerTest, AHookIntentCommittedBeforeACrashRunsAfterRecovery) {
  bool armed = true;
  h_->hooks->on_run = [&](const FakeHooks::Ran& ran) {
    if (armed && ran.point == config::HookPoint::PostDeploy) {
      armed = false;
      throw Crash{};
    }
  };
  auto r = h_->r().deploy(deployOf("rolling", "v1"));
  ASSERT_TRUE(r.has_value());
  EXPECT_THROW(h_->settle(), Crash);
  h_->crash();
  EXPECT_TRUE(h_->hooks->ran().empty());
  ASSERT_TRUE(h_->boot());
  h_->settle();
  ASSERT_EQ(h_->hooks->ran().size(), 1u);
  EXPECT_EQ(h_->hooks->ran()[0].point, config::HookPoint::PostDeploy);
  auto doc = parsePersisted(h_->store->getDeployment(r->deployment_id)->state_json);
  ASSERT_TRUE(doc.has_value());
  EXPECT_TRUE(doc->hooks.empty());
}

// Queued releases start from what serves, in order; a reload in between does not reach them.
TEST_F(ReconcilerTest, AQueuedReleaseKeepsTheConfigurationItWasRequestedUnder) {
  serveV1("canary");
  const auto v2 = deploy("canary", "v2");
  const auto v3 = deploy("canary", "v3");
  EXPECT_EQ(h_->phaseOf(v3), "Queued");
  ConfigKnobs changed;
  changed.web = "web-v2";
  h_->reload(loadTestConfig(changed));
  ASSERT_TRUE(h_->r().command(commandOf(v2, Kind::Promote)));
  h_->advance(Duration{10000});
  ASSERT_EQ(h_->phaseOf(v2), "Succeeded");
  ASSERT_EQ(h_->phaseOf(v3), "Paused");
  EXPECT_EQ(h_->runtime->command("canary", "web", "v3").front(), "web-v1");
  const auto v4 = deploy("canary", "v4");
  EXPECT_EQ(h_->phaseOf(v4), "Queued");
  ASSERT_TRUE(h_->r().command(commandOf(v3, Kind::Abort)));
  h_->settle();
  EXPECT_EQ(h_->runtime->command("canary", "web", "v4").front(), "web-v2");
}

// Issue 14 item 4: an abort's down-migration (preRollback) runs and is confirmed before the old
// version takes its traffic back; a crash after it ran and before it was confirmed runs it again,
// and the traffic still waits for it.
TEST_F(ReconcilerTest, TheDownMigrationRunsBeforeTheOldVersionTakesTrafficBack) {
  serveV1("canary");
  h_->provider->error_rate["v2"] = 0.5;
  std::vector<std::string> split_when_migrating;
  bool crash_after = true;
  h_->hooks->on_run = [&](const FakeHooks::Ran& ran) {
    if (ran.point != config::HookPoint::PreRollback) return;
    auto split = h_->runtime->traffic("canary", "web");
    split_when_migrating.push_back(split && split->weights.count("v2") != 0 ? "v2 routed" : "v2 not routed");
  };
  h_->hooks->on_ran = [&](const FakeHooks::Ran& ran) {
    if (ran.point == config::HookPoint::PreRollback && crash_after) {
      crash_after = false;
      throw Crash{};
    }
  };
  const auto v2 = deploy("canary", "v2");
  ASSERT_TRUE(h_->r().command(commandOf(v2, Kind::Promote)));
  EXPECT_THROW(h_->advance(Duration{10000}), Crash);
  h_->crash();
  // The abort is committed and the down-migration ran once; v2 still has its traffic.
  EXPECT_EQ(h_->phaseOf(v2), "RolledBack");
  EXPECT_NE(h_->runtime->serving("canary", "web"), "v1");
  ASSERT_TRUE(h_->boot());
  h_->settle();
  EXPECT_EQ(split_when_migrating, (std::vector<std::string>{"v2 routed", "v2 routed"}));
  EXPECT_EQ(h_->runtime->serving("canary", "web"), "v1");
  EXPECT_EQ(h_->runtime->serving("canary", "api"), "v1");
  auto doc = parsePersisted(h_->store->getDeployment(v2)->state_json);
  ASSERT_TRUE(doc.has_value());
  EXPECT_TRUE(doc->hooks.empty());
}

// The messages a rollback causes are in the outbox, committed with the states they describe,
// with the failing measurement as evidence.
TEST_F(ReconcilerTest, ABadBuildsRollbackIsInTheOutboxWithItsEvidence) {
  auto c = *cfg_;
  config::NotificationChannel chat;
  chat.name = "chat";
  chat.kind = config::NotificationChannel::Kind::Slack;
  chat.secret_env = "SLACK_URL";
  config::NotificationChannel pager = chat;
  pager.name = "pager";
  pager.kind = config::NotificationChannel::Kind::PagerDuty;
  c.channels = {chat, pager};
  for (auto& env : c.environments) {
    if (env.name == "canary") env.notifications = {{"chat", {}, {}}, {"pager", {"deployment.rolled_back"}, {}}};
  }
  h_->r().reload(std::make_shared<const config::Config>(std::move(c)));
  serveV1("canary");
  h_->provider->error_rate["v2"] = 0.5;
  const auto v2 = deploy("canary", "v2");
  ASSERT_TRUE(h_->r().command(commandOf(v2, Kind::Promote)));
  h_->advance(Duration{10000});
  ASSERT_EQ(h_->phaseOf(v2), "RolledBack");
  auto rows = h_->store->listNotifications({"", v2, 100});
  ASSERT_TRUE(rows.has_value());
  std::vector<std::string> seen;
  for (auto it = rows->rbegin(); it != rows->rend(); ++it) seen.push_back(it->channel + " " + it->event);
  EXPECT_EQ(seen, (std::vector<std::string>{"chat deployment.started", "chat deployment.paused",
                                            "chat analysis.failing", "chat deployment.rolled_back",
                                            "pager deployment.rolled_back"}));
  const auto& pd = rows->front();
  EXPECT_EQ(pd.status, "pending");
  EXPECT_EQ(pd.dedup_key, "runway/canary/" + v2);
  EXPECT_NE(pd.message_json.find("\"previousVersion\":\"v1\""), std::string::npos) << pd.message_json;
  EXPECT_NE(pd.message_json.find("(Failed at "), std::string::npos) << pd.message_json;
  // The rollback's commit and its notifications are one write: the deployment's last event
  // and the rolled_back rows carry the same time.
  auto events = h_->store->listEvents({0, v2, 1000});
  ASSERT_TRUE(events.has_value());
  TimePoint rolled_back_at{};
  for (const auto& e : *events) {
    if (e.kind == "deployment.rolled_back") rolled_back_at = e.at;
  }
  EXPECT_EQ(pd.created_at, rolled_back_at);
}

// incidentOnRollback: the automatic rollback's commit opens an incident (its incident.opened
// audit event) carrying the failing measurement, and the outbox tells the severity's channels.
TEST_F(ReconcilerTest, AnAutomaticRollbackOpensAnIncidentInTheSameCommit) {
  auto c = *cfg_;
  c.sources.clear();  // the deployment reads this configuration, not the files'
  config::NotificationChannel pager;
  pager.name = "pager";
  pager.kind = config::NotificationChannel::Kind::PagerDuty;
  pager.secret_env = "PD_KEY";
  c.channels = {pager};
  config::IncidentSeverity sev2;
  sev2.level = 2;
  sev2.escalation = {"pager"};
  c.severities = {sev2};
  for (auto& env : c.environments) {
    if (env.name == "canary") env.incident_on_rollback = true;
  }
  h_->r().reload(std::make_shared<const config::Config>(std::move(c)));
  serveV1("canary");
  h_->provider->error_rate["v2"] = 0.5;
  const auto v2 = deploy("canary", "v2");
  ASSERT_TRUE(h_->r().command(commandOf(v2, Kind::Promote)));
  h_->advance(Duration{10000});
  ASSERT_EQ(h_->phaseOf(v2), "RolledBack");
  auto events = h_->store->listEvents({0, "", 1000});
  ASSERT_TRUE(events.has_value());
  std::string incident;
  TimePoint opened_at{}, rolled_back_at{};
  for (const auto& e : *events) {
    if (e.kind == "incident.opened") {
      incident = e.subject;
      opened_at = e.at;
    }
    if (e.kind == "deployment.rolled_back" && e.subject == v2) rolled_back_at = e.at;
  }
  ASSERT_EQ(incident.rfind("inc-", 0), 0u) << incident;
  EXPECT_EQ(opened_at, rolled_back_at);
  auto opened = incident::replay(incident, *events);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->severity, 2);
  EXPECT_EQ(opened->environment, "canary");
  EXPECT_EQ(opened->deployments, std::vector<std::string>{v2});
  ASSERT_FALSE(opened->evidence.empty());
  EXPECT_NE(opened->evidence.front().second.find("(Failed at "), std::string::npos);
  auto rows = h_->store->listNotifications({"", incident, 10});
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].channel, "pager");
  EXPECT_EQ((*rows)[0].event, "incident.opened");
  EXPECT_EQ((*rows)[0].dedup_key, "runway/incident/" + incident);
}

}  // namespace
}  // namespace runway::controller::testing
