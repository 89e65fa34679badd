#pragma once

// The checks against real targets: the real router, a real LocalRuntime running the real
// runway-demo-app (with its knobs ERROR_RATE, LATENCY_MS, FAIL_HEALTH), a configuration loaded
// from YAML text. Checks read the runtime both directly and through the read-only snapshot of
// its data directory (what the CLI does while `runway serve` runs).

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runway/checks/snapshot.hpp"
#include "runway/config/loader.hpp"
#include "runway/router/router.hpp"
#include "runway/runtime/local_runtime.hpp"
#include "runway/runtime/router_backend.hpp"
#include "support/http.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::checks::itest {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// An application "shop" with one service "api" (the demo app), smoke suites, and an
// environment "staging" whose router listens on `router_port`. `extra_env` is appended to the
// Environment spec (indented by 2 spaces).
inline std::string shopConfig(int router_port, const std::string& extra_env = "",
                              const std::string& extra_app = "") {
  return fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata: {{name: shop}}
spec:
  services:
    - name: api
      local:
        command: [runway-demo-app, --port, "${{PORT}}", --version-label, "${{VERSION}}"]
      health: {{path: /health, period: 100ms, timeout: 1s}}
  smoke:
    critical:
      - name: leads
        path: /api/leads
        expect: {{status: 200, bodyContains: monthlyPremium, json: {{/0/id: lead-1001, /0/score: 82}}, maxLatency: 2s}}
      - name: health
        path: /health
        expect: {{json: {{/status: ok}}}}
    missing-page:
      - name: nope
        path: /no-such-page
        expect: {{status: 200}}
    fast:
      - name: leads-fast
        path: /api/leads
        expect: {{status: 200, maxLatency: 150ms}}
    wrong-body:
      - name: version
        path: /
        expect: {{json: {{/service: billing}}}}
{}---
apiVersion: runway/v1
kind: Environment
metadata: {{name: staging}}
spec:
  runtime:
    local:
      ports: {{api: {}}}
  thresholds: {{errorRate: 0.05, latencyP95: 500ms}}
{})",
                     extra_app, router_port, extra_env);
}

class ChecksFixture : public ::testing::Test {
 public:
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

    runtime::LocalRuntimeOptions options;
    options.data_dir = data_dir();
    options.traffic = runtime::routerTrafficBackend(socket_);
    options.extra_path = {test::binaryPath("runway-demo-app").parent_path()};
    options.tick_period = 20ms;
    auto opened = runtime::LocalRuntime::open(std::move(options));
    ASSERT_TRUE(opened) << opened.error().message;
    runtime_ = std::move(*opened);
    auto port = test::freeLoopbackPort();
    ASSERT_TRUE(port);
    router_port_ = *port;
  }

  void TearDown() override {
    if (runtime_) {
      EXPECT_TRUE(runtime_->stopAll(1s));
    }
  }

  fs::path data_dir() const { return dir_ / "data"; }

  // Loads shopConfig() (plus extras) from a file in the temp dir.
  void loadConfig(const std::string& extra_env = "", const std::string& extra_app = "") {
    auto file = dir_.write("runway.yaml", shopConfig(router_port_, extra_env, extra_app));
    ASSERT_TRUE(file);
    auto loaded = config::loadConfig(file->string());
    std::string errors;
    for (const auto& d : loaded.diagnostics) errors += d.format() + "\n";
    ASSERT_TRUE(loaded.config) << errors;
    config_ = std::make_shared<config::Config>(std::move(*loaded.config));
  }

  // Starts `version` of "api" with the demo app knobs in `knobs`, waits until Ready (or, when
  // `wait_ready` is false, until its instances run), and when `route` gives it all traffic.
  void start(const std::string& version, std::map<std::string, std::string> knobs, int count = 1,
             bool route = true, bool wait_ready = true) {
    ASSERT_TRUE(config_) << "loadConfig() first";
    const auto* env = config_->findEnvironment("staging");
    auto service = config_->applications.front().services.front();
    for (auto& [k, v] : knobs) service.env[k] = v;
    ASSERT_TRUE(runtime_->startVersion(*env, service, version, count));
    if (wait_ready) {
      ASSERT_TRUE(test::pollUntil(
          [&] {
            auto s = runtime_->versionStatus("staging", "api", version);
            return s && s->state == runtime::VersionState::Ready;
          },
          test::deadlineIn(20s)))
          << version << " did not become Ready";
    }
    if (route) {
      runtime::TrafficSplit split;
      split.weights = {{version, 1000}};
      auto set = runtime_->setTraffic("staging", "api", split);
      ASSERT_TRUE(set) << set.error().message;
    }
  }

  test::TempDir dir_{"runway-checks"};
  std::string socket_;
  std::unique_ptr<router::Router> router_;
  std::unique_ptr<runtime::LocalRuntime> runtime_;
  std::shared_ptr<config::Config> config_;
  int router_port_ = 0;
};

}  // namespace runway::checks::itest
