// Acceptance (issue 13): the real `runway serve` and the demo app through the paths where a
// rollback or a release must be quick or bounded: a rollback to the version that serves (also
// across a kill -9), a blue-green rollback inside the scale-down delay, a first release, a
// forced release, a rolling supersede under maxSurge, a background analysis that passed, the
// canary's scale-down delay, and a 200-character data directory. Weights are read from the
// router itself (its admin socket) and from the version that answers requests through it.

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runway/router/admin_client.hpp"
#include "serve_fixture.hpp"
#include "support/http.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Weights = std::map<std::string, int>;

// `shop` is the demo app; `fleet` runs it with FAIL_HEALTH set to the version name, so that a
// version called "yes" never becomes ready and one called "no" does.
constexpr const char* kRollbackConfig = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: ["runway-demo-app", "--port", "${PORT}"]}
      instances: 2
      env: {VERSION: "${VERSION}"}
      health: {path: /health, period: 100ms, failureThreshold: 3}
---
apiVersion: runway/v1
kind: Application
metadata: {name: fleet}
spec:
  services:
    - name: worker
      local: {command: ["runway-demo-app", "--port", "${PORT}"]}
      instances: 4
      env: {VERSION: "${VERSION}", FAIL_HEALTH: "${VERSION}"}
      health: {path: /health, period: 100ms, failureThreshold: 1}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: canary}
spec:
  application: shop
  runtime: {local: {}}
  strategy: canary
  canary:
    steps:
      - setWeight: 20
      - pause: {}
      - setWeight: 100
    analysis: {templates: [errors], startingStep: 1}
    scaleDownDelay: 2s
    abortScaleDownDelay: 1s
  progressDeadline: 1m
---
apiVersion: runway/v1
kind: Environment
metadata: {name: bluegreen}
spec:
  application: shop
  runtime: {local: {}}
  strategy: blue-green
  blueGreen:
    autoPromotion: false
    prePromotionChecks: {health: basic}
    verification: 1s
    scaleDownDelay: 6s
  progressDeadline: 1m
---
apiVersion: runway/v1
kind: Environment
metadata: {name: rolling}
spec:
  application: fleet
  runtime: {local: {}}
  strategy: rolling
  rolling: {maxSurge: 1, maxUnavailable: 0}
  concurrency: supersede
  progressDeadline: 5m
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
      interval: 300ms
      failureCondition: "result > 0.1"
      noData: inconclusive
      inconclusiveLimit: 50
)";

std::string describe(const Weights& weights) {
  std::string out;
  for (const auto& [version, permille] : weights) {
    out += fmt::format("{}{}:{}", out.empty() ? "" : ", ", version, permille);
  }
  return "{" + out + "}";
}

bool terminal(const std::string& phase) {
  return phase == "Succeeded" || phase == "RolledBack" || phase == "Failed" ||
         phase == "Rejected" || phase == "Superseded";
}

class RollbackPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(binaryPath("runway-demo-app")));
    server_ = std::make_unique<ServeFixture>(dir_.path());
    server_->writeConfig(kRollbackConfig);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().message;
  }
  void TearDown() override {
    if (server_) {
      // No invalid routing table was ever sent (the rollback-to-itself bug sent 200 per mille).
      auto log = readFile(dir_.path() / "serve.log");
      if (log) {
        EXPECT_EQ(log->find("must sum to 1000"), std::string::npos);
      }
      EXPECT_EQ(server_->down(), 0);
    }
  }

  std::string post(const std::string& path, const std::string& body, int expect = 201) {
    auto r = server_->call("POST", path, body);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    if (!r) return "";
    EXPECT_EQ(r->status, expect) << path << ": " << r->body;
    if (r->status != expect) return "";
    auto v = json::parse(r->body);
    const auto* id = v.as_object().if_contains("deployment");
    return id != nullptr && id->is_string() ? std::string(id->as_string()) : "ok";
  }
  std::string deploy(const std::string& env, const std::string& version, bool force = false) {
    return post("/api/v1/deployments",
                fmt::format(R"({{"environment":"{}","version":"{}","force":{}}})", env, version,
                            force ? "true" : "false"));
  }
  std::string rollback(const std::string& env, const std::string& version = "") {
    return post("/api/v1/environments/" + env + "/rollback",
                version.empty() ? "{}" : fmt::format(R"({{"version":"{}"}})", version));
  }
  void promote(const std::string& id) {
    EXPECT_FALSE(post("/api/v1/deployments/" + id + "/promote", "{}", 200).empty());
  }

  json::value deployment(const std::string& id) {
    return server_->getJson("/api/v1/deployments/" + id);
  }
  // Polls until the deployment is in `phase` (or ended); true when it is.
  bool reaches(const std::string& id, const std::string& phase, std::chrono::seconds limit) {
    std::string last;
    const bool ok = pollUntil(
        [&] {
          last = server_->phase(id);
          return last == phase || (terminal(last) && !terminal(phase));
        },
        deadlineIn(limit));
    EXPECT_EQ(last, phase) << "deployment " << id;
    return ok && last == phase;
  }
  std::set<std::string> eventKinds(const std::string& id) {
    std::set<std::string> out;
    auto d = deployment(id);
    if (!d.is_object()) return out;
    for (const auto& e : d.at("events").as_array()) out.insert(std::string(e.at("kind").as_string()));
    return out;
  }

  // What the router serves for a service: version -> per mille, read from its admin socket.
  Weights routerWeights(const std::string& env, const std::string& service) {
    Weights out;
    router::AdminClient admin((server_->data() / "router" / "admin.sock").string());
    auto table = admin.table();
    EXPECT_TRUE(table) << (table ? "" : table.error().message);
    if (!table) return out;
    for (const auto& l : table->listeners) {
      if (l.environment != env || l.service != service) continue;
      for (const auto& v : l.versions) {
        if (v.weight_permille > 0) out[v.name] = static_cast<int>(v.weight_permille);
      }
    }
    return out;
  }
  // Which versions answer `n` requests sent through the router.
  std::map<std::string, int> answeredBy(const std::string& env, const std::string& service, int n) {
    std::map<std::string, int> out;
    const std::string address = server_->serviceAddress(env, service);
    EXPECT_FALSE(address.empty());
    HttpClient client;
    for (int i = 0; i < n; ++i) {
      auto r = client.get("http://" + address + "/", 5s);
      if (!r || r->status != 200) {
        out["(failed)"]++;
        continue;
      }
      out[r->header("x-version").value_or("(none)")]++;
    }
    return out;
  }
  // Instances per version of a service, as the runtime lists them (any state) or only Ready.
  std::map<std::string, int> instances(const std::string& env, const std::string& service,
                                       bool ready_only) {
    std::map<std::string, int> out;
    auto v = server_->getJson("/api/v1/environments/" + env);
    if (!v.is_object()) return out;
    for (const auto& s : v.at("services").as_array()) {
      if (s.at("name").as_string() != service) continue;
      for (const auto& i : s.at("instances").as_array()) {
        if (ready_only && i.at("state").as_string() != "Ready") continue;
        out[std::string(i.at("version").as_string())]++;
      }
    }
    return out;
  }

  // The environment's first release, to have a stable version. Item 3 makes it complete
  // without steps (FirstReleaseTakesAllTrafficWithoutTheSteps checks that); here a pause is
  // promoted, so that each test fails only for its own item on code without that fix.
  void firstRelease(const std::string& env, const std::string& version) {
    const std::string id = deploy(env, version);
    ASSERT_FALSE(id.empty());
    std::string phase;
    ASSERT_TRUE(pollUntil(
        [&] {
          phase = server_->phase(id);
          if (phase == "Paused") promote(id);
          return terminal(phase);
        },
        deadlineIn(60s)));
    ASSERT_EQ(phase, "Succeeded");
  }

  // A blue-green release that waits for `promote`, promoted.
  void blueGreenRelease(const std::string& version) {
    const std::string id = deploy("bluegreen", version);
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(reaches(id, "Paused", 60s));
    promote(id);
    ASSERT_TRUE(reaches(id, "Succeeded", 60s));
  }

  // v1 serves the canary environment; v2 waits at its indefinite pause with 20 % of traffic.
  std::string v2PausedAtTwentyPercent() {
    firstRelease("canary", "v1");
    const std::string id = deploy("canary", "v2");
    EXPECT_FALSE(id.empty());
    if (id.empty() || !reaches(id, "Paused", 60s)) return "";
    // A pause waits for no confirmation from the router, so its table may lag a moment (a push
    // that timed out on a busy machine is re-applied within 250 ms).
    Weights served;
    EXPECT_TRUE(pollUntil(
        [&] {
          served = routerWeights("canary", "web");
          return served == Weights{{"v1", 800}, {"v2", 200}};
        },
        deadlineIn(10s)))
        << "the router serves " << describe(served);
    return id;
  }

  // After a rollback to the serving v1: all traffic on v1 at the router, v1 at full scale, the
  // canary steps never ran, and the superseded v2 is gone.
  void expectBackOnV1(const std::string& rollback_id, const std::string& v2) {
    const auto kinds = eventKinds(rollback_id);
    EXPECT_EQ(kinds.count("step.started"), 0u);
    EXPECT_EQ(kinds.count("analysis.started"), 0u);
    EXPECT_EQ(kinds.count("rollback.fast"), 1u);
    EXPECT_EQ(server_->phase(v2), "Superseded");
    EXPECT_EQ(routerWeights("canary", "web"), (Weights{{"v1", 1000}}));
    EXPECT_EQ(answeredBy("canary", "web", 20), (std::map<std::string, int>{{"v1", 20}}));
    EXPECT_EQ(instances("canary", "web", true)["v1"], 2);
    EXPECT_TRUE(pollUntil([&] { return instances("canary", "web", false).count("v2") == 0; },
                          deadlineIn(30s)));
  }

  TempDir dir_;
  std::unique_ptr<ServeFixture> server_;
};

