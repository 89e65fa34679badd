// The runway-deploy action's script (integrations/github/actions/runway-deploy/runway_deploy.py)
// run as the composite action runs it — its inputs in INPUT_* variables, the token in
// RUNWAY_TOKEN, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files — against a real `runway serve` with
// the demo app: a deployment that succeeds, a bad build rolled back by its canary's analysis, a
// rollback, and a refused token. The step's exit code must be the CLI's, and the outputs and the
// job summary must say what happened.

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../serve/serve_fixture.hpp"
#include "support/net.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace runway::test {
namespace {

using namespace std::chrono_literals;

// v2 is a bad build: every request to it fails (the demo app's FAULTY_VERSIONS). Production's
// canary sends it 50 % and judges it in the background; v1 goes out by `rolling`.
constexpr const char* kActionConfig = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: ["runway-demo-app", "--port", "${PORT}"]}
      env: {VERSION: "${VERSION}", FAULTY_VERSIONS: "v2=1"}
      health: {path: /health, period: 100ms, failureThreshold: 3}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: production}
spec:
  application: shop
  runtime: {local: {}}
  strategy: canary
  canary:
    steps:
      - setWeight: 50
      - pause: {duration: 30s}
      - setWeight: 100
    analysis: {templates: [errors], startingStep: 0}
    scaleDownDelay: 1s
    abortScaleDownDelay: 1s
  progressDeadline: 2m
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata: {name: errors}
spec:
  metrics:
    - name: error-rate
      provider: builtin
      query: error_rate
      window: 3s
      interval: 300ms
      failureCondition: "result > 0.1"
      noData: inconclusive
      inconclusiveLimit: 200
)";

struct StepRun {
  ExitStatus status;
  std::map<std::string, std::string> outputs;
  std::string summary;
  std::string log;
};

class GithubActionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(tmp_ / "serve");
    serve_.writeConfig(kActionConfig);
    auto started = serve_.start();
    ASSERT_TRUE(started) << started.error().message;
  }

  // One run of the action's step with INPUTS (name -> value, as action.yml maps them).
  StepRun step(const std::map<std::string, std::string>& inputs, const std::string& token) {
    const auto n = std::to_string(++runs_);
    const auto output = tmp_ / ("output-" + n), summary = tmp_ / ("summary-" + n);
    SubprocessOptions o;
    o.argv = {"/usr/bin/python3",
              std::string(RUNWAY_SOURCE_DIR) + "/integrations/github/actions/runway-deploy/runway_deploy.py"};
    o.env = {{"RUNWAY_SERVER", serve_.url()},
             {"RUNWAY_TOKEN", token},
             {"INPUT_CLI", binaryPath("runway").string()},
             {"GITHUB_OUTPUT", output.string()},
             {"GITHUB_STEP_SUMMARY", summary.string()}};
    for (const auto& [k, v] : inputs) o.env.emplace_back("INPUT_" + k, v);
    o.stdout_to = Output::pipe();
    o.stderr_to = Output::pipe();
    StepRun run;
    auto child = Subprocess::start(std::move(o));
    if (!child) {
      run.log = child.error().message;
      return run;
    }
    if (auto captured = child->readToEnd(deadlineIn(240s))) run.log = captured->out + captured->err;
    if (auto st = child->waitExit(deadlineIn(10s))) run.status = *st;
    if (auto text = readFile(output)) {
      std::istringstream lines(*text);
      for (std::string line; std::getline(lines, line);) {
        if (auto eq = line.find('='); eq != std::string::npos) run.outputs[line.substr(0, eq)] = line.substr(eq + 1);
      }
    }
    if (auto text = readFile(summary)) run.summary = *text;
    return run;
  }

  static std::string describe(const StepRun& r) {
    return r.status.describe() + "\nlog:\n" + r.log + "\nsummary:\n" + r.summary;
  }

  TempDir tmp_{"runway-gha"};
  ServeFixture serve_{tmp_ / "serve"};
  int runs_ = 0;
};

