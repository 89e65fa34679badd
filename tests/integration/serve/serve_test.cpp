// Acceptance (issue 6): the real `runway serve` on 127.0.0.1:0 in a temp dir, driven through its
// API alone: a canary and a blue-green deployment of the demo app to success, a bad version to
// RolledBack, the authorization matrix, concurrent deploys, and a reload with a broken config.

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "serve_fixture.hpp"
#include "support/http.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// Two environments with short bakes; v3 of the demo app is a bad build (half its requests 500).
constexpr const char* kConfig = R"(apiVersion: runway/v1
kind: Application
metadata:
  name: shop
spec:
  services:
    - name: web
      local:
        command: ["runway-demo-app", "--port", "${PORT}"]
      instances: 2
      env:
        VERSION: "${VERSION}"
        FAULTY_VERSIONS: "v3=0.5"
      health:
        path: /health
        period: 100ms
        failureThreshold: 3
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: canary
spec:
  runtime:
    local: {}
  strategy: canary
  canary:
    steps:
      - setWeight: 25
      - pause: { duration: 2s }
      - setWeight: 60
      - pause: { duration: 2s }
      - setWeight: 100
    analysis:
      templates: [errors]
      startingStep: 0
    abortScaleDownDelay: 1s
  progressDeadline: 1m
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: bluegreen
spec:
  runtime:
    local: {}
  strategy: blue-green
  blueGreen:
    autoPromotion: true
    verification: 3s
    postPromotionAnalysis:
      templates: [errors]
    scaleDownDelay: 1s
  progressDeadline: 1m
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: gated
spec:
  runtime:
    local: {}
  strategy: rolling
  approvals:
    roles: [tech-lead]
    preventSelfApproval: true
  progressDeadline: 1m
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: strict
spec:
  runtime:
    local: {}
  strategy: canary
  canary:
    steps:
      - setWeight: 50
      - analysis:
          templates: [errors-at]
          thresholds: {error-rate: 0.1}
      - setWeight: 100
    abortScaleDownDelay: 1s
  progressDeadline: 1m
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata:
  name: errors-at
spec:
  metrics:
    - name: error-rate
      provider: builtin
      query: error_rate
      window: 4s
      initialDelay: 1s
      interval: 1s
      count: 5
      failureCondition: "result > ${threshold}"
      noData: inconclusive
      inconclusiveLimit: 20
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata:
  name: errors
