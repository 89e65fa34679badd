// The simulated runtime (runtime/simulated_runtime.hpp): instances Ready after the configured
// delay on the injected clock, traffic that follows the history of splits, statistics from a
// seeded model (the same seed gives the same numbers), faults for one version where named, and
// the Runtime contract's errors.

#include "runway/runtime/simulated_runtime.hpp"

#include <gtest/gtest.h>

namespace runway::runtime {
namespace {

using namespace std::chrono_literals;

config::Environment environment(std::string name,
                                std::optional<config::SimulatedRuntime> model = std::nullopt) {
  config::Environment env;
  env.name = std::move(name);
  if (model) {
    env.runtime.kind = config::RuntimeSpec::Kind::Simulated;
    env.runtime.simulated = *model;
  }
  return env;
}

config::Service service(std::string name) {
  config::Service s;
  s.name = std::move(name);
  return s;
}

TrafficSplit split(std::map<std::string, int> weights) {
  TrafficSplit s;
  s.weights = std::move(weights);
  return s;
}

struct World {
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::shared_ptr<SimulatedRuntime> runtime;
  explicit World(std::map<std::string, SimulatedFault> faults = {}, std::uint64_t seed = 1) {
    SimulatedRuntimeOptions o;
    o.clock = clock;
    o.model.requests_per_second = 100;
    o.model.error_rate = 0.01;
    o.model.latency_p95 = 200ms;
    o.model.ready_after = 5s;
    o.model.seed = seed;
    o.faults = std::move(faults);
    runtime = std::make_shared<SimulatedRuntime>(std::move(o));
  }
};

TEST(SimulatedRuntimeTest, InstancesBecomeReadyAfterTheDelayAndSayWhen) {
  World w;
  std::vector<RuntimeEvent::Kind> events;
  w.runtime->setEventHandler([&](const RuntimeEvent& e) { events.push_back(e.kind); });
  ASSERT_TRUE(w.runtime->startVersion(environment("prod"), service("web"), "v1", 2, {}));
  EXPECT_EQ(w.runtime->versionStatus("prod", "web", "v1")->state, VersionState::Progressing);
  ASSERT_TRUE(w.runtime->nextChange().has_value());
  EXPECT_EQ(*w.runtime->nextChange(), w.clock->now() + 5s);
  w.clock->advance(4999ms);
  w.runtime->publish();
  EXPECT_EQ(w.runtime->versionStatus("prod", "web", "v1")->ready, 0);
  w.clock->advance(1ms);
  w.runtime->publish();
  const auto status = w.runtime->versionStatus("prod", "web", "v1");
  EXPECT_EQ(status->state, VersionState::Ready);
  EXPECT_EQ(status->ready, 2);
  EXPECT_FALSE(w.runtime->nextChange().has_value());
  EXPECT_EQ(events, (std::vector<RuntimeEvent::Kind>{
                        RuntimeEvent::Kind::InstanceStarted, RuntimeEvent::Kind::InstanceStarted,
                        RuntimeEvent::Kind::InstanceReady, RuntimeEvent::Kind::InstanceReady,
                        RuntimeEvent::Kind::VersionReady}));
  ASSERT_TRUE(w.runtime->scale("prod", "web", "v1", 3));
  EXPECT_EQ(w.runtime->instances("prod", "web")->size(), 3u);
  EXPECT_EQ(w.runtime->instances("prod", "web")->back().state, InstanceState::Starting);
}

TEST(SimulatedRuntimeTest, WhatServedBeforeAStartIsRestoredReadyAndTakingAllTheTraffic) {
  World w;
  int events = 0;
  w.runtime->setEventHandler([&](const RuntimeEvent&) { ++events; });
  ASSERT_TRUE(w.runtime->restoreServing(environment("prod"), service("web"), "v1", 2));
  const auto status = w.runtime->versionStatus("prod", "web", "v1");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, VersionState::Ready);
  EXPECT_EQ(status->ready, 2);
  EXPECT_EQ(w.runtime->traffic("prod", "web")->weights, (std::map<std::string, int>{{"v1", 1000}}));
  EXPECT_FALSE(w.runtime->nextChange().has_value());
  w.runtime->publish();
  EXPECT_EQ(events, 0);  // nothing changed: it was already running
  // It serves from the restore on: a canary's split can include it and it is measured.
  ASSERT_TRUE(w.runtime->startVersion(environment("prod"), service("web"), "v2", 1, {}));
  ASSERT_TRUE(w.runtime->setTraffic("prod", "web", split({{"v1", 500}, {"v2", 500}})));
  w.clock->advance(10s);
  EXPECT_EQ(w.runtime->snapshot("prod", "web", "v1", w.clock->now() - 10s, w.clock->now()).requests,
            500u);
  // A service that already runs something is left as it is.
  ASSERT_TRUE(w.runtime->restoreServing(environment("prod"), service("web"), "v0", 1));
  EXPECT_FALSE(w.runtime->versionStatus("prod", "web", "v0"));
  EXPECT_EQ(w.runtime->traffic("prod", "web")->weights.at("v2"), 500);
  EXPECT_EQ(w.runtime->restoreServing(environment("prod"), service("api"), "v1", 0).error().code,
            ErrorCode::InvalidArgument);
  EXPECT_EQ(w.runtime->restoreServing(environment("prod"), service("api"), "../v1", 1).error().code,
            ErrorCode::InvalidArgument);
  EXPECT_FALSE(w.runtime->instances("prod", "api")->size());
}

TEST(SimulatedRuntimeTest, AnEnvironmentOnTheSimulatedRuntimeUsesItsOwnModel) {
  World w;
  config::SimulatedRuntime model;
  model.ready_after = 1min;
  ASSERT_TRUE(w.runtime->startVersion(environment("staging", model), service("web"), "v1", 1, {}));
  EXPECT_EQ(*w.runtime->nextChange(), w.clock->now() + 1min);
}

TEST(SimulatedRuntimeTest, TrafficFollowsTheHistoryOfSplits) {
  World w;
  const auto prod = environment("prod");
  ASSERT_TRUE(w.runtime->startVersion(prod, service("web"), "v1", 1, {}));
  ASSERT_TRUE(w.runtime->startVersion(prod, service("web"), "v2", 1, {}));
  const TimePoint t0 = w.clock->now();
  ASSERT_TRUE(w.runtime->setTraffic("prod", "web", split({{"v1", 1000}})));
  w.clock->advance(60s);
  ASSERT_TRUE(w.runtime->setTraffic("prod", "web", split({{"v1", 900}, {"v2", 100}})));
  w.clock->advance(60s);
  // v2 took 10 % of 100 requests a second for the last minute, nothing before.
  EXPECT_EQ(w.runtime->snapshot("prod", "web", "v2", t0 + 60s, t0 + 120s).requests, 600u);
  EXPECT_EQ(w.runtime->snapshot("prod", "web", "v2", t0, t0 + 60s).requests, 0u);
  EXPECT_FALSE(w.runtime->snapshot("prod", "web", "v2", t0, t0 + 60s).quantiles.has_value());
  EXPECT_EQ(w.runtime->snapshot("prod", "web", "v1", t0, t0 + 120s).requests, 6000u + 5400u);
  // A range reaching into the future ends now.
  EXPECT_EQ(w.runtime->snapshot("prod", "web", "v2", t0 + 60s, t0 + 1h).requests, 600u);
  const auto stats = w.runtime->statistics("prod", "web", 60s);
  ASSERT_TRUE(stats);
  ASSERT_EQ(stats->size(), 2u);
  EXPECT_EQ((*stats)[1].version, "v2");
  EXPECT_EQ((*stats)[1].requests, 600u);
  EXPECT_NEAR((*stats)[1].latency_p95_ms, 200, 20);
}

TEST(SimulatedRuntimeTest, ErrorsAndLatencyComeFromTheModelWithinItsVariation) {
  World w;
  const auto prod = environment("prod");
  ASSERT_TRUE(w.runtime->startVersion(prod, service("web"), "v1", 1, {}));
  ASSERT_TRUE(w.runtime->setTraffic("prod", "web", split({{"v1", 1000}})));
  for (int minute = 0; minute < 30; ++minute) {
    w.clock->advance(1min);
    const auto snap =
        w.runtime->snapshot("prod", "web", "v1", w.clock->now() - 1min, w.clock->now());
    ASSERT_EQ(snap.requests, 6000u);
    const double rate =
        static_cast<double>(snap.responses_by_class[4]) / static_cast<double>(snap.requests);
    EXPECT_GE(rate, 0.008);  // 1 % +- 20 %
    EXPECT_LE(rate, 0.012);
    ASSERT_TRUE(snap.quantiles);
    EXPECT_GE(snap.quantiles->p95, 0.18);  // 200 ms +- 10 %
    EXPECT_LE(snap.quantiles->p95, 0.22);
  }
}

TEST(SimulatedRuntimeTest, TheSameSeedGivesTheSameStatistics) {
  const auto errors = [](std::uint64_t seed) {
    World w({}, seed);
    EXPECT_TRUE(w.runtime->startVersion(environment("prod"), service("web"), "v1", 1, {}));
    EXPECT_TRUE(w.runtime->setTraffic("prod", "web", split({{"v1", 1000}})));
    std::vector<std::uint64_t> out;
    for (int minute = 0; minute < 10; ++minute) {
      w.clock->advance(1min);
      out.push_back(w.runtime->snapshot("prod", "web", "v1", w.clock->now() - 1min, w.clock->now())
                        .responses_by_class[4]);
    }
    return out;
  };
  EXPECT_EQ(errors(1), errors(1));
  EXPECT_NE(errors(1), errors(2));
}

TEST(SimulatedRuntimeTest, AFaultMakesOneVersionBadWhereItIsNamed) {
  SimulatedFault fault;
  fault.error_rate = 0.05;
  fault.latency_p95 = 2s;
  fault.environments = {"prod"};
  World w({{"v2", fault}});
  for (const auto* env : {"staging", "prod"}) {
    ASSERT_TRUE(w.runtime->startVersion(environment(env), service("web"), "v2", 1, {}));
    ASSERT_TRUE(w.runtime->setTraffic(env, "web", split({{"v2", 1000}})));
  }
  w.clock->advance(1min);
  const TimePoint from = w.clock->now() - 1min;
  const auto prod = w.runtime->snapshot("prod", "web", "v2", from, w.clock->now());
  const auto staging = w.runtime->snapshot("staging", "web", "v2", from, w.clock->now());
  EXPECT_GE(prod.responses_by_class[4], 240u);    // 5 % of 6000, -20 %
  EXPECT_LE(staging.responses_by_class[4], 72u);  // 1 %, +20 %
  EXPECT_GE(prod.quantiles->p95, 1.8);
  EXPECT_LE(staging.quantiles->p95, 0.22);
  // Through the interface analysis reads.
  auto stats = simulatedTrafficStatistics(w.runtime, "prod");
  EXPECT_EQ(stats->snapshot("web", "v2", from, w.clock->now())->responses_by_class[4],
            prod.responses_by_class[4]);
}

TEST(SimulatedRuntimeTest, RefusesWhatTheRuntimeContractRefuses) {
  World w;
  const auto prod = environment("prod");
  EXPECT_EQ(w.runtime->startVersion(prod, service("web"), "-bad", 1, {}).error().code,
            ErrorCode::InvalidArgument);
  EXPECT_EQ(w.runtime->startVersion(prod, service("web"), "v1", 1001, {}).error().code,
            ErrorCode::InvalidArgument);
  ASSERT_TRUE(w.runtime->startVersion(prod, service("web"), "v1", 1, {}));
  EXPECT_EQ(w.runtime->setTraffic("prod", "web", split({{"v9", 1000}})).error().code,
            ErrorCode::NotFound);
  EXPECT_EQ(w.runtime->setTraffic("prod", "web", split({{"v1", 500}})).error().code,
            ErrorCode::InvalidArgument);
  EXPECT_EQ(w.runtime->scale("prod", "web", "v9", 1).error().code, ErrorCode::NotFound);
  EXPECT_EQ(w.runtime->traffic("prod", "nothing").error().code, ErrorCode::NotFound);
  ASSERT_TRUE(w.runtime->setTraffic("prod", "web", split({{"v1", 1000}})));
  EXPECT_EQ(w.runtime->retireVersion("prod", "web", "v1", 1s).error().code,
            ErrorCode::FailedPrecondition);
  EXPECT_TRUE(w.runtime->retireVersion("prod", "web", "v9", 1s));  // idempotent: nothing to retire
  ASSERT_TRUE(w.runtime->startVersion(prod, service("web"), "v0", 1, {}));
  ASSERT_TRUE(w.runtime->retainOnly("prod", {{"web", "v1"}}, 1s));
  const auto left = w.runtime->instances("prod", "web");
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().version, "v1");
  EXPECT_TRUE(w.runtime->stopAll(1s));
  EXPECT_TRUE(w.runtime->instances("prod", "web")->empty());
}

}  // namespace
}  // namespace runway::runtime
