// The controller through its public interface (Controller::start, its own strand and pool), with
// the real SQLite store in a temp dir, a FakeClock, an in-memory runtime and fake hooks and
// metrics. These tests use nothing but the public header, so they also run against the
// controller as it was before its split (issue 14 leads 7 and 8 were checked that way).

#include "runway/controller/controller.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "fake_runtime.hpp"
#include "fakes.hpp"
#include "runway/store/store.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"
#include "test_config.hpp"

namespace runway::controller::testing {
namespace {

using namespace std::chrono_literals;
using runway::testing::FakeRuntime;

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::openSqliteStore((dir_ / "runway.db").string());
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    store_ = std::move(*opened);
    start(loadTestConfig());
  }
  void TearDown() override {
    if (controller_) controller_->stop();
  }

  void start(std::shared_ptr<const config::Config> cfg) {
    ControllerOptions o = optionsFor(store_, runtime_, provider_, hooks_, clock_, std::move(cfg));
    o.workers = 2;
    o.poll = 5ms;
    auto started = Controller::start(std::move(o));
    ASSERT_TRUE(started.has_value()) << started.error().message;
    controller_ = std::move(*started);
  }

  std::string phaseOf(const std::string& id) {
    auto r = store_->getDeployment(id);
    return r ? r->phase : std::string("?");
  }

  // Waits (real time, with a deadline) for deployment `id` to reach `phase`, advancing the fake
  // clock by `step` between looks so that timers and measurements come due.
  bool reach(const std::string& id, const std::string& phase, Duration step = Duration{0}) {
    return test::pollUntil(
        [&] {
          if (step.count() > 0) clock_->advance(step);
          return phaseOf(id) == phase;
        },
        test::deadlineIn(20s), 5ms);
  }

  // Waits for deployment `id` to be paused at an indefinite pause, then promotes it.
  void promoteWhenPaused(const std::string& id) {
    ASSERT_TRUE(reach(id, "Paused")) << id << " is " << phaseOf(id);
    CommandRequest c;
    c.deployment_id = id;
    c.kind = engine::OperatorCommand::Kind::Promote;
    c.actor.name = "alice";
    auto r = controller_->command(c);
    ASSERT_TRUE(r.has_value()) << r.error().message;
  }

  std::string deploy(const std::string& env, const std::string& version) {
    DeployRequest d;
    d.environment = env;
    d.version = version;
    d.actor.name = "alice";
    auto r = controller_->deploy(d);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    clock_->advance(Duration{5});  // ids sort by creation time
    return r ? r->deployment_id : std::string();
  }

  test::TempDir dir_{"controller-test"};
  std::shared_ptr<store::Store> store_;
  std::shared_ptr<FakeRuntime> runtime_ = std::make_shared<FakeRuntime>();
  std::shared_ptr<FakeProvider> provider_ = std::make_shared<FakeProvider>();
  std::shared_ptr<FakeHooks> hooks_ = std::make_shared<FakeHooks>();
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Controller> controller_;
};