spec:
  metrics:
    - name: error-rate
      provider: builtin
      query: error_rate
      window: 4s
      initialDelay: 1s
      interval: 1s
      failureCondition: "result > 0.1"
      noData: inconclusive
      inconclusiveLimit: 20
)";

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(binaryPath("runway-demo-app")));
    server_ = std::make_unique<ServeFixture>(dir_.path());
    server_->writeConfig(kConfig);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().message;
  }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->down(), 0);
    }
  }

  // Deploys and waits; the terminal phase.
  std::string deployAndWait(const std::string& env, const std::string& version) {
    std::string error;
    const std::string id = server_->deploy(env, version, &error);
    EXPECT_FALSE(id.empty()) << error;
    if (id.empty()) return "";
    return server_->waitTerminal(id, 90s);
  }

  std::map<std::string, double> traffic(const std::string& env) {
    std::map<std::string, double> out;
    auto v = server_->getJson("/api/v1/environments/" + env);
    if (!v.is_object()) return out;
    for (const auto& [version, weight] : v.at("services").as_array()[0].at("traffic").as_object()) {
      out[std::string(version)] = weight.to_number<double>();
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<ServeFixture> server_;
};

TEST_F(ServeTest, CanaryOfAGoodVersionSucceedsAndTakesAllTraffic) {
  ASSERT_EQ(deployAndWait("canary", "v1"), "Succeeded");
  const std::string address = server_->serviceAddress("canary", "web");
  ASSERT_FALSE(address.empty());
  LoadGenerator load("http://" + address + "/");
  ASSERT_EQ(deployAndWait("canary", "v2"), "Succeeded");
  load.stop();
  EXPECT_EQ(traffic("canary"), (std::map<std::string, double>{{"v2", 100.0}}));
  EXPECT_GT(load.ok(), 50);
  EXPECT_EQ(load.transportErrors(), 0);
  // The old version is retired after its scale-down delay.
  EXPECT_TRUE(pollUntil(
      [&] {
        auto v = server_->getJson("/api/v1/environments/canary");
        if (!v.is_object()) return false;
        for (const auto& i : v.at("services").as_array()[0].at("instances").as_array()) {
          if (i.at("version").as_string() == "v1") return false;
        }
        return true;
      },
      deadlineIn(90s)));  // the canary keeps the old version 30 s after success
  auto env = server_->getJson("/api/v1/environments/canary");
  EXPECT_EQ(env.at("currentRelease").as_string(), "v2");
}

TEST_F(ServeTest, BadVersionIsRolledBackByItsAnalysis) {
  ASSERT_EQ(deployAndWait("canary", "v1"), "Succeeded");
  LoadGenerator load("http://" + server_->serviceAddress("canary", "web") + "/");
  std::string error;
  const std::string id = server_->deploy("canary", "v3", &error);
  ASSERT_FALSE(id.empty()) << error;
  EXPECT_EQ(server_->waitTerminal(id, 90s), "RolledBack");
  auto d = server_->getJson("/api/v1/deployments/" + id);
  const std::string reason(d.at("abortReason").as_string());
  EXPECT_NE(reason.find("error-rate"), std::string::npos) << reason;
  EXPECT_EQ(traffic("canary"), (std::map<std::string, double>{{"v1", 100.0}}));
  auto env = server_->getJson("/api/v1/environments/canary");
  EXPECT_EQ(env.at("currentRelease").as_string(), "v1");
  // The event log verifies and names the abort.
  auto audit = server_->getJson("/api/v1/audit/verify");
  EXPECT_TRUE(audit.at("intact").as_bool());
  bool aborted = false;
  for (const auto& e : d.at("events").as_array()) {
    if (e.at("kind").as_string() == "analysis.failed") aborted = true;
  }
  EXPECT_TRUE(aborted);
}

// Issue 14 lead 4: a retry passes the gates of a deploy; while another deployment is active in
// the environment it is refused with 409 (it used to start a second deployment driving the
// same environment).
TEST_F(ServeTest, RetryWhileAnotherDeploymentIsActiveIsAConflict) {
  ASSERT_EQ(deployAndWait("canary", "v1"), "Succeeded");
  LoadGenerator load("http://" + server_->serviceAddress("canary", "web") + "/");
  std::string error;
  const std::string bad = server_->deploy("canary", "v3", &error);
  ASSERT_FALSE(bad.empty()) << error;
  ASSERT_EQ(server_->waitTerminal(bad, 90s), "RolledBack");
  const std::string next = server_->deploy("canary", "v2", &error);
  ASSERT_FALSE(next.empty()) << error;
  ASSERT_TRUE(pollUntil([&] { return server_->phase(next) == "Progressing"; }, deadlineIn(30s)));
  auto retry = server_->call("POST", "/api/v1/deployments/" + bad + "/retry", "{}");
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->status, 409) << retry->body;
  EXPECT_NE(retry->body.find(next), std::string::npos) << retry->body;
  EXPECT_EQ(server_->phase(bad), "RolledBack");
  EXPECT_EQ(server_->waitTerminal(next, 90s), "Succeeded");
  EXPECT_EQ(server_->phase(bad), "RolledBack");
}

// Issue 14 lead 12: a step's `thresholds` replace ${threshold} in its template's conditions when
// the run is built. The condition used to keep the placeholder, could not be parsed, and the run
// that could not be set up counted as a pass: a build failing half its requests went to 100 %.
TEST_F(ServeTest, PerStepThresholdsJudgeTheStep) {
  ASSERT_EQ(deployAndWait("strict", "v1"), "Succeeded");
  LoadGenerator load("http://" + server_->serviceAddress("strict", "web") + "/");
  std::string error;
  const std::string id = server_->deploy("strict", "v3", &error);
  ASSERT_FALSE(id.empty()) << error;
  EXPECT_EQ(server_->waitTerminal(id, 90s), "RolledBack");
  auto d = server_->getJson("/api/v1/deployments/" + id);
  const std::string reason(d.at("abortReason").as_string());
  EXPECT_NE(reason.find("result > 0.1"), std::string::npos) << reason;
  EXPECT_EQ(traffic("strict"), (std::map<std::string, double>{{"v1", 100.0}}));
}

