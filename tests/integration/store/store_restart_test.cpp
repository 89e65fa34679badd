// Issue 18: PostgreSQL restarted in the middle of a canary. `runway serve --store postgres://...`
// runs the demo app under load through its router; the database stops (fast shutdown) between
// two steps and stays down while the controller wants to commit and the API is asked to read and
// to write; then it starts again on the same port and data directory. The rollout ends as it
// would have (its background analysis judged on what was measured, some of it while the
// database was down), each step started once, the chain verifies, the users saw no failure, and the
// server stayed up.

#include <map>
#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "integration/serve/serve_fixture.hpp"
#include "support/postgres.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

namespace bjson = boost::json;
using namespace std::chrono_literals;

constexpr const char* kCanaryConfig = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local:
        command: ["runway-demo-app", "--port", "${PORT}"]
      instances: 2
      env:
        VERSION: "${VERSION}"
      health:
        path: /health
        period: 100ms
        failureThreshold: 3
---
apiVersion: runway/v1
kind: Environment
metadata: {name: canary}
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
  progressDeadline: 2m
---
apiVersion: runway/v1
kind: Environment
metadata: {name: other}
spec:
  runtime:
    local: {}
  strategy: canary
  canary:
    steps:
      - setWeight: 100
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
      window: 4s
      initialDelay: 1s
      interval: 1s
      failureCondition: "result > 0.1"
      noData: inconclusive
      inconclusiveLimit: 20
)";

// The kinds of a deployment's events, in order ("" entries never; empty on failure).
std::vector<std::string> eventKinds(ServeFixture& server, const std::string& id,
                                    std::vector<std::string>* messages = nullptr) {
  std::vector<std::string> kinds;
  auto v = server.getJson("/api/v1/events?stream=false&subject=" + id);
  if (!v.is_object()) return kinds;
  for (const auto& e : v.at("events").as_array()) {
    kinds.emplace_back(e.at("kind").as_string());
    if (messages != nullptr && e.at("reason").is_string()) {
      messages->emplace_back(e.at("reason").as_string());
    }
  }
  return kinds;
}

std::string serveLog(const TempDir& dir) {
  auto text = readFile(dir.path() / "serve.log");
  return text ? *text : "(no serve.log)";
}

TEST(StoreRestartTest, PostgresRestartedMidCanaryTheRolloutContinuesAndNothingIsLost) {
  ASSERT_TRUE(std::filesystem::exists(binaryPath("runway-demo-app")));
  auto pg = PostgresServer::start({"runway-pg-restart", std::nullopt});
  ASSERT_TRUE(pg) << pg.error().message;
  TempDir dir("runway-store-restart");
  ServeFixture server(dir.path());
  server.writeConfig(kCanaryConfig);
  server.extra_args = {"--store", (*pg)->url("postgres")};
  auto started = server.start();
  ASSERT_TRUE(started) << started.error().message;

  std::string error;
  const std::string v1 = server.deploy("canary", "v1", &error);
  ASSERT_FALSE(v1.empty()) << error;
  ASSERT_EQ(server.waitTerminal(v1, 90s), "Succeeded") << serveLog(dir);
  const std::string address = server.serviceAddress("canary", "web");
  ASSERT_FALSE(address.empty());
  LoadGenerator load("http://" + address + "/");

  const std::string v2 = server.deploy("canary", "v2", &error);
  ASSERT_FALSE(v2.empty()) << error;
  // In the first pause: v2 takes 25 %, and the controller will want to commit the next step.
  ASSERT_TRUE(pollUntil(
      [&] {
        int started_steps = 0;
        for (const auto& k : eventKinds(server, v2)) started_steps += k == "step.started" ? 1 : 0;
        return started_steps >= 2;
      },
      deadlineIn(60s)));
  ASSERT_TRUE((*pg)->stop());

  // While the database is down, for as long as the pause the controller wants to end, and more:
  // a read answers an error or what was committed; a write is never accepted.
  int reads = 0, writes = 0;
  const auto down_until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < down_until) {
    auto read = server.call("GET", "/api/v1/deployments/" + v2);
    ASSERT_TRUE(read) << read.error().message;
    if (read->status == 200) {
      const auto phase = bjson::parse(read->body).at("phase").as_string();
      EXPECT_NE(phase, "Succeeded") << "the deployment cannot succeed while its store is down";
    } else {
      EXPECT_EQ(read->status, 503) << read->body;
    }
    ++reads;
    auto deploy = server.call("POST", "/api/v1/deployments",
                              R"({"environment":"other","version":"v9"})");
    ASSERT_TRUE(deploy) << deploy.error().message;
    EXPECT_EQ(deploy->status, 503) << deploy->body;
    auto promote = server.call("POST", "/api/v1/deployments/" + v2 + "/promote", "{}");
    ASSERT_TRUE(promote) << promote.error().message;
    EXPECT_EQ(promote->status, 503) << promote->body;
    writes += 2;
  }
  EXPECT_GT(reads, 0);
  EXPECT_GT(writes, 0);

  ASSERT_TRUE((*pg)->restart());
  EXPECT_EQ(server.waitTerminal(v2, 120s), "Succeeded") << serveLog(dir);
  load.stop();

  // Each step started exactly once (5 steps), nothing skipped, nothing promoted by the refused
  // requests; the deploy refused while the database was down left no deployment behind.
  std::vector<std::string> messages;
  const auto kinds = eventKinds(server, v2, &messages);
  std::map<std::string, int> count;
  for (const auto& k : kinds) count[k]++;
  std::string all;
  for (const auto& m : messages) all += m + "\n";
  EXPECT_EQ(count["step.started"], 5) << all;
  EXPECT_EQ(count["step.skipped"], 0) << all;
  auto others = server.getJson("/api/v1/deployments?environment=other");
  ASSERT_TRUE(others.is_object());
  EXPECT_TRUE(others.at("deployments").as_array().empty()) << bjson::serialize(others);

  auto verified = server.getJson("/api/v1/audit/verify");
  ASSERT_TRUE(verified.is_object());
  EXPECT_TRUE(verified.at("intact").as_bool()) << bjson::serialize(verified);

  EXPECT_GT(load.ok(), 50);
  EXPECT_EQ(load.failed(), 0) << load.firstFailure();
  auto env = server.getJson("/api/v1/environments/canary");
  ASSERT_TRUE(env.is_object());
  EXPECT_EQ(env.at("currentRelease").as_string(), "v2");
  // The same server process all along: it exits cleanly now.
  auto status = server.terminate();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exited && status->code == 0);
  // The outage did overlap what the controller had to commit (a pause ending, measurements),
  // and the log never carries more than the redacted URL.
  const auto log = readFile(dir.path() / "serve.log");
  ASSERT_TRUE(log);
  EXPECT_NE(log->find("cannot commit its next state"), std::string::npos) << *log;
  // The loops that poll the store (outbox every 200 ms, snapshots every 250 ms) say that it is
  // down once per message, not once per pass, and say when it works again.
  int outbox_lines = 0;
  for (auto at = log->find("notification outbox: "); at != std::string::npos;
       at = log->find("notification outbox: ", at + 1)) {
    ++outbox_lines;
  }
  EXPECT_LE(outbox_lines, 5) << *log;
  EXPECT_NE(log->find("notification outbox: works again after"), std::string::npos) << *log;
}

}  // namespace
}  // namespace runway::test
