// The pre-deployment checklist as a gate (issue 25), driven through the reconciler (harness.hpp):
// it is judged before the start hooks and the approvals; a failed item that is not waived blocks
// the deployment (Blocked, holding its environment); a waiver by a role the item names lets it
// go on; a checklist that was being judged when the server died is judged again, never passed.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "checklist_gate.hpp"
#include "harness.hpp"

namespace runway::controller::testing {
namespace {

struct CrashWhileJudging {};

constexpr const char* kGated = R"(apiVersion: runway/v1
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
  concurrency: reject
  approvals:
    roles: [ops]
  hooks:
    preDeploy:
      - {name: migrate, command: ["migrate-up"]}
  checklist:
    codeReview: {minApprovals: 2, waivableBy: [security]}
    semver: {waivableBy: [release-manager, security]}
    tests: {}
)";

class ChecklistGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = config::loadConfigText(kGated, "/tmp/runway-checklist-gate/runway.yaml");
    ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics.front().format());
    cfg_ = std::make_shared<const config::Config>(std::move(*loaded.config));
    h_ = std::make_unique<Harness>(cfg_);
    h_->checklist->by_name["codeReview"] = {"codeReview", false, "pull request #42 of acme/shop is approved by 1 reviewer (alice), 2 required"};
    h_->checklist->by_name["tests"] = {"tests", false, "no JUnit report attached"};
    ASSERT_TRUE(h_->boot());
  }

  std::string deploy(const std::string& version) {
    auto request = deployOf("production", version);
    request.evidence.commit = "0123456789abcdef";
    request.evidence.repository = "acme/shop";
    auto r = h_->r().deploy(std::move(request));
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    h_->settle();
    return r ? r->deployment_id : std::string();
  }

  std::vector<store::EventRecord> events(const std::string& id) {
    store::EventFilter f;
    f.subject = id;
    auto list = h_->store->listEvents(f);
    EXPECT_TRUE(list.has_value());
    return list ? *list : std::vector<store::EventRecord>{};
  }
  std::vector<std::string> kinds(const std::string& id) {
    std::vector<std::string> out;
    for (const auto& e : events(id)) out.push_back(e.kind);
    return out;
  }
  bool has(const std::string& id, const std::string& kind) {
    const auto k = kinds(id);
    return std::find(k.begin(), k.end(), kind) != k.end();
  }
  ChecklistState checklistOf(const std::string& id) {
    auto doc = parsePersisted(h_->store->getDeployment(id)->state_json);
    EXPECT_TRUE(doc && doc->checklist);
    return doc && doc->checklist ? *doc->checklist : ChecklistState{};
  }
  WaiverRequest waiverOf(const std::string& id, const std::string& item, std::vector<std::string> roles,
                         const std::string& comment = "reviewed in the security channel") {
    WaiverRequest w;
    w.deployment_id = id;
    w.item = item;
    w.comment = comment;
    w.actor.name = "sam";
    w.actor.roles = std::move(roles);
    return w;
  }

  std::shared_ptr<const config::Config> cfg_;
  std::unique_ptr<Harness> h_;
};

TEST_F(ChecklistGateTest, AFailedItemBlocksTheDeploymentBeforeHooksAndApprovals) {
  const auto id = deploy("v1.0.0");
  EXPECT_EQ(h_->phaseOf(id), "Blocked");
  EXPECT_EQ(h_->checklist->calls(), 1);
  EXPECT_EQ(h_->checklist->lastCommit(), "0123456789abcdef");
  EXPECT_TRUE(h_->hooks->ran().empty()) << "the preDeploy hook ran for a blocked deployment";
  EXPECT_FALSE(has(id, "approval.requested"));
  ASSERT_TRUE(has(id, "checklist.started"));
  const auto all = events(id);
  const auto failed = std::find_if(all.begin(), all.end(), [](const auto& e) { return e.kind == "checklist.failed"; });
  ASSERT_NE(failed, all.end());
  EXPECT_EQ(failed->reason,
            "checklist blocks the deployment: codeReview: pull request #42 of acme/shop is approved by 1 reviewer "
            "(alice), 2 required; tests: no JUnit report attached");
  const auto data = boost::json::parse(failed->data_json).as_object();
  ASSERT_EQ(data.at("items").as_array().size(), 3u);
  EXPECT_EQ(data.at("items").as_array()[0].as_object().at("status"), "failed");
  EXPECT_EQ(data.at("items").as_array()[2].as_object().at("name"), "semver");
  EXPECT_EQ(data.at("items").as_array()[2].as_object().at("status"), "passed");
  // It holds production: another release is refused (concurrency: reject).
  auto second = h_->r().deploy(deployOf("production", "v1.0.1"));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::Conflict);
}

