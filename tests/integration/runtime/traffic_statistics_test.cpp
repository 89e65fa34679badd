// The builtin analysis provider judging a version on what the real router served: the demo app
// behind the router, measured through runtime::routerTrafficStatistics.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runway/analysis/provider.hpp"
#include "runway/router/router.hpp"
#include "runway/runtime/local_runtime.hpp"
#include "runway/runtime/router_backend.hpp"
#include "runway/runtime/traffic_statistics.hpp"
#include "support/http.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TrafficStatisticsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(test::binaryPath("runway-demo-app")));
    router::RouterOptions router_options;
    router_options.admin_socket = (dir_ / "router.sock").string();
    router_options.state_dir = (dir_ / "router").string();
    fs::create_directories(router_options.state_dir);
    router_options.threads = 1;
    socket_ = router_options.admin_socket;
    auto started = router::Router::start(router_options);
    ASSERT_TRUE(started) << started.error().message;
    router_ = std::move(*started);

    LocalRuntimeOptions options;
    options.data_dir = dir_ / "data";
    options.traffic = routerTrafficBackend(socket_);
    options.extra_path = {test::binaryPath("runway-demo-app").parent_path()};
    options.tick_period = 20ms;
    auto opened = LocalRuntime::open(std::move(options));
    ASSERT_TRUE(opened) << opened.error().message;
    runtime_ = std::move(*opened);
  }

  void TearDown() override {
    if (runtime_) {
      EXPECT_TRUE(runtime_->stopAll(1s));
    }
  }

  // Starts `version` of service "web" with the demo app's ERROR_RATE, routes all traffic to it
  // and sends `requests` requests through the router.
  void serve(const std::string& version, const std::string& error_rate, int requests) {
    config::Environment env;
    env.name = "staging";
    auto port = test::freeLoopbackPort();
    ASSERT_TRUE(port);
    env.runtime.local.ports["web"] = *port;
    config::Service service;
    service.name = "web";
    service.local = config::LocalRun{};
    service.local->command = {"runway-demo-app", "--port", "${PORT}"};
    service.local->working_dir = dir_.path().string();
    service.env["ERROR_RATE"] = error_rate;
    service.env["SEED"] = "7";
    service.health.period = 100ms;
    ASSERT_TRUE(runtime_->startVersion(env, service, version, 2));
    ASSERT_TRUE(test::pollUntil(
        [&] {
          auto s = runtime_->versionStatus("staging", "web", version);
          return s && s->state == VersionState::Ready;
        },
        test::deadlineIn(15s)));
    TrafficSplit split;
    split.weights = {{version, 1000}};
    ASSERT_TRUE(runtime_->setTraffic("staging", "web", split));
    const auto url = fmt::format("http://127.0.0.1:{}/api/leads", *port);
    ASSERT_TRUE(test::pollUntil(
        [&] {
          auto r = test::httpGet(url, 2s);
          return r && (r->status == 200 || r->status == 500);
        },
        test::deadlineIn(10s)));
    for (int i = 0; i < requests; ++i) ASSERT_TRUE(test::httpGet(url, 2s));
  }

  Result<analysis::MetricValue> measure(const std::string& query, const std::string& version) {
    auto provider = analysis::makeBuiltinProvider(
        routerTrafficStatistics(socket_, "staging", systemClock()));
    config::MetricSpec metric;
    metric.name = query;
    metric.query = query;
    metric.window = 1min;
    analysis::MeasureContext ctx;
    ctx.service = "web";
    ctx.version = version;
    ctx.environment = "staging";
    ctx.now = systemClock()->now();
    return provider->measure(metric, ctx);
  }

  test::TempDir dir_;
  std::string socket_;
  std::unique_ptr<router::Router> router_;
  std::unique_ptr<LocalRuntime> runtime_;
};

TEST_F(TrafficStatisticsTest, BuiltinMetricsSeeWhatTheRouterServed) {
  serve("v2", "0.25", 400);
  auto error_rate = measure("error_rate", "v2");
  ASSERT_TRUE(error_rate) << error_rate.error().message;
  ASSERT_TRUE(error_rate->value) << error_rate->message;
  EXPECT_GT(*error_rate->value, 0.15);
  EXPECT_LT(*error_rate->value, 0.35);

  auto rate = measure("request_rate", "v2");
  ASSERT_TRUE(rate && rate->value);
  EXPECT_GT(*rate->value, 0.0);

  auto p95 = measure("latency_p95", "v2");
  ASSERT_TRUE(p95 && p95->value) << (p95 ? p95->message : p95.error().message);
  EXPECT_GT(*p95->value, 0.0);
  EXPECT_LT(*p95->value, 5.0);

  auto availability = measure("availability", "v2");
  ASSERT_TRUE(availability && availability->value);
  EXPECT_DOUBLE_EQ(*availability->value, 1.0);  // app 500s are errors, not gateway failures
}

TEST_F(TrafficStatisticsTest, AVersionWithoutTrafficHasNoData) {
  serve("v2", "0", 20);
  auto none = measure("error_rate", "v9");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none->value.has_value());
}

TEST_F(TrafficStatisticsTest, AnUnreachableRouterIsAnErrorNotNoData) {
  auto stats = routerTrafficStatistics((dir_ / "nobody.sock").string(), "staging", systemClock());
  auto snap = stats->snapshot("web", "v2", systemClock()->now() - 1min, systemClock()->now());
  ASSERT_FALSE(snap);
  EXPECT_EQ(snap.error().code, ErrorCode::Unavailable);
}

TEST_F(TrafficStatisticsTest, PastRangesCountRequestsWithoutLatency) {
  serve("v2", "0", 50);
  auto stats = routerTrafficStatistics(socket_, "staging", systemClock());
  const auto now = systemClock()->now();
  // Everything was served within the last minute, so [now-2m, now-1m) is empty and
  // [now-2m, now) holds all of it; neither range may invent latency it cannot know.
  auto old_range = stats->snapshot("web", "v2", now - 2min, now - 1min);
  ASSERT_TRUE(old_range) << old_range.error().message;
  EXPECT_EQ(old_range->requests, 0U);
  EXPECT_FALSE(old_range->quantiles.has_value());
  auto whole = stats->snapshot("web", "v2", now - 2min, now);
  ASSERT_TRUE(whole);
  EXPECT_GE(whole->requests, 50U);
  EXPECT_TRUE(whole->quantiles.has_value());
}

}  // namespace
}  // namespace runway::runtime
