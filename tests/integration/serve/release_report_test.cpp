// The release report's before/after comparison end to end (issue 22): the real `runway serve`
// with the demo app behind its router, users sending requests all along, traffic snapshots
// taken by the server around each deployment. A release whose instances answer 50 ms slower
// (LATENCY_MS=50, given as the release's artifact) fails the verdict on its P95; a neutral
// release passes. The delivery report of the same history is served too.

#include <chrono>
#include <memory>
#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "serve_fixture.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kReportConfig = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: ["runway-demo-app", "--port", "${PORT}"]}
      env: {LATENCY_MS: "${ARTIFACT}"}
      instances: 1
      health: {path: /health, period: 100ms, failureThreshold: 3}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: dev}
spec:
  application: shop
  runtime: {local: {}}
  strategy: rolling
  rolling: {maxSurge: 1, maxUnavailable: 0}
  progressDeadline: 1m
  # A shared CI machine moves a fast service's P99 by several milliseconds between two windows;
  # the slow release adds 50 ms.
  performance: {tolerance: {noise: 20ms}}
)";

class ReleaseReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(binaryPath("runway-demo-app")));
    server_ = std::make_unique<ServeFixture>(dir_.path());
    server_->writeConfig(kReportConfig);
    server_->extra_args = {"--report-window", "4s"};
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().message;
  }
  void TearDown() override {
    users_.reset();
    if (server_) {
      EXPECT_EQ(server_->down(), 0);
    }
  }

  // Deploys `version` whose instances add `latency_ms` to every answer; returns its id once it
  // succeeded.
  std::string release(const std::string& version, int latency_ms) {
    auto r = server_->call("POST", "/api/v1/deployments",
                           fmt::format(R"({{"environment":"dev","version":"{}","artifacts":{{"web":"{}"}}}})",
                                       version, latency_ms));
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : r.error().message);
    if (!r || r->status != 201) return "";
    const std::string id(json::parse(r->body).at("deployment").as_string());
    EXPECT_EQ(server_->waitTerminal(id, 60s), "Succeeded");
    return id;
  }

  // The report once both windows have been recorded (the one after the end passes 4 s after it).
  json::value settledReport(const std::string& id) {
    json::value report;
    pollUntil(
        [&] {
          report = server_->getJson("/api/v1/reports/deployments/" + id);
          return report.is_object() && report.at("comparison").at("verdict") != "pending";
        },
        deadlineIn(60s));
    return report;
  }

  // Users: requests through the router all along, so that both windows have traffic.
  void startUsers() {
    users_ = std::make_unique<LoadGenerator>("http://" + server_->serviceAddress("dev", "web") + "/");
    // A full window of traffic before the next release.
    const auto until = std::chrono::steady_clock::now() + 5s;
    pollUntil([&] { return std::chrono::steady_clock::now() >= until && users_->ok() > 20; }, deadlineIn(30s));
  }

  TempDir dir_;
  std::unique_ptr<ServeFixture> server_;
  std::unique_ptr<LoadGenerator> users_;
};

TEST_F(ReleaseReportTest, ASlowReleaseFailsTheVerdictAndANeutralOnePasses) {
  ASSERT_FALSE(release("v1", 0).empty());
  startUsers();

  const auto neutral = release("v2", 0);
  const auto n = settledReport(neutral);
  ASSERT_TRUE(n.is_object());
  const auto& nc = n.at("comparison");
  EXPECT_EQ(nc.at("verdict"), "passed") << json::serialize(nc);
  ASSERT_EQ(nc.at("services").as_array().size(), 1u);
  const auto& nw = nc.at("services").at(0);
  EXPECT_GT(nw.at("before").at("requests").to_number<double>(), 0);
  EXPECT_GT(nw.at("after").at("requests").to_number<double>(), 0);
  EXPECT_DOUBLE_EQ(nc.at("windowSeconds").to_number<double>(), 4);

  // The next window before: v2 serving at full speed for a whole window.
  const auto until = std::chrono::steady_clock::now() + 5s;
  pollUntil([&] { return std::chrono::steady_clock::now() >= until; }, deadlineIn(30s));
  const auto slow = release("v3", 50);
  const auto s = settledReport(slow);
  ASSERT_TRUE(s.is_object());
  const auto& sc = s.at("comparison");
  EXPECT_EQ(sc.at("verdict"), "failed") << json::serialize(sc);
  const auto& sw = sc.at("services").at(0);
  EXPECT_EQ(sw.at("verdict"), "failed");
  // P95 went from about a millisecond to at least the 50 ms the release adds.
  EXPECT_GE(sw.at("after").at("p95Ms").to_number<double>(), 45.0) << json::serialize(sw);
  EXPECT_LT(sw.at("before").at("p95Ms").to_number<double>(), 45.0) << json::serialize(sw);
  EXPECT_GE(sw.at("delta").at("p95Ms").to_number<double>(), 30.0);
  bool p95_failed = false;
  for (const auto& c : sw.at("checks").as_array()) {
    if (c.at("name") == "P95") p95_failed = c.at("status") == "failed";
  }
  EXPECT_TRUE(p95_failed) << json::serialize(sw.at("checks"));

  // The timeline is there too, and the HTML and Markdown renderings come from the same document.
  bool succeeded = false;
  for (const auto& e : s.at("timeline").as_array()) {
    if (e.at("kind") == "deployment.succeeded") succeeded = true;
  }
  EXPECT_TRUE(succeeded);

  // The delivery report over the same history: three releases, all succeeded, none failed.
  const auto d = server_->getJson("/api/v1/reports/delivery?environment=dev");
  ASSERT_TRUE(d.is_object());
  EXPECT_EQ(d.at("total").at("deploymentFrequency").at("deployments").to_number<double>(), 3);
  EXPECT_EQ(d.at("total").at("changeFailureRate").at("failed").to_number<double>(), 0);
  auto bad = server_->call("GET", "/api/v1/reports/delivery?by=fortnight");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  auto unknown = server_->call("GET", "/api/v1/reports/deployments/dep-nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
}

}  // namespace
}  // namespace runway::test