// Issue 14 lead 8: what serves is what the last promotion or rollback made serve, not the newest
// created Succeeded deployment. A rollback to v1 jumps ahead of v4, queued before it; v4 then
// runs and serves, yet on the old code currentRelease still said v1 (the rollback was created
// later), and with it the next stable version, rollback target and keep-list were wrong.
TEST_F(ControllerTest, CurrentReleaseIsWhatServesAfterARollbackOvertakesAQueuedRelease) {
  const auto v1 = deploy("canary", "v1");
  ASSERT_TRUE(reach(v1, "Succeeded")) << phaseOf(v1);  // a first release has nothing to shift from
  const auto v2 = deploy("canary", "v2");
  promoteWhenPaused(v2);
  ASSERT_TRUE(reach(v2, "Succeeded", Duration{1000})) << phaseOf(v2);
  EXPECT_EQ(*currentRelease(*store_, "canary"), "v2");

  const auto v3 = deploy("canary", "v3");
  ASSERT_TRUE(reach(v3, "Paused")) << phaseOf(v3);
  const auto v4 = deploy("canary", "v4");
  EXPECT_EQ(phaseOf(v4), "Queued");

  RollbackRequest rb;
  rb.environment = "canary";
  rb.version = "v1";
  rb.actor.name = "alice";
  auto rolled = controller_->rollback(rb);
  ASSERT_TRUE(rolled.has_value()) << rolled.error().message;
  clock_->advance(Duration{5});
  ASSERT_TRUE(reach(rolled->deployment_id, "Succeeded")) << phaseOf(rolled->deployment_id);
  EXPECT_EQ(phaseOf(v3), "Superseded");
  EXPECT_EQ(*currentRelease(*store_, "canary"), "v1");

  // v4, queued before the rollback, starts from what serves (v1) and takes over.
  promoteWhenPaused(v4);
  ASSERT_TRUE(reach(v4, "Succeeded", Duration{1000})) << phaseOf(v4);
  for (const auto* service : {"web", "api"}) {
    EXPECT_TRUE(test::pollUntil([&] { return runtime_->serving("canary", service) == "v4"; }, test::deadlineIn(10s)))
        << service << " serves " << runtime_->serving("canary", service);
  }
  EXPECT_EQ(*currentRelease(*store_, "canary"), "v4");

  // The next rollback's default target is what served before v4 took over... and its stable
  // version is v4: rolling back from v4 says so.
  RollbackRequest again;
  again.environment = "canary";
  again.actor.name = "alice";
  auto second = controller_->rollback(again);
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->from_version, "v4");
}

// Issue 14 lead 7: a deployment keeps the configuration it was requested under. v2 is paused
// before its analysis when the configuration is reloaded with another query, threshold, service
// command and hook command; v2's analysis, hooks and instances still use the old ones, and v3,
// requested after the reload, uses the new ones.
TEST_F(ControllerTest, AReloadReachesOnlyDeploymentsRequestedAfterIt) {
  const auto v1 = deploy("canary", "v1");
  ASSERT_TRUE(reach(v1, "Succeeded")) << phaseOf(v1);
  const auto v2 = deploy("canary", "v2");
  ASSERT_TRUE(reach(v2, "Paused")) << phaseOf(v2);

  ConfigKnobs changed;
  changed.web = "web-v2";
  changed.query = "latency_p99";
  changed.threshold = "0.9";
  changed.hook = "announce-v2";
  controller_->reload(loadTestConfig(changed));

  promoteWhenPaused(v2);
  ASSERT_TRUE(reach(v2, "Succeeded", Duration{1000})) << phaseOf(v2);
  ASSERT_TRUE(test::pollUntil([&] { return hooks_->ran().size() >= 2; }, test::deadlineIn(10s)));

  const auto v3 = deploy("canary", "v3");
  promoteWhenPaused(v3);
  ASSERT_TRUE(reach(v3, "Succeeded", Duration{1000})) << phaseOf(v3);
  ASSERT_TRUE(test::pollUntil([&] { return hooks_->ran().size() >= 3; }, test::deadlineIn(10s)));

  int v2_asked = 0;
  int v3_asked = 0;
  for (const auto& a : provider_->asked()) {
    if (a.version == "v2") {
      ++v2_asked;
      EXPECT_EQ(a.query, "error_rate");
      EXPECT_EQ(a.failure_condition, "result > 0.1");
    }
    if (a.version == "v3") {
      ++v3_asked;
      EXPECT_EQ(a.query, "latency_p99");
      EXPECT_EQ(a.failure_condition, "result > 0.9");
    }
  }
  EXPECT_GT(v2_asked, 0);
  EXPECT_GT(v3_asked, 0);
  std::map<std::string, std::string> announced;
  for (const auto& h : hooks_->ran()) {
    if (h.point == config::HookPoint::PostDeploy) announced[h.version] = h.command;
  }
  EXPECT_EQ(announced["v2"], "announce-v1");
  EXPECT_EQ(announced["v3"], "announce-v2");
  EXPECT_EQ(runtime_->command("canary", "web", "v2").front(), "web-v1");
  EXPECT_EQ(runtime_->command("canary", "web", "v3").front(), "web-v2");
}

