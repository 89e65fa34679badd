// A deployment the engine has not started yet (queued behind another, or running its backup and
// preDeploy hooks) can be aborted or superseded: it ends where it is, nothing of it is deployed,
// and hooks still running hold the environment until they finish, so that the next release's
// hooks never run beside them. Before, both were refused with "deployment has not been started"
// (the engine's answer for a deployment it never saw start).

#include <algorithm>

#include <gtest/gtest.h>

#include "harness.hpp"

namespace runway::controller::testing {
namespace {

std::string configWith(const std::string& concurrency) {
  return R"(apiVersion: runway/v1
kind: Application
metadata:
  name: shop
spec:
  services:
    - name: web
      local:
        command: ["web", "--port", "${PORT}"]
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: production
spec:
  runtime:
    local: {}
  strategy: rolling
  concurrency: )" + concurrency + R"(
  hooks:
    preDeploy:
      - {name: migrate, command: ["migrate-up"]}
)";
}

class NotStartedTest : public ::testing::Test {
 protected:
  void boot(const std::string& concurrency) {
    auto loaded = config::loadConfigText(configWith(concurrency), "/tmp/runway-not-started/runway.yaml");
    ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics.front().format());
    h_ = std::make_unique<Harness>(std::make_shared<const config::Config>(std::move(*loaded.config)));
    ASSERT_TRUE(h_->boot());
  }
  // Admits a release without running anything queued: its start hooks wait in the scheduler.
  std::string deployUnsettled(const std::string& version) {
    auto r = h_->r().deploy(deployOf("production", version));
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return r ? r->deployment_id : std::string();
  }
  Result<std::string> abort(const std::string& id) {
    CommandRequest c;
    c.deployment_id = id;
    c.kind = engine::OperatorCommand::Kind::Abort;
    c.actor.name = "oncall";
    c.reason = "wrong build";
    return h_->r().command(std::move(c));
  }
  std::vector<store::EventRecord> events(const std::string& id) {
    store::EventFilter f;
    f.subject = id;
    auto list = h_->store->listEvents(f);
    EXPECT_TRUE(list.has_value());
    return list ? *list : std::vector<store::EventRecord>{};
  }
  const store::EventRecord* event(const std::vector<store::EventRecord>& all, const std::string& kind) {
    auto it = std::find_if(all.begin(), all.end(), [&](const auto& e) { return e.kind == kind; });
    return it == all.end() ? nullptr : &*it;
  }
  std::vector<std::string> hookVersions() {
    std::vector<std::string> out;
    for (const auto& r : h_->hooks->ran()) out.push_back(r.version);
    return out;
  }
  bool started(const std::string& version) {
    for (const auto& e : h_->runtime->journal()) {
      if (e.kind == "start" && e.detail.rfind(version + " ", 0) == 0) return true;
    }
    return false;
  }

  std::unique_ptr<Harness> h_;
};

TEST_F(NotStartedTest, AbortWhileItsStartHooksRunEndsItAndTheNextWaitsForTheHooks) {
  boot("queue");
  const auto first = deployUnsettled("v1");
  const auto second = deployUnsettled("v2");
  ASSERT_EQ(h_->phaseOf(second), "Queued");

  auto aborted = abort(first);
  ASSERT_TRUE(aborted) << aborted.error().message;
  EXPECT_EQ(h_->phaseOf(first), "Failed");
  const auto before = events(first);
  const auto* e = event(before, "deployment.aborted");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->reason, "aborted by oncall: wrong build (its start hooks were running; nothing was deployed)");
  // v1's migration is still running: v2 may not start its own beside it.
  EXPECT_TRUE(hookVersions().empty());
  EXPECT_EQ(h_->phaseOf(second), "Queued");

  h_->settle();
  // v1's hook finished and is recorded with it; only then did v2 run its hook and start.
  EXPECT_EQ(hookVersions(), (std::vector<std::string>{"v1", "v2"}));
  EXPECT_NE(event(events(first), "hooks.ran"), nullptr);
  h_->advance(Duration{60000});
  EXPECT_EQ(h_->phaseOf(second), "Succeeded");
  EXPECT_EQ(h_->phaseOf(first), "Failed");
  EXPECT_FALSE(started("v1")) << "the aborted release reached the runtime";
  EXPECT_TRUE(started("v2"));
}

TEST_F(NotStartedTest, AQueuedDeploymentCanBeAborted) {
  boot("queue");
  const auto first = deployUnsettled("v1");   // runs its start hooks
  const auto second = deployUnsettled("v2");  // queued behind it
  const auto third = deployUnsettled("v3");   // queued behind both
  ASSERT_EQ(h_->phaseOf(third), "Queued");

  auto aborted = abort(third);
  ASSERT_TRUE(aborted) << aborted.error().message;
  EXPECT_EQ(h_->phaseOf(third), "Failed");
  const auto all = events(third);
  const auto* e = event(all, "deployment.aborted");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->reason, "aborted by oncall: wrong build (nothing was deployed)");
  h_->advance(Duration{60000});
  EXPECT_EQ(h_->phaseOf(first), "Succeeded");
  EXPECT_EQ(h_->phaseOf(second), "Succeeded");
  EXPECT_EQ(h_->phaseOf(third), "Failed");
  EXPECT_EQ(hookVersions(), (std::vector<std::string>{"v1", "v2"}));
  EXPECT_FALSE(started("v3"));
}

TEST_F(NotStartedTest, ANewerReleaseSupersedesOneWhoseStartHooksRun) {
  boot("supersede");
  const auto first = deployUnsettled("v1");
  const auto second = deployUnsettled("v2");
  EXPECT_EQ(h_->phaseOf(first), "Superseded");
  const auto all = events(first);
  const auto* e = event(all, "deployment.superseded");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(hookVersions().empty());

  h_->settle();
  EXPECT_EQ(hookVersions(), (std::vector<std::string>{"v1", "v2"}));
  h_->advance(Duration{60000});
  EXPECT_EQ(h_->phaseOf(second), "Succeeded");
  EXPECT_EQ(h_->phaseOf(first), "Superseded");
  EXPECT_FALSE(started("v1"));
}

}  // namespace
}  // namespace runway::controller::testing