TEST_F(ChecklistGateTest, WaiversByTheRolesTheItemsNameLetItGoOnToApprovals) {
  const auto id = deploy("v1.0.0");
  ASSERT_EQ(h_->phaseOf(id), "Blocked");

  auto wrong = h_->r().waive(waiverOf(id, "codeReview", {"deployer", "release-manager"}));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::PermissionDenied);
  EXPECT_EQ(wrong.error().message, "codeReview of production may be waived by security; sam holds none of these roles");
  auto silent = h_->r().waive(waiverOf(id, "codeReview", {"security"}, ""));
  ASSERT_FALSE(silent);
  EXPECT_EQ(silent.error().code, ErrorCode::InvalidArgument);
  auto passed = h_->r().waive(waiverOf(id, "semver", {"security"}));
  ASSERT_FALSE(passed);
  EXPECT_EQ(passed.error().code, ErrorCode::FailedPrecondition);
  auto unknown = h_->r().waive(waiverOf(id, "onCall", {"security"}));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::InvalidArgument);
  auto nobody = h_->r().waive(waiverOf(id, "tests", {"security"}));
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error().code, ErrorCode::PermissionDenied);
  EXPECT_EQ(nobody.error().message, "tests of production may not be waived: its checklist names no waivableBy role");

  ASSERT_TRUE(h_->r().waive(waiverOf(id, "codeReview", {"security"})));
  h_->settle();
  EXPECT_EQ(h_->phaseOf(id), "Blocked") << "tests still fails and nobody waived it";
  auto again = h_->r().waive(waiverOf(id, "codeReview", {"security"}));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::FailedPrecondition);

  // The checklist is judged again (as after a restart) with tests passing now: the waiver stays.
  h_->checklist->by_name.erase("tests");
  h_->crash();
  ASSERT_TRUE(h_->boot());
  h_->settle();
  EXPECT_EQ(h_->checklist->calls(), 2);
  EXPECT_EQ(h_->phaseOf(id), "AwaitingApproval");
  ASSERT_EQ(h_->hooks->ran().size(), 1u);
  EXPECT_EQ(h_->hooks->ran()[0].point, config::HookPoint::PreDeploy);
  const auto c = checklistOf(id);
  EXPECT_EQ(c.status, ChecklistState::Status::Passed);
  ASSERT_EQ(c.waivers.size(), 1u);
  EXPECT_EQ(c.waivers[0].actor, "sam");
  EXPECT_EQ(c.waivers[0].role, "security");
  EXPECT_EQ(c.waivers[0].comment, "reviewed in the security channel");
  const auto all = events(id);
  const auto waived = std::find_if(all.begin(), all.end(), [](const auto& e) { return e.kind == "checklist.waived"; });
  ASSERT_NE(waived, all.end());
  EXPECT_EQ(waived->actor, "sam");
  EXPECT_EQ(waived->reason, "codeReview waived by sam (security): reviewed in the security channel");
  // The checklist passed before approvals were asked.
  const auto k = kinds(id);
  const auto passed_at = std::find(k.rbegin(), k.rend(), "checklist.passed");
  const auto approval_at = std::find(k.begin(), k.end(), "approval.requested");
  ASSERT_NE(passed_at, k.rend());
  ASSERT_NE(approval_at, k.end());
  EXPECT_LT(std::distance(k.begin(), passed_at.base()), std::distance(k.begin(), approval_at) + 1);
}

TEST_F(ChecklistGateTest, WaivingTheLastFailedItemStartsTheDeployment) {
  h_->checklist->by_name.erase("tests");
  const auto id = deploy("v1.0.0");
  ASSERT_EQ(h_->phaseOf(id), "Blocked");
  ASSERT_TRUE(h_->r().waive(waiverOf(id, "codeReview", {"security"})));
  h_->settle();
  EXPECT_EQ(h_->phaseOf(id), "AwaitingApproval");
  EXPECT_EQ(h_->checklist->calls(), 1);
}

TEST_F(ChecklistGateTest, APassingChecklistGoesStraightToApprovals) {
  h_->checklist->by_name.clear();
  const auto id = deploy("v1.0.0");
  EXPECT_EQ(h_->phaseOf(id), "AwaitingApproval");
  EXPECT_TRUE(has(id, "checklist.passed"));
  EXPECT_EQ(checklistOf(id).items.size(), 3u);
}