TEST_F(GithubActionTest, SucceededThenRolledBackThenRollbackAndARefusedToken) {
  // v1, the first release, by rolling (the action's strategy input): exit 0, Succeeded.
  auto first = step({{"ENVIRONMENT", "production"}, {"VERSION", "v1"}, {"STRATEGY", "rolling"},
                     {"WAIT", "true"}, {"TIMEOUT", "2m"}, {"REASON", "first release"}},
                    serve_.adminToken());
  ASSERT_TRUE(first.status.exitedWith(0)) << describe(first);
  EXPECT_EQ(first.outputs["phase"], "Succeeded") << describe(first);
  EXPECT_EQ(first.outputs["exit-code"], "0");
  const std::string v1 = first.outputs["deployment-id"];
  ASSERT_EQ(v1.rfind("dep-", 0), 0u) << describe(first);
  EXPECT_EQ(first.outputs["url"], serve_.url() + "/#/deployments/" + v1);
  EXPECT_EQ(serve_.phase(v1), "Succeeded");
  EXPECT_NE(first.summary.find("runway deploy v1 to production: Succeeded"), std::string::npos) << first.summary;
  EXPECT_EQ(first.log.find(serve_.adminToken()), std::string::npos) << "the token was printed";
  EXPECT_EQ(first.summary.find(serve_.adminToken()), std::string::npos) << "the token is in the summary";

  // v2, the bad build, by production's canary with users on the service: the background
  // analysis fails it and runway rolls it back; the step fails with the CLI's 1.
  const std::string address = serve_.serviceAddress("production", "web");
  ASSERT_FALSE(address.empty());
  LoadGenerator users("http://" + address + "/api/leads");
  auto bad = step({{"ENVIRONMENT", "production"}, {"VERSION", "v2"}, {"WAIT", "true"}, {"TIMEOUT", "2m"}},
                  serve_.adminToken());
  users.stop();
  ASSERT_TRUE(bad.status.exitedWith(1)) << describe(bad);
  EXPECT_EQ(bad.outputs["phase"], "RolledBack") << describe(bad);
  EXPECT_EQ(bad.outputs["exit-code"], "1");
  const std::string v2 = bad.outputs["deployment-id"];
  EXPECT_EQ(serve_.phase(v2), "RolledBack");
  EXPECT_NE(bad.summary.find("runway deploy v2 to production: RolledBack"), std::string::npos) << bad.summary;
  EXPECT_NE(bad.summary.find("| 1 | setWeight 50% |"), std::string::npos) << bad.summary;  // the steps
  EXPECT_NE(bad.summary.find("error-rate"), std::string::npos) << bad.summary;          // the analysis
  EXPECT_NE(bad.summary.find("| why it ended | "), std::string::npos) << bad.summary;

  // The emergency-rollback workflow's operation: back to v1, followed to the end.
  auto rollback = step({{"OPERATION", "rollback"}, {"ENVIRONMENT", "production"}, {"VERSION", "v1"},
                        {"WAIT", "true"}, {"REASON", "drill"}},
                       serve_.adminToken());
  ASSERT_TRUE(rollback.status.exitedWith(0)) << describe(rollback);
  EXPECT_EQ(rollback.outputs["phase"], "Succeeded") << describe(rollback);
  EXPECT_EQ(serve_.phase(rollback.outputs["deployment-id"]), "Succeeded");

  // A token the server refuses: the CLI's 3, no deployment.
  auto refused = step({{"ENVIRONMENT", "production"}, {"VERSION", "v3"}}, "rw_not-a-token");
  EXPECT_TRUE(refused.status.exitedWith(3)) << describe(refused);
  EXPECT_EQ(refused.outputs["exit-code"], "3") << describe(refused);
  EXPECT_EQ(refused.outputs["deployment-id"], "");

  // Missing inputs are the action's usage error (2), before any call.
  auto usage = step({{"ENVIRONMENT", "production"}}, serve_.adminToken());
  EXPECT_TRUE(usage.status.exitedWith(2)) << describe(usage);
}

}  // namespace
}  // namespace runway::test
