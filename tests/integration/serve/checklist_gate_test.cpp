// Issue 25's acceptance: the runbook's production environment (examples/runbook) with its
// pre-deployment checklist, on a real `runway serve`, GitHub on loopback (tests/fakes). A
// release whose pull request nobody approved is blocked before approvals are asked; a deployer
// may not waive the review (403); the security role waives it with `runway checklist waive`,
// the deployment goes on to its approvals, and the audit log shows the waiver.

#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "fake_github.hpp"
#include "serve_fixture.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace runway::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kRepo = "acme/insurance-lead-gen";
const std::string kSha = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
const std::string kGitHubToken = "ghp_acceptanceToken";

// A Trivy scan without findings and a JUnit report with two passing tests.
const std::string kScan = R"({"SchemaVersion": 2, "ArtifactName": "api:v1.4.0", "Results": []})";
const std::string kJUnit =
    R"(<testsuite name="api" tests="2"><testcase classname="Quote" name="prices"/><testcase classname="Quote" name="rounds"/></testsuite>)";

// A string member as a std::string (its JSON text when it is not a string).
std::string text(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : json::serialize(v); }

class ChecklistGateServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(github_.start());
    github_.addRepository(kRepo);
    github_.addPull(kRepo, kSha, 42, true);  // merged, and nobody approved it
    github_.addCheckRun(kRepo, kSha, "build", "completed", "success");
    github_.addCheckRun(kRepo, kSha, "test", "completed", "success");
    std::string config;
    for (const char* file : {"application.yaml", "environments.yaml", "analysis.yaml", "oncall.yaml"}) {
      auto text = readFile(std::string(RUNWAY_SOURCE_DIR) + "/examples/runbook/" + file);
      ASSERT_TRUE(text) << file;
      config += *text + "\n---\n";
    }
    // A release reaches the runbook's production only after 15 minutes of staging
    // verification: this test asks for production at once.
    const std::string promotes = "  promotesFrom: staging\n";
    ASSERT_NE(config.find(promotes), std::string::npos);
    config.erase(config.find(promotes), promotes.size());
    const std::string checklist = "  checklist:\n";
    ASSERT_NE(config.find(checklist), std::string::npos);
    config.insert(config.find(checklist) + checklist.size(), "    github: { apiUrl: \"" + github_.url() + "\" }\n");
    serve_.writeConfig(config);
    serve_.setEnv({{"GITHUB_TOKEN", kGitHubToken}});
    ASSERT_TRUE(serve_.start());
  }
  void TearDown() override { EXPECT_EQ(serve_.down(), 0); }

  std::string tokenFor(const std::string& name, const std::string& role) {
    auto r = serve_.call("POST", "/api/v1/tokens",
                         json::serialize(json::object{{"name", name}, {"roles", json::array{role}}}));
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : r.error().message);
    return r && r->status == 201 ? std::string(json::parse(r->body).at("token").as_string()) : "";
  }

  // `runway ARGS --server URL --token TOKEN`: exit code and output.
  std::pair<int, std::string> cli(std::vector<std::string> args, const std::string& token) {
    SubprocessOptions o;
    o.argv = {binaryPath("runway").string()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.argv.insert(o.argv.end(), {"--server", serve_.url(), "--token", token});
    o.stderr_to = Output::pipe();
    auto p = Subprocess::start(std::move(o));
    if (!p) return {-1, p.error().message};
    auto out = p->readToEnd(deadlineIn(60s));
    auto status = p->waitExit(deadlineIn(60s));
    return {status && status->exited ? status->code : -1, out ? out->out + out->err : ""};
  }

  std::vector<std::string> eventKinds(const std::string& id) {
    std::vector<std::string> kinds;
    auto v = serve_.getJson("/api/v1/events?stream=false&subject=" + id);
    if (!v.is_object()) return kinds;
    for (const auto& e : v.at("events").as_array()) kinds.emplace_back(e.at("kind").as_string());
    return kinds;
  }

  testing::FakeGitHub github_{kGitHubToken};
  TempDir tmp_{"runway-checklist-gate"};
  ServeFixture serve_{tmp_.path()};
};