TEST_F(ServeTest, BlueGreenSwitchesAfterVerification) {
  ASSERT_EQ(deployAndWait("bluegreen", "v1"), "Succeeded");
  LoadGenerator load("http://" + server_->serviceAddress("bluegreen", "web") + "/");
  ASSERT_EQ(deployAndWait("bluegreen", "v2"), "Succeeded");
  load.stop();
  EXPECT_EQ(traffic("bluegreen"), (std::map<std::string, double>{{"v2", 100.0}}));
  EXPECT_EQ(load.transportErrors(), 0);
  EXPECT_GT(load.ok(), 50);
}

TEST_F(ServeTest, TwoDeploysAtOnceOneProceedsTheOtherGets409) {
  std::atomic<int> created{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      auto r = server_->call("POST", "/api/v1/deployments",
                             fmt::format(R"({{"environment":"gated","version":"v{}"}})", i + 1));
      if (r && r->status == 201) created++;
      if (r && r->status == 409) conflicts++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created, 1);
  EXPECT_EQ(conflicts, 1);
}

TEST_F(ServeTest, ReloadWithABrokenConfigKeepsTheOldOne) {
  // Broken: a typo in a field name.
  std::string broken = kConfig;
  const auto at = broken.find("instances: 2");
  const auto line = 1 + std::count(broken.begin(), broken.begin() + static_cast<std::ptrdiff_t>(at), '\n');
  broken.replace(at, 12, "instanses: 2");
  server_->writeConfig(broken);
  auto r = server_->call("POST", "/api/v1/config/reload");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  auto body = json::parse(r->body);
  EXPECT_EQ(body.at("error").at("code").as_string(), "invalid_argument");
  const auto& d = body.at("error").at("details").at("diagnostics").as_array();
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(d[0].at("line").as_int64(), line);
  EXPECT_NE(std::string(d[0].at("text").as_string()).find(fmt::format("runway.yaml:{}:", line)), std::string::npos)
      << d[0].at("text").as_string();
  // The old configuration still serves.
  EXPECT_EQ(deployAndWait("canary", "v1"), "Succeeded");
  // A good change goes in.
  server_->writeConfig(std::string(kConfig) + R"(---
apiVersion: runway/v1
kind: Environment
metadata:
  name: extra
spec:
  runtime:
    local: {}
)");
  r = server_->call("POST", "/api/v1/config/reload");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(server_->getJson("/api/v1/environments/extra").is_object());
}

TEST_F(ServeTest, RollbackTakesPrecedenceOverARunningDeployment) {
  ASSERT_EQ(deployAndWait("canary", "v1"), "Succeeded");
  LoadGenerator load("http://" + server_->serviceAddress("canary", "web") + "/");
  ASSERT_EQ(deployAndWait("canary", "v2"), "Succeeded");
  std::string error;
  const std::string running = server_->deploy("canary", "v4", &error);
  ASSERT_FALSE(running.empty()) << error;
  EXPECT_TRUE(pollUntil([&] { return server_->phase(running) == "Progressing"; }, deadlineIn(20s)));
  auto r = server_->call("POST", "/api/v1/environments/canary/rollback", R"({"reason":"bad numbers"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  auto body = json::parse(r->body);
  EXPECT_EQ(body.at("superseded").as_string(), running);
  EXPECT_EQ(body.at("from").as_string(), "v2");
  EXPECT_EQ(body.at("to").as_string(), "v1");
  const std::string rollback(body.at("deployment").as_string());
  EXPECT_EQ(server_->waitTerminal(running, 60s), "Superseded");
  EXPECT_EQ(server_->waitTerminal(rollback, 90s), "Succeeded");
  EXPECT_EQ(traffic("canary"), (std::map<std::string, double>{{"v1", 100.0}}));
  load.stop();
  EXPECT_EQ(load.transportErrors(), 0);
}

TEST_F(ServeTest, SigtermLeavesTheWorkloadsServingAndARestartCarriesOn) {
  ASSERT_EQ(deployAndWait("canary", "v1"), "Succeeded");
  const std::string address = server_->serviceAddress("canary", "web");
  auto status = server_->terminate();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exitedWith(0));
  // The router and the instances keep serving without the server.
  for (int i = 0; i < 20; ++i) {
    auto r = httpGet("http://" + address + "/", 5s);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
  }
  auto restarted = server_->start();
  ASSERT_TRUE(restarted) << restarted.error().message;
  LoadGenerator load("http://" + address + "/");
  EXPECT_EQ(deployAndWait("canary", "v2"), "Succeeded");
  load.stop();
  EXPECT_EQ(load.transportErrors(), 0);
}