TEST_F(ChecklistGateTest, AChecklistInterruptedByACrashIsJudgedAgainNeverPassed) {
  bool armed = true;
  h_->checklist->on_judge = [&] {
    if (armed) {
      armed = false;
      throw CrashWhileJudging{};
    }
  };
  h_->checklist->by_name.clear();
  auto r = h_->r().deploy(deployOf("production", "v1.0.0"));
  ASSERT_TRUE(r.has_value());
  EXPECT_THROW(h_->settle(), CrashWhileJudging);
  h_->crash();
  // Committed as being judged: not passed, not started.
  EXPECT_EQ(h_->phaseOf(r->deployment_id), "Queued");
  EXPECT_EQ(checklistOf(r->deployment_id).status, ChecklistState::Status::Judging);
  EXPECT_TRUE(h_->hooks->ran().empty());
  ASSERT_TRUE(h_->boot());
  h_->settle();
  EXPECT_EQ(h_->checklist->calls(), 1);  // the first call threw before it counted
  EXPECT_EQ(checklistOf(r->deployment_id).runs, 2);
  EXPECT_EQ(h_->phaseOf(r->deployment_id), "AwaitingApproval");
}

TEST_F(ChecklistGateTest, AnAbortEndsABlockedDeploymentAndFreesTheEnvironment) {
  const auto id = deploy("v1.0.0");
  ASSERT_EQ(h_->phaseOf(id), "Blocked");
  auto abort = commandOf(id, engine::OperatorCommand::Kind::Abort);
  abort.reason = "wrong build";
  ASSERT_TRUE(h_->r().command(abort));
  EXPECT_EQ(h_->phaseOf(id), "Failed");
  EXPECT_TRUE(has(id, "deployment.aborted"));
  h_->checklist->by_name.clear();
  const auto next = deploy("v1.0.1");
  EXPECT_EQ(h_->phaseOf(next), "AwaitingApproval");
}

// Approvers are told what the checklist found, and who waived what, in the approval request.
TEST_F(ChecklistGateTest, TheApprovalNotificationCarriesTheChecklistsResult) {
  auto c = *cfg_;
  config::NotificationChannel chat;
  chat.name = "chat";
  chat.kind = config::NotificationChannel::Kind::Slack;
  chat.secret_env = "SLACK_URL";
  c.channels = {chat};
  c.environments.at(0).notifications = {{"chat", {"approval.needed"}, {}}};
  h_->reload(std::make_shared<const config::Config>(std::move(c)));
  h_->checklist->by_name.erase("tests");
  const auto id = deploy("v1.0.0");
  ASSERT_EQ(h_->phaseOf(id), "Blocked");
  ASSERT_TRUE(h_->r().waive(waiverOf(id, "codeReview", {"security"})));
  h_->settle();
  ASSERT_EQ(h_->phaseOf(id), "AwaitingApproval");
  auto rows = h_->store->listNotifications({"", id, 100});
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->front().event, "approval.needed");
  EXPECT_NE(rows->front().message_json.find(
                R"x(["checklist","checklist passed: 2 of 3 items passed, waived: codeReview (by sam)"])x"),
            std::string::npos)
      << rows->front().message_json;
}

// A rollback goes back to what was judged before: the checklist does not hold it.
TEST_F(ChecklistGateTest, ARollbackIsNotHeldByTheChecklist) {
  h_->checklist->by_name.clear();
  const auto approve = [&](const std::string& id) {
    ApprovalRequest a;
    a.deployment_id = id;
    a.actor.name = "olga";
    a.actor.roles = {"ops"};
    ASSERT_TRUE(h_->r().decide(a));
    h_->advance(Duration{5000});
  };
  const auto v1 = deploy("v1.0.0");
  approve(v1);
  ASSERT_EQ(h_->phaseOf(v1), "Succeeded");
  const auto v2 = deploy("v1.0.1");
  approve(v2);
  ASSERT_EQ(h_->phaseOf(v2), "Succeeded");
  ASSERT_EQ(h_->checklist->calls(), 2);
  h_->checklist->by_name["codeReview"] = {"codeReview", false, "no approval"};
  RollbackRequest back;
  back.environment = "production";
  back.actor.name = "alice";
  auto r = h_->r().rollback(back);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  h_->advance(Duration{5000});
  EXPECT_EQ(h_->checklist->calls(), 2);
  EXPECT_NE(h_->phaseOf(r->deployment_id), "Blocked");
  EXPECT_FALSE(has(r->deployment_id, "checklist.started"));
}

}  // namespace
}  // namespace runway::controller::testing