// The snapshot survives a restart: after the server stops and starts again with the new
// configuration, a deployment requested before the reload still measures with the old query.
TEST_F(ControllerTest, TheSpecSnapshotSurvivesARestart) {
  const auto v1 = deploy("canary", "v1");
  ASSERT_TRUE(reach(v1, "Succeeded")) << phaseOf(v1);
  const auto v2 = deploy("canary", "v2");
  ASSERT_TRUE(reach(v2, "Paused")) << phaseOf(v2);

  controller_->stop();
  controller_.reset();
  ConfigKnobs changed;
  changed.query = "latency_p99";
  start(loadTestConfig(changed));

  promoteWhenPaused(v2);
  ASSERT_TRUE(reach(v2, "Succeeded", Duration{1000})) << phaseOf(v2);
  int asked = 0;
  for (const auto& a : provider_->asked()) {
    if (a.version != "v2") continue;
    ++asked;
    EXPECT_EQ(a.query, "error_rate");
  }
  EXPECT_GT(asked, 0);
}

// A deployment whose spec snapshot no longer loads (a newer runway refusing what an older one
// accepted) is stopped with the reason when the controller starts, and rolled back under the live
// configuration; it never goes on under a spec it was not requested with. A retry of it is
// refused, since the retry would run a spec nobody can read.
TEST_F(ControllerTest, ADeploymentWhoseSnapshotNoLongerLoadsIsStoppedNotContinued) {
  const auto v1 = deploy("canary", "v1");
  ASSERT_TRUE(reach(v1, "Succeeded")) << phaseOf(v1);
  const auto v2 = deploy("canary", "v2");
  ASSERT_TRUE(reach(v2, "Paused")) << phaseOf(v2);
  controller_->stop();
  controller_.reset();

  auto record = store_->getDeployment(v2);
  ASSERT_TRUE(record.has_value()) << record.error().message;
  // Its document names its snapshot by key; point it at one that a newer runway would refuse.
  auto state = boost::json::parse(record->state_json);
  ASSERT_TRUE(state.at("spec").as_object().contains("key")) << record->state_json;
  auto broken = store_->putConfigSnapshot(
      R"([{"name":"x.yaml","text":"apiVersion: runway/v1\nkind: Environment\nmetadata: {name: x}\nspec: {nonsense: 1}\n"}])");
  ASSERT_TRUE(broken.has_value());
  state.at("spec").as_object()["key"] = *broken;
  record->state_json = boost::json::serialize(state);
  ASSERT_TRUE(store_->updateDeployment(*record, {}).has_value());

  start(loadTestConfig());
  ASSERT_TRUE(reach(v2, "RolledBack", Duration{1000})) << phaseOf(v2);
  auto after = store_->getDeployment(v2);
  ASSERT_TRUE(after.has_value());
  const auto doc = boost::json::parse(after->state_json);
  const std::string reason(doc.at("state").at("abortReason").as_string());
  EXPECT_NE(reason.find("configuration snapshot no longer loads"), std::string::npos) << reason;
  for (const auto* service : {"web", "api"}) {
    EXPECT_TRUE(test::pollUntil([&] { return runtime_->serving("canary", service) == "v1"; }, test::deadlineIn(10s)))
        << service << " serves " << runtime_->serving("canary", service);
  }
  EXPECT_EQ(*currentRelease(*store_, "canary"), "v1");

  CommandRequest retry;
  retry.deployment_id = v2;
  retry.kind = engine::OperatorCommand::Kind::Retry;
  retry.actor.name = "alice";
  auto refused = controller_->command(retry);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::FailedPrecondition);
  EXPECT_NE(refused.error().message.find("snapshot no longer loads"), std::string::npos) << refused.error().message;
  EXPECT_EQ(phaseOf(v2), "RolledBack");
}