// ---- authorization ----------------------------------------------------------------------

std::string createToken(ServeFixture& s, const std::string& name, const std::vector<std::string>& roles) {
  json::array r;
  for (const auto& x : roles) r.emplace_back(x);
  auto resp = s.call("POST", "/api/v1/tokens", json::serialize(json::object{{"name", name}, {"roles", r}}));
  if (!resp || resp->status != 201) return "";
  return std::string(json::parse(resp->body).at("token").as_string());
}

TEST_F(ServeTest, AuthorizationMatrixMatchesDocsApi) {
  std::map<std::string, std::string> tokens{
      {"viewer", createToken(*server_, "vera", {"viewer"})},
      {"deployer", createToken(*server_, "dan", {"deployer"})},
      {"tech-lead", createToken(*server_, "tess", {"tech-lead"})},
      {"admin", server_->adminToken()},
  };
  for (const auto& [role, t] : tokens) ASSERT_FALSE(t.empty()) << role;
  struct Endpoint {
    std::string method, path, body;
    std::string role;  // least role; "approver" = any token, role checked against the token
  };
  // Bodies name things that do not exist, so an allowed call answers 4xx after authorization
  // and changes nothing.
  const std::vector<Endpoint> endpoints{
      {"GET", "/api/v1/version", "", "viewer"},
      {"GET", "/api/v1/whoami", "", "viewer"},
      {"GET", "/api/v1/session", "", "viewer"},
      {"DELETE", "/api/v1/session", "", "viewer"},
      {"GET", "/api/v1/environments", "", "viewer"},
      {"GET", "/api/v1/environments/canary", "", "viewer"},
      {"GET", "/api/v1/environments/canary/history", "", "viewer"},
      {"GET", "/api/v1/deployments", "", "viewer"},
      {"GET", "/api/v1/deployments/dep-none", "", "viewer"},
      {"GET", "/api/v1/deployments/dep-none/evidence", "", "viewer"},
      {"POST", "/api/v1/environments/nowhere/checklist", R"({"version":"v1"})", "viewer"},
      {"GET", "/api/v1/events?stream=false", "", "viewer"},
      {"GET", "/api/v1/audit/verify", "", "viewer"},
      {"GET", "/api/v1/notifications", "", "viewer"},
      {"POST", "/api/v1/alerts/alertmanager", "{}", "deployer"},
      {"GET", "/api/v1/incidents", "", "viewer"},
      {"GET", "/api/v1/incidents/inc-none", "", "viewer"},
      {"GET", "/api/v1/incidents/inc-none/postmortem", "", "viewer"},
      {"POST", "/api/v1/incidents", R"({"title":""})", "deployer"},
      {"POST", "/api/v1/incidents/inc-none/acknowledge", "", "deployer"},
      {"POST", "/api/v1/incidents/inc-none/update", "", "deployer"},
      {"POST", "/api/v1/incidents/inc-none/mitigate", "", "deployer"},
      {"POST", "/api/v1/incidents/inc-none/resolve", "", "deployer"},
      {"POST", "/api/v1/incidents/inc-none/note", "", "deployer"},
      {"POST", "/api/v1/incidents/inc-none/commander", "", "deployer"},
      {"POST", "/api/v1/deployments", R"({"environment":"nowhere","version":"v1"})", "deployer"},
      {"POST", "/api/v1/environments/nowhere/rollback", "", "deployer"},
      {"POST", "/api/v1/environments/nowhere/promote", "", "deployer"},
      {"POST", "/api/v1/environments/nowhere/promote-full", "", "deployer"},
      {"POST", "/api/v1/environments/nowhere/abort", "", "deployer"},
      {"POST", "/api/v1/environments/nowhere/retry", "", "deployer"},
      {"POST", "/api/v1/environments/nowhere/pause", "", "deployer"},
      {"POST", "/api/v1/environments/nowhere/resume", "", "deployer"},
      {"POST", "/api/v1/deployments/dep-none/promote", "", "deployer"},
      {"POST", "/api/v1/deployments/dep-none/promote-full", "", "deployer"},
      {"POST", "/api/v1/deployments/dep-none/abort", "", "deployer"},
      {"POST", "/api/v1/deployments/dep-none/retry", "", "deployer"},
      {"POST", "/api/v1/deployments/dep-none/pause", "", "deployer"},
      {"POST", "/api/v1/deployments/dep-none/resume", "", "deployer"},
      {"POST", "/api/v1/deployments/dep-none/approve", "", "approver"},
      {"POST", "/api/v1/deployments/dep-none/reject", "", "approver"},
      {"POST", "/api/v1/environments/nowhere/approve", "", "approver"},
      {"POST", "/api/v1/environments/nowhere/reject", "", "approver"},
      {"POST", "/api/v1/deployments/dep-none/checklist/waive", R"({"item":"codeReview","comment":"x"})", "approver"},
      {"POST", "/api/v1/config/reload", "", "admin"},
      {"GET", "/api/v1/tokens", "", "admin"},
      {"POST", "/api/v1/tokens", R"({"name":"x","roles":["no-such-role"]})", "admin"},
      {"DELETE", "/api/v1/tokens/0000000000000000", "", "admin"},
  };
  const auto allowed = [](const std::string& need, const std::string& role) {
    if (need == "viewer" || need == "approver") return true;
    if (need == "deployer") return role == "deployer" || role == "admin";
    return role == "admin";
  };
  for (const auto& e : endpoints) {
    auto none = server_->call(e.method, e.path, e.body, std::string());
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401) << e.method << " " << e.path << " without a token";
    for (const auto& [role, t] : tokens) {
      auto r = server_->call(e.method, e.path, e.body, t);
      ASSERT_TRUE(r);
      if (allowed(e.role, role)) {
        EXPECT_NE(r->status, 403) << e.method << " " << e.path << " as " << role << ": " << r->body;
        EXPECT_NE(r->status, 401) << e.method << " " << e.path << " as " << role;
      } else {
        EXPECT_EQ(r->status, 403) << e.method << " " << e.path << " as " << role << ": " << r->body;
        EXPECT_EQ(json::parse(r->body).at("error").at("code").as_string(), "permission_denied");
      }
    }
  }
  // Health endpoints and the dashboard's files need no token.
  for (const char* path : {"/healthz", "/readyz", "/metrics", "/", "/assets/app.js"}) {
    auto r = server_->call("GET", path, "", std::string());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << path;
  }
}

