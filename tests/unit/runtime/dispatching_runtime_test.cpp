// DispatchingRuntime sends each call to the runtime of the environment it names.

#include "runway/runtime/dispatching_runtime.hpp"

#include <gtest/gtest.h>

#include "fakes/fake_runtime.hpp"

namespace runway::runtime {
namespace {

using namespace std::chrono_literals;

TEST(DispatchingRuntimeTest, EachEnvironmentGoesToItsRuntime) {
  auto local = std::make_shared<runway::testing::FakeRuntime>();
  auto kubernetes = std::make_shared<runway::testing::FakeRuntime>();
  DispatchingRuntime runtime(local, kubernetes, {"production"});
  config::Environment production;
  production.name = "production";
  config::Environment development;
  development.name = "development";
  config::Service web;
  web.name = "web";
  ASSERT_TRUE(runtime.startVersion(production, web, "v2", 3, {}));
  ASSERT_TRUE(runtime.startVersion(development, web, "v1", 1, {}));
  ASSERT_TRUE(runtime.setTraffic("production", "web", {{{"v2", 1000}}, {}, ""}));
  ASSERT_EQ(kubernetes->journal().size(), 2u);
  EXPECT_EQ(kubernetes->journal()[0].detail, "v2 x3");
  EXPECT_EQ(kubernetes->journal()[1].kind, "traffic");
  ASSERT_EQ(local->journal().size(), 1u);
  EXPECT_EQ(local->journal()[0].environment, "development");
  EXPECT_EQ(runtime.traffic("production", "web")->weights, (std::map<std::string, int>{{"v2", 1000}}));
  EXPECT_TRUE(runtime.traffic("development", "web")->weights.empty());
  // v2 has production's traffic: not retired; development's v1 has none there.
  EXPECT_EQ(runtime.retainOnly("production", {}, 1s).error().code, ErrorCode::FailedPrecondition);
  ASSERT_TRUE(runtime.retainOnly("development", {}, 1s));
  EXPECT_EQ(local->journal().back().kind, "retire");
  EXPECT_EQ(kubernetes->journal().size(), 2u);
  EXPECT_EQ(&runtime.runtimeOf("production"), kubernetes.get());
  EXPECT_EQ(&runtime.runtimeOf("anything-else"), local.get());
}

TEST(DispatchingRuntimeTest, WithoutKubernetesEnvironmentsEverythingIsLocal) {
  auto local = std::make_shared<runway::testing::FakeRuntime>();
  DispatchingRuntime runtime(local, nullptr, {});
  EXPECT_EQ(&runtime.runtimeOf("production"), local.get());
  EXPECT_TRUE(runtime.stopAll(1s));
}

// The server's shape with a simulated environment: one runtime per environment named, the local
// one for the rest; each runtime is stopped and given the event handler once.
TEST(DispatchingRuntimeTest, EnvironmentsMappedToTheirRuntimesTheRestToTheFallback) {
  auto local = std::make_shared<runway::testing::FakeRuntime>();
  auto simulated = std::make_shared<runway::testing::FakeRuntime>();
  DispatchingRuntime runtime(local, {{"staging", simulated}, {"production", simulated}});
  EXPECT_EQ(&runtime.runtimeOf("staging"), simulated.get());
  EXPECT_EQ(&runtime.runtimeOf("production"), simulated.get());
  EXPECT_EQ(&runtime.runtimeOf("development"), local.get());
  config::Environment staging;
  staging.name = "staging";
  config::Service web;
  web.name = "web";
  ASSERT_TRUE(runtime.startVersion(staging, web, "v2", 1, {}));
  EXPECT_EQ(simulated->journal().size(), 1u);
  EXPECT_TRUE(local->journal().empty());
  EXPECT_TRUE(runtime.stopAll(1s));
}

}  // namespace
}  // namespace runway::runtime