// A first release that is rolled back has nothing to go back to: its traffic is withdrawn, its
// version retired once, and nothing is recorded as serving. web v1 became ready and took all of
// web's traffic while api v1 never did; the abort used to leave web's split on v1, so the
// runtime refused the retirement (the version still took traffic) and it was retried every
// second, forever.
TEST_F(ControllerTest, AFirstReleaseRolledBackWithdrawsItsTrafficAndRetiresOnce) {
  runtime_->never_ready_in.insert({"api", "v1"});
  const auto v1 = deploy("rolling", "v1");
  ASSERT_TRUE(test::pollUntil([&] { return runtime_->serving("rolling", "web") == "v1"; }, test::deadlineIn(10s)));
  CommandRequest c;
  c.deployment_id = v1;
  c.kind = engine::OperatorCommand::Kind::Abort;
  c.actor.name = "alice";
  auto r = controller_->command(c);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_TRUE(reach(v1, "RolledBack")) << phaseOf(v1);
  // Past the scale-down delay, and many retry passes after it.
  const auto retired = [&] {
    int n = 0;
    for (const auto& e : runtime_->journal()) n += e.kind == "retire" ? 1 : 0;
    return n;
  };
  ASSERT_TRUE(test::pollUntil(
      [&] {
        clock_->advance(Duration{1000});
        return runtime_->running("rolling", "web").empty() && runtime_->running("rolling", "api").empty();
      },
      test::deadlineIn(10s)))
      << "still running: web " << runtime_->running("rolling", "web").size() << ", api "
      << runtime_->running("rolling", "api").size();
  const int after = retired();
  for (int i = 0; i < 20; ++i) clock_->advance(Duration{1000});
  // Wait for the loop to have seen those timers (a marker deployment elsewhere), then count.
  const auto marker = deploy("canary", "v9");
  ASSERT_TRUE(reach(marker, "Succeeded")) << phaseOf(marker);
  EXPECT_EQ(retired(), after) << "the retirement was tried again";
  EXPECT_EQ(after, 2);  // web v1 and api v1, once each
  EXPECT_EQ(runtime_->serving("rolling", "web"), "");
  EXPECT_EQ(*currentRelease(*store_, "rolling"), "");
}

// A start the runtime refuses as invalid (here: the listener's TLS pair does not match) ends the
// deployment at once with the runtime's reason and counts against the release: nothing of it
// takes traffic, the stable version keeps serving. A refusal that may pass (the runtime
// unreachable) is tried again until it does.
TEST_F(ControllerTest, AStartTheRuntimeRefusesAsInvalidEndsTheDeploymentSayingWhy) {
  const auto v1 = deploy("rolling", "v1");
  ASSERT_TRUE(reach(v1, "Succeeded", Duration{1000})) << phaseOf(v1);

  const std::string why =
      "traffic.listener.tls of environment 'rolling': TLS private key /etc/tls/other.key does "
      "not match the certificate /etc/tls/web.pem";
  runtime_->refuseStart("v2", Error{ErrorCode::InvalidArgument, why});
  const auto v2 = deploy("rolling", "v2");
  ASSERT_TRUE(reach(v2, "RolledBack", Duration{100})) << phaseOf(v2);
  auto record = store_->getDeployment(v2);
  ASSERT_TRUE(record.has_value());
  const auto doc = boost::json::parse(record->state_json);
  const std::string reason(doc.at("state").at("abortReason").as_string());
  EXPECT_NE(reason.find("the runtime refused to start it: " + why), std::string::npos) << reason;
  EXPECT_EQ(runtime_->serving("rolling", "web"), "v1");
  EXPECT_EQ(*currentRelease(*store_, "rolling"), "v1");
  for (const auto& e : runtime_->journal()) {
    EXPECT_FALSE(e.kind == "traffic" && e.detail.find("v2") != std::string::npos) << e.detail;
  }

  runtime_->refuseStart("v3", Error{ErrorCode::Unavailable, "the router's admin socket is gone"});
  const auto v3 = deploy("rolling", "v3");
  for (int i = 0; i < 50; ++i) clock_->advance(Duration{100});
  ASSERT_TRUE(test::pollUntil([&] { return phaseOf(v3) == "Progressing"; }, test::deadlineIn(10s)))
      << phaseOf(v3);
  runtime_->allowStart("v3");
  ASSERT_TRUE(reach(v3, "Succeeded", Duration{1000})) << phaseOf(v3);
}

}  // namespace
}  // namespace runway::controller::testing