TEST_F(ServeTest, RevokedAndUnknownTokensGet401) {
  const std::string t = createToken(*server_, "temp", {"viewer"});
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(server_->call("GET", "/api/v1/environments", "", t)->status, 200);
  auto list = server_->getJson("/api/v1/tokens");
  std::string id;
  for (const auto& tok : list.at("tokens").as_array()) {
    if (tok.at("name").as_string() == "temp") id = std::string(tok.at("id").as_string());
  }
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(server_->call("DELETE", "/api/v1/tokens/" + id)->status, 200);
  auto r = server_->call("GET", "/api/v1/environments", "", t);
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("token revoked"), std::string::npos) << r->body;
  EXPECT_EQ(server_->call("GET", "/api/v1/environments", "", "rwy_nonsense")->status, 401);
  // The secret never reaches the token list.
  EXPECT_EQ(server_->call("GET", "/api/v1/tokens")->body.find(t.substr(22)), std::string::npos);
}

TEST_F(ServeTest, ApprovalsCountOnlyForHeldRolesAndNeverFromTheDeployer) {
  const std::string alice = createToken(*server_, "alice", {"deployer", "tech-lead"});
  const std::string bob = createToken(*server_, "bob", {"deployer"});
  const std::string carol = createToken(*server_, "carol", {"tech-lead"});
  auto r = server_->call("POST", "/api/v1/deployments", R"({"environment":"gated","version":"v1"})", alice);
  ASSERT_EQ(r->status, 201) << r->body;
  const std::string id(json::parse(r->body).at("deployment").as_string());
  EXPECT_TRUE(pollUntil([&] { return server_->phase(id) == "AwaitingApproval"; }, deadlineIn(10s)));
  // Alice started it: her approval does not count.
  r = server_->call("POST", "/api/v1/deployments/" + id + "/approve", R"({"role":"tech-lead"})", alice);
  EXPECT_EQ(r->status, 403) << r->body;
  // Bob is no tech lead.
  r = server_->call("POST", "/api/v1/deployments/" + id + "/approve", R"({"role":"tech-lead"})", bob);
  EXPECT_EQ(r->status, 403) << r->body;
  r = server_->call("POST", "/api/v1/deployments/" + id + "/approve", "", bob);
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_EQ(server_->phase(id), "AwaitingApproval");
  // Carol is.
  r = server_->call("POST", "/api/v1/deployments/" + id + "/approve", R"({"comment":"looks good"})", carol);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(server_->waitTerminal(id, 60s), "Succeeded");
  auto d = server_->getJson("/api/v1/deployments/" + id);
  const auto& approvals = d.at("approvals").as_array();
  ASSERT_EQ(approvals.size(), 1u);
  EXPECT_EQ(approvals[0].at("actor").as_string(), "carol");
  EXPECT_EQ(approvals[0].at("role").as_string(), "tech-lead");
}

