// The simulated runtime under the real `runway serve` (issue 18's scale benchmark and demos
// build on it; issue 24 built it): an environment with `runtime: {simulated: {...}}` starts no
// process, its canary is judged by builtin metrics read from the runtime's model on the server's
// clock, its gates pass on the model's ready instances, and it ends serving the new version.

#include <string>

#include "serve_fixture.hpp"
#include "support/temp_dir.hpp"
#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace runway::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSimulatedConfig = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: ["no-such-program-is-ever-started"]}
      instances: 2
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata: {name: errors}
spec:
  metrics:
    - name: error-rate
      provider: builtin
      query: error_rate
      window: 2s
      initialDelay: 1s
      interval: 1s
      count: 3
      failureCondition: "result > 0.05"
      noData: inconclusive
---
apiVersion: runway/v1
kind: Environment
metadata: {name: sim}
spec:
  runtime: {simulated: {readyAfter: 500ms, requestsPerSecond: 2000, errorRate: 0.001, latencyP95: 50ms}}
  strategy: canary
  canary:
    steps:
      - setWeight: 50
      - pause: {duration: 1s}
      - checks: {health: basic}
      - analysis: {templates: [errors]}
      - setWeight: 100
  progressDeadline: 1m
)";

TEST(SimulatedServeTest, ACanaryOnTheSimulatedRuntimeIsJudgedOnTheModelAndPromoted) {
  TempDir dir;
  ServeFixture server(dir.path());
  server.writeConfig(kSimulatedConfig);
  auto started = server.start();
  ASSERT_TRUE(started) << started.error().message;
  std::string error;
  const auto v1 = server.deploy("sim", "v1", &error);
  ASSERT_FALSE(v1.empty()) << error;
  ASSERT_EQ(server.waitTerminal(v1, 60s), "Succeeded");
  const auto v2 = server.deploy("sim", "v2", &error);
  ASSERT_FALSE(v2.empty()) << error;
  ASSERT_EQ(server.waitTerminal(v2, 60s), "Succeeded");
  auto env = server.getJson("/api/v1/environments/sim");
  EXPECT_EQ(env.at("runtime").as_string(), "simulated");
  EXPECT_EQ(env.at("currentRelease").as_string(), "v2");
  // The health gate judged the model's instances (no process, no request) and the analysis
  // measured the model's traffic: values, not "no data".
  auto d = server.getJson("/api/v1/deployments/" + v2);
  bool checked = false;
  for (const auto& e : d.at("events").as_array()) {
    if (e.at("kind").as_string() == "checks.passed") {
      checked =
          std::string(e.at("reason").as_string()).find("2 instances ready") != std::string::npos;
    }
  }
  EXPECT_TRUE(checked) << boost::json::serialize(d.at("events"));
  int measured = 0;
  for (const auto& e : d.at("events").as_array()) {
    if (e.at("kind").as_string() != "analysis.measured") continue;
    const auto& data = e.at("data").as_object();
    EXPECT_EQ(data.at("outcome").as_string(), "Successful") << boost::json::serialize(e);
    EXPECT_LT(data.at("value").to_number<double>(), 0.05);
    ++measured;
  }
  EXPECT_EQ(measured, 3);
}

// The simulated world lives in memory; a restarted server puts back what its store says serves
// (as a real runtime's instances outlive it). Before, the restarted server had no stable
// version, and a canary after the restart waited for one until its progress deadline (seen as
// a rollout stuck in Progressing on PostgreSQL).
TEST(SimulatedServeTest, ARestartedServerStillServesThePromotedVersionAndTheNextCanaryEnds) {
  TempDir dir;
  ServeFixture server(dir.path());
  server.writeConfig(kSimulatedConfig);
  auto started = server.start();
  ASSERT_TRUE(started) << started.error().message;
  std::string error;
  const auto v1 = server.deploy("sim", "v1", &error);
  ASSERT_FALSE(v1.empty()) << error;
  ASSERT_EQ(server.waitTerminal(v1, 60s), "Succeeded");
  ASSERT_TRUE(server.terminate());
  started = server.start();
  ASSERT_TRUE(started) << started.error().message;
  auto env = server.getJson("/api/v1/environments/sim");
  const auto& web = env.at("services").as_array().at(0).as_object();
  EXPECT_EQ(boost::json::serialize(web.at("traffic")), R"({"v1":100})");
  const auto& instances = web.at("instances").as_array();
  ASSERT_EQ(instances.size(), 2u) << boost::json::serialize(web);
  for (const auto& i : instances) {
    EXPECT_EQ(i.at("version").as_string(), "v1");
    EXPECT_EQ(i.at("state").as_string(), "Ready");
  }
  const auto v2 = server.deploy("sim", "v2", &error);
  ASSERT_FALSE(v2.empty()) << error;
  ASSERT_EQ(server.waitTerminal(v2, 60s), "Succeeded")
      << boost::json::serialize(server.getJson("/api/v1/deployments/" + v2));
  // The stable version was measured beside the canary: it was really there.
  auto d = server.getJson("/api/v1/deployments/" + v2);
  for (const auto& e : d.at("events").as_array()) {
    if (e.at("kind").as_string() != "runtime.report") continue;
    EXPECT_EQ(std::string(e.at("reason").as_string()).find("v1: 0 ready"), std::string::npos)
        << boost::json::serialize(e);
  }
}

}  // namespace
}  // namespace runway::test