// Item 3: the first release has nothing to compare against and completes without its steps.
TEST_F(RollbackPathsTest, FirstReleaseTakesAllTrafficWithoutTheSteps) {
  const std::string id = deploy("canary", "v1");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(reaches(id, "Succeeded", 60s));
  const auto kinds = eventKinds(id);
  EXPECT_EQ(kinds.count("step.started"), 0u);
  EXPECT_EQ(kinds.count("initial.deploy"), 1u);
  EXPECT_EQ(routerWeights("canary", "web"), (Weights{{"v1", 1000}}));
  EXPECT_EQ(instances("canary", "web", true), (std::map<std::string, int>{{"v1", 2}}));
}

// Item 1: going back to what serves completes at once: no steps, no analysis, no invalid split.
TEST_F(RollbackPathsTest, RollbackToTheServingVersionCompletesAtOnce) {
  const std::string v2 = v2PausedAtTwentyPercent();
  ASSERT_FALSE(v2.empty());
  const std::string id = rollback("canary", "v1");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(reaches(id, "Succeeded", 10s));
  expectBackOnV1(id, v2);
}

// Item 1 across a crash: kill -9 right after the rollback is admitted, restart, still at once.
TEST_F(RollbackPathsTest, RollbackToTheServingVersionCompletesAtOnceAfterKill9) {
  const std::string v2 = v2PausedAtTwentyPercent();
  ASSERT_FALSE(v2.empty());
  const std::string id = rollback("canary", "v1");
  ASSERT_FALSE(id.empty());
  server_->kill9();
  auto restarted = server_->start();
  ASSERT_TRUE(restarted) << restarted.error().message;
  ASSERT_TRUE(reaches(id, "Succeeded", 10s));
  expectBackOnV1(id, v2);
}

// Item 2: inside the scale-down delay the old colour still runs: the rollback is a switch back,
// with no pre-promotion gates and no promotion to wait for; and the old colour's pending
// retirement no longer applies to what serves again.
TEST_F(RollbackPathsTest, BlueGreenRollbackInsideTheScaleDownDelaySwitchesBack) {
  blueGreenRelease("v1");
  blueGreenRelease("v2");
  ASSERT_EQ(routerWeights("bluegreen", "web"), (Weights{{"v2", 1000}}));
  ASSERT_EQ(instances("bluegreen", "web", true)["v1"], 2);  // kept through scaleDownDelay
  const std::string id = rollback("bluegreen");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(reaches(id, "Succeeded", 10s));
  const auto kinds = eventKinds(id);
  EXPECT_EQ(kinds.count("promotion.awaiting"), 0u);
  EXPECT_EQ(kinds.count("checks.started"), 0u);
  EXPECT_EQ(routerWeights("bluegreen", "web"), (Weights{{"v1", 1000}}));
  EXPECT_EQ(answeredBy("bluegreen", "web", 20), (std::map<std::string, int>{{"v1", 20}}));
  // v2 goes after the rollback's own scale-down delay; v1, whose retirement v2 had scheduled
  // for the same moment or earlier, keeps serving.
  EXPECT_TRUE(pollUntil([&] { return instances("bluegreen", "web", false).count("v2") == 0; },
                        deadlineIn(30s)));
  EXPECT_EQ(instances("bluegreen", "web", true)["v1"], 2);
  EXPECT_EQ(routerWeights("bluegreen", "web"), (Weights{{"v1", 1000}}));
}

// Item 6: a forced release skips the indefinite pause (and the analysis).
TEST_F(RollbackPathsTest, ForcedReleaseSkipsPauses) {
  firstRelease("canary", "v1");
  const std::string id = deploy("canary", "v2", true);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(reaches(id, "Succeeded", 30s));
  const auto kinds = eventKinds(id);
  EXPECT_EQ(kinds.count("step.skipped"), 1u);
  EXPECT_EQ(kinds.count("analysis.started"), 0u);
  EXPECT_EQ(routerWeights("canary", "web"), (Weights{{"v2", 1000}}));
}