// Runs one statement on the server's database from outside, as another process would.
void execOnStore(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  sqlite3_busy_timeout(handle, 10000);
  char* error = nullptr;
  const int rc = sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(handle);
}

// Issue 14, lead 10: an approval the store cannot record changes nothing. Before, the state that
// counted the approval was committed first and the approval written after it: with that second
// write refused (here by a trigger), the deployment went on with no approval on record.
TEST_F(ServeTest, AnApprovalTheStoreCannotRecordChangesNothing) {
  const std::string alice = createToken(*server_, "alice", {"deployer"});
  const std::string carol = createToken(*server_, "carol", {"tech-lead"});
  auto r = server_->call("POST", "/api/v1/deployments", R"({"environment":"gated","version":"v1"})", alice);
  ASSERT_EQ(r->status, 201) << r->body;
  const std::string id(json::parse(r->body).at("deployment").as_string());
  ASSERT_TRUE(pollUntil([&] { return server_->phase(id) == "AwaitingApproval"; }, deadlineIn(10s)));

  const auto db = server_->data() / "runway.db";
  execOnStore(db, "CREATE TRIGGER refuse_approvals BEFORE INSERT ON approvals "
                  "BEGIN SELECT RAISE(ABORT, 'approvals refused by the test'); END");
  r = server_->call("POST", "/api/v1/deployments/" + id + "/approve", R"({"role":"tech-lead"})", carol);
  ASSERT_TRUE(r);
  EXPECT_GE(r->status, 400) << r->body;  // the store's refusal, as a JSON error
  EXPECT_NE(r->body.find("approvals refused by the test"), std::string::npos) << r->body;
  auto d = server_->getJson("/api/v1/deployments/" + id);
  EXPECT_EQ(d.at("phase").as_string(), "AwaitingApproval");
  EXPECT_TRUE(d.at("approvals").as_array().empty()) << json::serialize(d.at("approvals"));

  // Once the store takes it, the same approval goes through.
  execOnStore(db, "DROP TRIGGER refuse_approvals");
  r = server_->call("POST", "/api/v1/deployments/" + id + "/approve", R"({"role":"tech-lead"})", carol);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(server_->waitTerminal(id, 60s), "Succeeded");
  d = server_->getJson("/api/v1/deployments/" + id);
  ASSERT_EQ(d.at("approvals").as_array().size(), 1u);
  EXPECT_EQ(d.at("approvals").as_array()[0].at("actor").as_string(), "carol");
}

}  // namespace
}  // namespace runway::test
