// Acceptance (issue 4): an instance killed under load — only requests in flight on it may
// fail, traffic moves to the other instances, and the supervisor restarts it. The real router
// (in-process, driven over its admin socket), the real supervisor, the real demo app.

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runway/router/router.hpp"
#include "runway/runtime/local_runtime.hpp"
#include "runway/runtime/router_backend.hpp"
#include "support/http.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(KilledUnderLoadTest, OnlyInFlightRequestsFailAndTheInstanceComesBack) {
  ASSERT_TRUE(fs::exists(test::binaryPath("runway-demo-app")));
  test::TempDir dir;
  router::RouterOptions router_options;
  router_options.admin_socket = (dir / "router.sock").string();
  router_options.state_dir = (dir / "router").string();
  fs::create_directories(router_options.state_dir);
  router_options.threads = 1;
  auto router = router::Router::start(router_options);
  ASSERT_TRUE(router) << router.error().message;

  LocalRuntimeOptions options;
  options.data_dir = dir / "data";
  options.traffic = routerTrafficBackend(router_options.admin_socket);
  options.extra_path = {test::binaryPath("runway-demo-app").parent_path()};
  options.restart.initial_backoff = 50ms;
  options.kill_timeout = 2s;
  options.tick_period = 20ms;
  auto opened = LocalRuntime::open(std::move(options));
  ASSERT_TRUE(opened) << opened.error().message;
  auto& runtime = *opened;

  config::Environment env;
  env.name = "development";
  auto listen_port = test::freeLoopbackPort();
  ASSERT_TRUE(listen_port);
  env.runtime.local.ports["web"] = *listen_port;
  config::Service service;
  service.name = "web";
  service.local = config::LocalRun{};
  service.local->command = {"runway-demo-app", "--port", "${PORT}"};
  service.local->working_dir = dir.path().string();
  service.health.initial_delay = 0ms;
  service.health.period = 100ms;
  service.health.failure_threshold = 2;

  ASSERT_TRUE(runtime->startVersion(env, service, "v1", 3));
  ASSERT_TRUE(test::pollUntil(
      [&] {
        auto s = runtime->versionStatus("development", "web", "v1");
        return s && s->state == VersionState::Ready;
      },
      test::deadlineIn(15s)));
  TrafficSplit split;
  split.weights = {{"v1", 1000}};
  ASSERT_TRUE(runtime->setTraffic("development", "web", split));
  const std::string url = fmt::format("http://127.0.0.1:{}/", *listen_port);
  ASSERT_TRUE(test::pollUntil(
      [&] {
        auto r = test::httpGet(url, 2s);
        return r && r->status == 200;
      },
      test::deadlineIn(10s)));

  // Load: a few keep-alive clients, each with at most one request in flight.
  constexpr int kClients = 4;
  std::atomic<bool> stop{false};
  std::atomic<long> ok{0};
  std::atomic<long> failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      test::HttpClient client;
      while (!stop.load()) {
        auto r = client.get(url, 5s);
        if (r && r->status == 200) {
          ++ok;
        } else {
          ++failed;
        }
      }
    });
  }
  ASSERT_TRUE(test::pollUntil([&] { return ok.load() >= 300; }, test::deadlineIn(20s)));

  const auto victim = runtime->instances("development", "web").value()[1];
  ASSERT_EQ(::kill(victim.pid, SIGKILL), 0);
  const long ok_at_kill = ok.load();
  // Traffic keeps flowing while the victim is down ...
  EXPECT_TRUE(test::pollUntil([&] { return ok.load() >= ok_at_kill + 300; },
                              test::deadlineIn(20s)));
  // ... and the supervisor brings it back, routed again.
  ASSERT_TRUE(test::pollUntil(
      [&] {
        const auto now = runtime->instances("development", "web").value()[1];
        return now.pid != victim.pid && now.pid != 0 && now.state == InstanceState::Ready;
      },
      test::deadlineIn(15s)));
  const auto reborn = runtime->instances("development", "web").value()[1];
  ASSERT_TRUE(test::pollUntil(
      [&] {
        for (const auto& l : (*router)->table().listeners) {
          for (const auto& v : l.versions) {
            for (const auto& i : v.instances) {
              if (i.port == reborn.port && i.state == router::InstanceState::Ready) return true;
            }
          }
        }
        return false;
      },
      test::deadlineIn(10s)));
  const long ok_after = ok.load();
  EXPECT_TRUE(test::pollUntil([&] { return ok.load() >= ok_after + 300; },
                              test::deadlineIn(20s)));
  stop = true;
  for (auto& t : clients) t.join();

  std::printf("killed under load: %ld requests succeeded, %ld failed\n", ok.load(), failed.load());
  EXPECT_LE(failed.load(), kClients) << "more failures than requests that can be in flight ("
                                     << ok.load() << " succeeded)";
  EXPECT_EQ(reborn.restarts, 1);
  EXPECT_TRUE(runtime->stopAll(1s));
}

}  // namespace
}  // namespace runway::runtime