TEST_F(ChecklistGateServeTest, AMissingReviewBlocksBeforeApprovalsAndASecurityWaiverLetsItGoOn) {
  const auto scan = tmp_.write("trivy.json", kScan);
  const auto junit = tmp_.write("junit.xml", kJUnit);
  ASSERT_TRUE(scan && junit);
  const std::string deployer = tokenFor("dana", "deployer");
  const std::string security = tokenFor("sam", "security");

  auto [code, out] = cli({"deploy", "production", "v1.4.0", "--commit", kSha, "--repo", kRepo, "--attach",
                          "vulnerabilities=" + scan->string(), "--attach", "tests=" + junit->string(), "-o", "json"},
                         deployer);
  ASSERT_EQ(code, 0) << out;
  const std::string id(json::parse(out).at("deployment").as_string());

  // Blocked by the missing review, before any approval was asked.
  json::value d;
  ASSERT_TRUE(pollUntil(
      [&] {
        d = serve_.getJson("/api/v1/deployments/" + id);
        return d.is_object() && text(d.at("phase")) == "Blocked";
      },
      deadlineIn(30s)))
      << json::serialize(d);
  const auto& list = d.at("checklist").as_object();
  EXPECT_EQ(text(list.at("status")), "blocked");
  const auto& items = list.at("items").as_array();
  ASSERT_EQ(items.size(), 5u) << json::serialize(list);
  EXPECT_EQ(text(items[0].at("name")), "codeReview");
  EXPECT_EQ(text(items[0].at("status")), "failed");
  EXPECT_EQ(text(items[0].at("reason")), "pull request #42 of " + kRepo + " is approved by 0 reviewers, 1 required");
  for (std::size_t i = 1; i < items.size(); ++i) EXPECT_EQ(text(items[i].at("status")), "passed") << json::serialize(items[i]);
  EXPECT_TRUE(d.at("pendingApprovals").as_array().empty());
  auto kinds = eventKinds(id);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "checklist.failed"), kinds.end());
  EXPECT_EQ(std::find(kinds.begin(), kinds.end(), "approval.requested"), kinds.end());

  // `runway status` shows why.
  auto [status_code, status_out] = cli({"status", "--deployment", id}, deployer);
  EXPECT_EQ(status_code, 0) << status_out;
  EXPECT_NE(status_out.find("  checklist: blocked\n"), std::string::npos) << status_out;
  EXPECT_NE(status_out.find("failed  codeReview"), std::string::npos) << status_out;

  // A deployer may not waive the review: 403 with a stable code.
  auto refused = serve_.call("POST", "/api/v1/deployments/" + id + "/checklist/waive",
                             R"({"item":"codeReview","comment":"trust me"})", deployer);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403) << refused->body;
  EXPECT_EQ(text(json::parse(refused->body).at("error").at("code")), "permission_denied") << refused->body;
  EXPECT_EQ(serve_.phase(id), "Blocked");

  // The security role waives it; the deployment goes on and asks for its approvals.
  auto [waived, waive_out] =
      cli({"checklist", "waive", id, "codeReview", "--comment", "hotfix reviewed in the incident call"}, security);
  ASSERT_EQ(waived, 0) << waive_out;
  ASSERT_TRUE(pollUntil(
      [&] {
        d = serve_.getJson("/api/v1/deployments/" + id);
        return d.is_object() && text(d.at("phase")) == "AwaitingApproval";
      },
      deadlineIn(30s)))
      << json::serialize(d);
  EXPECT_EQ(json::serialize(d.at("pendingApprovals")), R"(["tech-lead","product-manager"])");
  const auto& item = d.at("checklist").at("items").as_array()[0];
  EXPECT_EQ(text(item.at("status")), "waived");
  EXPECT_EQ(text(item.at("waiver").at("actor")), "sam");
  EXPECT_EQ(text(item.at("waiver").at("role")), "security");

  // The audit log shows the waiver (who, role, why) before the approval request, and verifies.
  auto events = serve_.getJson("/api/v1/events?stream=false&subject=" + id);
  ASSERT_TRUE(events.is_object());
  int waiver_at = -1, approval_at = -1, at = 0;
  for (const auto& e : events.at("events").as_array()) {
    if (text(e.at("kind")) == "checklist.waived") {
      waiver_at = at;
      EXPECT_EQ(text(e.at("actor")), "sam");
      EXPECT_EQ(text(e.at("reason")), "codeReview waived by sam (security): hotfix reviewed in the incident call");
      EXPECT_EQ(text(e.at("data").at("role")), "security");
    }
    if (text(e.at("kind")) == "approval.requested") approval_at = at;
    ++at;
  }
  ASSERT_GE(waiver_at, 0);
  EXPECT_GT(approval_at, waiver_at);
  auto verify = serve_.getJson("/api/v1/audit/verify");
  ASSERT_TRUE(verify.is_object());
  EXPECT_EQ(verify.at("intact"), true) << json::serialize(verify);
  EXPECT_TRUE(github_.violations().empty()) << github_.violations().front();
}

}  // namespace
}  // namespace runway::test
