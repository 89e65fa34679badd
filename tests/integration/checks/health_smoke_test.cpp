// Health levels, smoke suites and the deployment gate against healthy and broken demo-app
// versions (wrong status, slow, down, failing health), each asserting the reported reason.

#include <signal.h>
#include <sys/wait.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixture.hpp"
#include "runway/checks/gate.hpp"
#include "runway/checks/health.hpp"
#include "runway/checks/smoke.hpp"

namespace runway::checks::itest {
namespace {

using ::testing::HasSubstr;

std::string dump(const Report& report) { return report.toTable(); }

Report health(ChecksFixture& f, runtime::Runtime& rt, const std::string& version,
              HealthLevel level = HealthLevel::Basic) {
  HealthRequest request;
  request.config = f.config_.get();
  request.environment = "staging";
  request.version = version;
  request.level = level;
  auto report = runHealth(request, rt, nullptr, *systemClock());
  EXPECT_TRUE(report) << report.error().message;
  return report ? *report : Report{};
}

class HealthTest : public ChecksFixture {};

TEST_F(HealthTest, BasicPassesForEveryReadyInstance) {
  loadConfig();
  start("v1", {}, 2);
  auto snapshot = openRuntimeSnapshot(data_dir());
  for (runtime::Runtime* rt : {static_cast<runtime::Runtime*>(runtime_.get()), snapshot.get()}) {
    const auto report = health(*this, *rt, "v1");
    EXPECT_TRUE(report.passed()) << dump(report);
    ASSERT_EQ(report.items.size(), 2U) << dump(report);
    EXPECT_EQ(report.items[0].name, "api/v1#0");
    EXPECT_THAT(report.items[0].reason, HasSubstr("GET /health -> 200"));
  }
  // "" = whatever serves: v1 has all the traffic.
  const auto serving = health(*this, *snapshot, "");
  EXPECT_TRUE(serving.passed()) << dump(serving);
}

TEST_F(HealthTest, BasicFailsWhenHealthAnswers503) {
  loadConfig();
  start("v1", {});
  // FAIL_HEALTH makes /health answer 503; the version never becomes Ready in the runtime, so
  // probe it the way an operator would ask: the instance is listed but not ready.
  start("v2", {{"FAIL_HEALTH", "1"}}, 1, false, false);
  ASSERT_TRUE(test::pollUntil(
      [&] {
        auto list = runtime_->instances("staging", "api");
        if (!list) return false;
        for (const auto& i : *list) {
          if (i.version == "v2" && i.pid != 0) return true;
        }
        return false;
      },
      test::deadlineIn(10s)));
  const auto report = health(*this, *runtime_, "v2");
  EXPECT_FALSE(report.passed());
  EXPECT_THAT(report.summary(), HasSubstr("version v2 has no ready instance")) << dump(report);
}

TEST_F(HealthTest, BasicFailsWhenAReadyInstanceIsDown) {
  // The server (its runtime) is gone and so is the instance: the snapshot sees a pid file
  // written Ready whose process is dead.
  loadConfig();
  start("v1", {});
  auto list = runtime_->instances("staging", "api");
  ASSERT_TRUE(list && list->size() == 1);
  const int pid = list->front().pid;
  runtime_.reset();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // The runtime's child: reap it, as the runtime would have.
  ASSERT_TRUE(test::pollUntil([&] { return ::waitpid(pid, nullptr, WNOHANG) == pid; },
                              test::deadlineIn(5s)));
  auto snapshot = openRuntimeSnapshot(data_dir());
  const auto down = health(*this, *snapshot, "v1");
  EXPECT_FALSE(down.passed());
  EXPECT_THAT(dump(down), HasSubstr("instance is Restarting: process is not running"));
  EXPECT_THAT(dump(down), HasSubstr("version v1 has no ready instance"));
}

TEST_F(HealthTest, VersionThatDoesNotRunFails) {
  loadConfig();
  start("v1", {});
  const auto report = health(*this, *runtime_, "v9");
  EXPECT_FALSE(report.passed());
  EXPECT_EQ(report.summary(), "health api/v9: version v9 has no instances");
}

TEST_F(HealthTest, ComprehensiveWithoutStatisticsSkipsMetricsNeverPasses) {
  loadConfig();
  start("v1", {});
  const auto report = health(*this, *runtime_, "v1", HealthLevel::Comprehensive);
  bool metrics_skipped = false;
  for (const auto& item : report.items) {
    if (item.category == "metrics") {
      EXPECT_EQ(item.status, ItemStatus::Skipped) << dump(report);
      metrics_skipped = true;
    }
  }
  EXPECT_TRUE(metrics_skipped) << dump(report);
}

TEST_F(HealthTest, DetailedReportsProcessDiagnostics) {
  loadConfig();
  start("v1", {});
  const auto report = health(*this, *runtime_, "v1", HealthLevel::Detailed);
  EXPECT_THAT(dump(report), HasSubstr("restarts, rss "));
  EXPECT_THAT(dump(report), HasSubstr("no error lines in the last"));
}

class SmokeTest : public ChecksFixture {
 public:
  Result<Report> smoke(const std::string& suite, const std::string& version,
                       runtime::Runtime* rt = nullptr) {
    SmokeRequest request;
    request.config = config_.get();
    request.environment = "staging";
    request.suite = suite;
    request.version = version;
    request.data_dir = data_dir();
    return runSmoke(request, rt != nullptr ? *rt : *runtime_);
  }
};

TEST_F(SmokeTest, CriticalPassesDirectlyAndThroughTheSnapshot) {
  loadConfig();
  start("v1", {});
  auto direct = smoke("critical", "v1");
  ASSERT_TRUE(direct) << direct.error().message;
  EXPECT_TRUE(direct->passed()) << dump(*direct);
  auto snapshot = openRuntimeSnapshot(data_dir());
  auto via_snapshot = smoke("critical", "v1", snapshot.get());
  ASSERT_TRUE(via_snapshot);
  EXPECT_TRUE(via_snapshot->passed()) << dump(*via_snapshot);
}

TEST_F(SmokeTest, CriticalPassesThroughTheRouterAndFailsWhenTheServingVersionBreaks) {
  loadConfig();
  start("v1", {});
  auto routed = smoke("critical", "");
  ASSERT_TRUE(routed) << routed.error().message;
  EXPECT_TRUE(routed->passed()) << dump(*routed);
  EXPECT_EQ(routed->items.front().name, "critical/leads");
  // Move all traffic to a version that answers 500: the same suite through the router fails.
  start("v2", {{"ERROR_RATE", "1"}});
  auto broken = smoke("critical", "");
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->summary(), "smoke critical/leads: GET /api/leads -> 500, expected 200");
  // Through the snapshot and the listener the runtime recorded (no port in the config).
  auto snapshot = openRuntimeSnapshot(data_dir());
  config_->environments.front().runtime.local.ports.clear();
  auto recorded = smoke("critical", "", snapshot.get());
  ASSERT_TRUE(recorded);
  EXPECT_EQ(recorded->summary(), "smoke critical/leads: GET /api/leads -> 500, expected 200");
}

TEST_F(SmokeTest, ThroughTheRouterUsesTheConfiguredListener) {
  loadConfig();
  // Nothing routed yet: the configured listener port does not answer, and the failure names
  // the request and the router port it tried.
  auto report = smoke("critical", "");
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->passed());
  EXPECT_THAT(report->summary(), HasSubstr(fmt::format("127.0.0.1:{}", router_port_)));
}