// Items 5 and 7: a background analysis that measured until promotion reads Successful; the old
// version is retired after the canary's configured scaleDownDelay (2s), not a fixed 30 s.
TEST_F(RollbackPathsTest, PassedBackgroundAnalysisIsSuccessfulAndOldVersionGoesAfterItsDelay) {
  firstRelease("canary", "v1");
  LoadGenerator load("http://" + server_->serviceAddress("canary", "web") + "/");
  const std::string id = deploy("canary", "v2");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(reaches(id, "Paused", 60s));
  // Let the background run take a few measurements.
  ASSERT_TRUE(pollUntil(
      [&] {
        auto d = deployment(id);
        for (const auto& r : d.at("analysis").as_array()) {
          if (r.at("kind").as_string() != "background") continue;
          for (const auto& m : r.at("metrics").as_array()) {
            if (m.at("measurements").as_int64() >= 3) return true;
          }
        }
        return false;
      },
      deadlineIn(30s)))
      << json::serialize(deployment(id));
  promote(id);
  ASSERT_TRUE(reaches(id, "Succeeded", 30s));
  const auto succeeded_at = std::chrono::steady_clock::now();
  auto d = deployment(id);
  ASSERT_EQ(d.at("analysis").as_array().size(), 1u);
  EXPECT_EQ(d.at("analysis").as_array()[0].at("status").as_string(), "Successful");
  EXPECT_EQ(routerWeights("canary", "web"), (Weights{{"v2", 1000}}));
  EXPECT_TRUE(pollUntil([&] { return instances("canary", "web", false).count("v1") == 0; },
                        deadlineIn(20s)));
  // Well before the old fixed 30 s (2 s delay + drain).
  EXPECT_LT(std::chrono::steady_clock::now() - succeeded_at, 20s);
  load.stop();
  EXPECT_EQ(load.transportErrors(), 0) << load.firstFailure();
}

// Item 4: rolling, 4 instances, maxSurge 1: a release superseding a never-ready one never runs
// more than 5 instances, counting the superseded ones until they are gone.
TEST_F(RollbackPathsTest, RollingSupersedeStaysWithinMaxSurge) {
  const std::string never = deploy("rolling", "yes");  // fails its health checks
  ASSERT_FALSE(never.empty());
  ASSERT_TRUE(pollUntil([&] { return instances("rolling", "worker", false)["yes"] == 4; },
                        deadlineIn(30s)));
  const std::string id = deploy("rolling", "no");
  ASSERT_FALSE(id.empty());
  int most = 0;
  std::string phase;
  const bool ended = pollUntil(
      [&] {
        int live = 0;
        for (const auto& [version, n] : instances("rolling", "worker", false)) live += n;
        most = std::max(most, live);
        phase = server_->phase(id);
        return terminal(phase);
      },
      deadlineIn(90s), 20ms);
  ASSERT_TRUE(ended) << phase;
  EXPECT_EQ(phase, "Succeeded");
  EXPECT_EQ(server_->phase(never), "Superseded");
  EXPECT_LE(most, 5);
  EXPECT_EQ(routerWeights("rolling", "worker"), (Weights{{"no", 1000}}));
  EXPECT_EQ(instances("rolling", "worker", true), (std::map<std::string, int>{{"no", 4}}));
}

// Item 8: a 200-character data directory: serve, status and down work (the router's admin
// socket path is longer than sun_path's 108 bytes).
TEST(DeepDataDirectoryTest, ServeStatusAndDownWork) {
  TempDir dir;
  std::filesystem::path deep = dir.path();
  // ServeFixture puts the data directory at deep/"data".
  while (200 - (deep / "data").string().size() > 100) deep /= std::string(50, 'd');
  deep /= std::string(200 - (deep / "data").string().size() - 1, 'e');
  ASSERT_EQ((deep / "data").string().size(), 200u);
  std::filesystem::create_directories(deep);
  ServeFixture server(deep);
  server.writeConfig(kRollbackConfig);
  auto started = server.start();
  ASSERT_TRUE(started) << started.error().message;
  const std::string id = server.deploy("canary", "v1");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(server.waitTerminal(id, 60s), "Succeeded");
  router::AdminClient admin((server.data() / "router" / "admin.sock").string());
  auto table = admin.table();
  ASSERT_TRUE(table) << table.error().message;

  SubprocessOptions o;
  o.argv = {binaryPath("runway").string(), "status", "--data", server.data().string()};
  o.stderr_to = Output::pipe();
  auto p = Subprocess::start(std::move(o));
  ASSERT_TRUE(p);
  auto out = p->readToEnd(deadlineIn(30s));
  ASSERT_TRUE(out);
  auto status = p->waitExit(deadlineIn(10s));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0) << out->out << out->err;
  EXPECT_NE(out->out.find("v1"), std::string::npos) << out->out;
  EXPECT_EQ(out->err.find("internal error"), std::string::npos) << out->err;

  EXPECT_EQ(server.down(), 0);
  // Nothing is left answering on the admin socket.
  EXPECT_FALSE(router::AdminClient((server.data() / "router" / "admin.sock").string(), Duration{500})
                   .table()
                   .has_value());
}

}  // namespace
}  // namespace runway::test
