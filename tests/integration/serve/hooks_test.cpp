// Issue 8 hooks inside deployments run by the real `runway serve`: preDeploy before anything
// starts (a failing one fails the deployment with the hook's output kept in its events),
// postDeploy after success, and the down-migration (preRollback) plus onAbort when a bad
// version is rolled back.

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "serve_fixture.hpp"
#include "support/http.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string config(const std::string& log) {
  return fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata:
  name: shop
spec:
  services:
    - name: web
      local:
        command: ["runway-demo-app", "--port", "${{PORT}}"]
      env:
        VERSION: "${{VERSION}}"
        FAULTY_VERSIONS: "v3=0.6"
      health:
        path: /health
        period: 100ms
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: hooked
spec:
  runtime:
    local: {{}}
  strategy: canary
  canary:
    steps:
      - setWeight: 50
      - pause: {{ duration: 2s }}
      - setWeight: 100
    analysis:
      templates: [errors]
    abortScaleDownDelay: 1s
  hooks:
    preDeploy:
      - {{name: migrate, command: ["sh", "-c", "echo pre $RUNWAY_VERSION >> {0}"], onFailure: fail}}
    postDeploy:
      - {{name: announce, command: ["sh", "-c", "echo post $RUNWAY_VERSION >> {0}"], onFailure: continue}}
    preRollback:
      - {{name: migrate-down, command: ["sh", "-c", "echo down $RUNWAY_VERSION >> {0}"]}}
    onAbort:
      - {{name: page, command: ["sh", "-c", "echo abort $RUNWAY_VERSION >> {0}"], onFailure: continue}}
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: blocked
spec:
  runtime:
    local: {{}}
  strategy: rolling
  hooks:
    preDeploy:
      - {{name: migrate, command: ["sh", "-c", "echo 'relation leads already exists' >&2; exit 3"], onFailure: fail}}
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: slowstart
spec:
  runtime:
    local: {{}}
  strategy: rolling
  hooks:
    preDeploy:
      - {{name: migrate, command: ["sh", "-c", "echo slow $RUNWAY_VERSION >> {0}; sleep 3"], timeout: 30s}}
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: cleanup
spec:
  runtime:
    local: {{}}
  strategy: canary
  canary:
    steps:
      - setWeight: 50
      - pause: {{}}
      - setWeight: 100
    abortScaleDownDelay: 1s
  hooks:
    onAbort:
      - {{name: page, command: ["sh", "-c", "echo abort $RUNWAY_VERSION >> {0}"], onFailure: continue}}
    postRollback:
      - {{name: tidy, onFailure: continue, command: ["sh", "-c", "echo tidying; sleep 3; echo done; echo postrollback $RUNWAY_VERSION >> {0}"]}}
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: noisy
spec:
  runtime:
    local: {{}}
  strategy: rolling
  hooks:
    preDeploy:
      - name: chatty
        onFailure: fail
        command: ["awk", "BEGIN {{ printf \"x\"; for (i = 0; i < 3000; i++) printf \"\\303\\251\"; printf \"bad\\377end\"; exit 3 }}"]
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
      failureCondition: "result > 0.2"
      noData: inconclusive
      inconclusiveLimit: 20
)",
                     log);
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(HooksTest, LifecycleHooksRunAtTheirPointsAndAFailingPreDeployStopsTheDeployment) {
  TempDir dir;
  const auto log = dir.path() / "hooks.log";
  ServeFixture server(dir.path());
  server.writeConfig(config(log.string()));
  auto started = server.start();
  ASSERT_TRUE(started) << started.error().message;

  std::string error;
  const std::string first = server.deploy("hooked", "v1", &error);
  ASSERT_FALSE(first.empty()) << error;
  ASSERT_EQ(server.waitTerminal(first, 60s), "Succeeded");
  EXPECT_TRUE(pollUntil([&] { return slurp(log) == "pre v1\npost v1\n"; }, deadlineIn(20s))) << slurp(log);

  // A bad version: its analysis fails, the deployment rolls back, the down-migration runs.
  LoadGenerator load("http://" + server.serviceAddress("hooked", "web") + "/");
  const std::string bad = server.deploy("hooked", "v3", &error);
  ASSERT_FALSE(bad.empty()) << error;
  EXPECT_EQ(server.waitTerminal(bad, 60s), "RolledBack");
  load.stop();
  EXPECT_TRUE(pollUntil(
      [&] {
        const auto text = slurp(log);
        return text.find("down v3") != std::string::npos && text.find("abort v3") != std::string::npos;
      },
      deadlineIn(20s)))
      << slurp(log);
  EXPECT_NE(slurp(log).find("pre v3"), std::string::npos);

  // A failing preDeploy hook: nothing starts, the deployment fails with the hook's words.
  const std::string blocked = server.deploy("blocked", "v1", &error);
  ASSERT_FALSE(blocked.empty()) << error;
  EXPECT_EQ(server.waitTerminal(blocked, 30s), "Failed");
  auto d = server.getJson("/api/v1/deployments/" + blocked);
  EXPECT_NE(std::string(d.at("abortReason").as_string()).find("migrate"), std::string::npos)
      << d.at("abortReason").as_string();
  bool kept = false;
  for (const auto& e : d.at("events").as_array()) {
    if (e.at("kind").as_string() == "hooks.failed") {
      kept = json::serialize(e.at("data")).find("relation leads already exists") != std::string::npos;
    }
  }
  EXPECT_TRUE(kept) << json::serialize(d.at("events"));
  auto env = server.getJson("/api/v1/environments/blocked");
  EXPECT_TRUE(env.at("services").as_array()[0].at("instances").as_array().empty());
  EXPECT_EQ(server.down(), 0);
}