TEST_F(SmokeTest, WrongStatusFailsWithStatusAndExpectation) {
  loadConfig();
  start("v1", {});
  auto report = smoke("missing-page", "v1");
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->passed());
  EXPECT_EQ(report->summary(), "smoke missing-page/nope v1#0: GET /no-such-page -> 404, expected 200");
}

TEST_F(SmokeTest, ServerErrorsFailTheCriticalSuite) {
  loadConfig();
  start("v1", {{"ERROR_RATE", "1"}});
  auto report = smoke("critical", "v1");
  ASSERT_TRUE(report);
  EXPECT_THAT(report->summary(), HasSubstr("GET /api/leads -> 500, expected 200"));
}

TEST_F(SmokeTest, SlowVersionFailsTheLatencyLimit) {
  loadConfig();
  start("v1", {{"LATENCY_MS", "400"}});
  auto report = smoke("fast", "v1");
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->passed());
  EXPECT_THAT(report->summary(), HasSubstr("slower than the 150ms limit"));
}

TEST_F(SmokeTest, JsonPointerMismatchNamesValueAndExpectation) {
  loadConfig();
  start("v1", {});
  auto report = smoke("wrong-body", "v1");
  ASSERT_TRUE(report);
  EXPECT_THAT(report->summary(), HasSubstr("JSON /service is \"demo-app\", expected billing"));
}

TEST_F(SmokeTest, DownVersionAndUnknownSuite) {
  loadConfig();
  start("v1", {});
  auto report = smoke("critical", "v7");
  ASSERT_TRUE(report);
  EXPECT_THAT(report->summary(), HasSubstr("version v7 of service \"api\" has no ready instance"));
  auto unknown = smoke("critcal", "v1");
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message, HasSubstr("unknown smoke suite \"critcal\""));
}

class GateTest : public ChecksFixture {};

TEST_F(GateTest, PassesAHealthyVersionAndFailsABrokenOne) {
  loadConfig();
  start("v1", {});
  start("v2", {{"ERROR_RATE", "1"}}, 1, false);
  GateRequest request;
  request.config = config_;
  request.environment = "staging";
  request.health = "basic";
  request.smoke = "critical";
  request.version = "v1";
  auto ok = runGate(request, *runtime_, nullptr, *systemClock());
  EXPECT_TRUE(ok.passed) << ok.detail;
  EXPECT_THAT(ok.report_json, HasSubstr("\"status\":\"passed\""));
  request.version = "v2";
  auto bad = runGate(request, *runtime_, nullptr, *systemClock());
  EXPECT_FALSE(bad.passed);
  EXPECT_EQ(bad.detail, "smoke critical/leads v2#0: GET /api/leads -> 500, expected 200");
  request.smoke.clear();
  request.health.clear();
  auto empty = runGate(request, *runtime_, nullptr, *systemClock());
  EXPECT_FALSE(empty.passed);
  request.health = "thorough";
  auto bad_level = runGate(request, *runtime_, nullptr, *systemClock());
  EXPECT_FALSE(bad_level.passed);
  EXPECT_THAT(bad_level.detail, HasSubstr("unknown health level \"thorough\""));
}

}  // namespace
}  // namespace runway::checks::itest