// Lead 5: a deployment whose preDeploy hooks were running when the server died was committed
// as queued; after a restart its hooks run again and it starts (it used to stay Queued until an
// unrelated deployment of the environment ended).
TEST(HooksTest, AQueuedStartInterruptedByACrashStartsAfterRestart) {
  TempDir dir;
  const auto log = dir.path() / "hooks.log";
  ServeFixture server(dir.path());
  server.writeConfig(config(log.string()));
  auto started = server.start();
  ASSERT_TRUE(started) << started.error().message;
  std::string error;
  const std::string id = server.deploy("slowstart", "v1", &error);
  ASSERT_FALSE(id.empty()) << error;
  ASSERT_TRUE(pollUntil([&] { return slurp(log).find("slow v1") != std::string::npos; },
                        deadlineIn(20s)));
  server.kill9();
  auto restarted = server.start();
  ASSERT_TRUE(restarted) << restarted.error().message;
  EXPECT_EQ(server.waitTerminal(id, 60s), "Succeeded");
  EXPECT_EQ(slurp(log), "slow v1\nslow v1\n");  // the interrupted hook ran again
  EXPECT_EQ(server.down(), 0);
}

// Lead 6: lifecycle hooks are committed as intents with the phase change that calls for them.
// A postRollback hook interrupted by kill -9 (its output pipe closes with the server, so it dies
// of SIGPIPE) runs again after the restart.
TEST(HooksTest, APostRollbackHookInterruptedByACrashRunsAfterRestart) {
  TempDir dir;
  const auto log = dir.path() / "hooks.log";
  ServeFixture server(dir.path());
  server.writeConfig(config(log.string()));
  auto started = server.start();
  ASSERT_TRUE(started) << started.error().message;
  std::string error;
  const std::string first = server.deploy("cleanup", "v1", &error);
  ASSERT_FALSE(first.empty()) << error;
  // The environment's first release: nothing to compare against, so no steps (docs/concepts.md).
  ASSERT_EQ(server.waitTerminal(first, 30s), "Succeeded");

  const std::string second = server.deploy("cleanup", "v2", &error);
  ASSERT_FALSE(second.empty()) << error;
  ASSERT_TRUE(pollUntil([&] { return server.phase(second) == "Paused"; }, deadlineIn(30s)));
  auto aborted = server.call("POST", "/api/v1/deployments/" + second + "/abort", "{}");
  ASSERT_TRUE(aborted && aborted->status == 200) << (aborted ? aborted->body : "");
  ASSERT_TRUE(pollUntil(
      [&] { return slurp(log).find("abort v2") != std::string::npos && server.phase(second) == "RolledBack"; },
      deadlineIn(30s)));
  server.kill9();  // the postRollback hook is in its 3 s sleep
  EXPECT_EQ(slurp(log).find("postrollback v2"), std::string::npos) << slurp(log);
  auto restarted = server.start();
  ASSERT_TRUE(restarted) << restarted.error().message;
  EXPECT_TRUE(pollUntil([&] { return slurp(log).find("postrollback v2") != std::string::npos; },
                        deadlineIn(30s)))
      << slurp(log);
  EXPECT_EQ(server.down(), 0);
}

// Lead 11: a hook's output is kept as its last 4 KiB, cut on a character boundary, and bytes
// that are not UTF-8 are escaped instead of the whole record being replaced by [].
TEST(HooksTest, HookOutputIsCutOnACharacterBoundaryAndInvalidBytesAreKeptEscaped) {
  TempDir dir;
  ServeFixture server(dir.path());
  server.writeConfig(config((dir.path() / "hooks.log").string()));
  auto started = server.start();
  ASSERT_TRUE(started) << started.error().message;
  std::string error;
  const std::string id = server.deploy("noisy", "v1", &error);
  ASSERT_FALSE(id.empty()) << error;
  EXPECT_EQ(server.waitTerminal(id, 30s), "Failed");
  auto d = server.getJson("/api/v1/deployments/" + id);
  std::string output;
  for (const auto& e : d.at("events").as_array()) {
    if (e.at("kind").as_string() != "hooks.failed") continue;
    const auto& runs = e.at("data").at("runs").as_array();
    ASSERT_EQ(runs.size(), 1u) << json::serialize(e);
    output = std::string(runs[0].at("output").as_string());
  }
  // 6008 bytes were written: "x", 3000 two-byte characters, "bad", 0xFF, "end".
  ASSERT_FALSE(output.empty()) << json::serialize(d.at("events"));
  EXPECT_EQ(output.substr(output.size() - 10), "bad\\xffend");
  EXPECT_EQ(output.substr(0, 2), "\xc3\xa9");  // a whole character first, not half of one
  EXPECT_LE(output.size(), 4096u + 3u);       // 4 KiB, plus the escape of the one bad byte
  EXPECT_GE(output.size(), 4090u);
  EXPECT_EQ(server.down(), 0);
}

}  // namespace
}  // namespace runway::test
