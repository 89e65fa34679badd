#include "runway/runtime/router_backend.hpp"

#include <gtest/gtest.h>

namespace runway::runtime {
namespace {

TrafficTable sampleTable() {
  TrafficTable t;
  t.generation = 7;
  ServiceTraffic s;
  s.environment = "production";
  s.service = "api";
  s.listen_address = "127.0.0.1";
  s.listen_port = 8080;
  s.split.weights = {{"v1", 900}, {"v2", 100}};
  s.split.routes = {TrafficRoute{"x-canary", "", TrafficRoute::Match::Exact, "1", "v2"},
                    TrafficRoute{"", "beta", TrafficRoute::Match::Prefix, "y", "v2"}};
  s.split.sticky_cookie = "runway-version";
  s.split.sticky_max_age = Duration{90'000};
  s.limits = ListenerLimits{Duration{1'000}, Duration{2'000}, Duration{3'000}, 4096};
  s.endpoints = {TrafficEndpoint{"v1", 0, "127.0.0.1", 9000, false},
                 TrafficEndpoint{"v1", 1, "127.0.0.1", 9001, true},
                 TrafficEndpoint{"v2", 0, "127.0.0.1", 9002, false}};
  t.services.push_back(s);
  return t;
}

TEST(RouterBackendTest, ConvertsToAValidRoutingTable) {
  const auto table = toRoutingTable(sampleTable());
  ASSERT_TRUE(router::validate(table)) << router::validate(table).error().message;
  EXPECT_EQ(table.revision, 7u);
  ASSERT_EQ(table.listeners.size(), 1u);
  const auto& l = table.listeners[0];
  EXPECT_EQ(l.name(), "api.production");
  EXPECT_EQ(l.port, 8080);
  ASSERT_EQ(l.versions.size(), 2u);
  EXPECT_EQ(l.versions[0].name, "v1");
  EXPECT_EQ(l.versions[0].weight_permille, 900u);
  ASSERT_EQ(l.versions[0].instances.size(), 2u);
  EXPECT_EQ(l.versions[0].instances[0].id, "api.production.v1.0");
  EXPECT_EQ(l.versions[0].instances[0].state, router::InstanceState::Ready);
  EXPECT_EQ(l.versions[0].instances[1].state, router::InstanceState::Draining);
  EXPECT_EQ(l.versions[1].instances[0].port, 9002);
  ASSERT_EQ(l.rules.size(), 2u);
  EXPECT_EQ(l.rules[0].source, router::MatchSource::Header);
  EXPECT_EQ(l.rules[0].name, "x-canary");
  EXPECT_EQ(l.rules[1].source, router::MatchSource::Cookie);
  EXPECT_EQ(l.rules[1].kind, router::MatchKind::Prefix);
  ASSERT_TRUE(l.sticky);
  EXPECT_EQ(l.sticky->cookie, "runway-version");
  EXPECT_EQ(l.sticky->max_age, Duration{90'000});
  EXPECT_EQ(l.limits, (router::ListenerLimits{Duration{1'000}, Duration{2'000}, Duration{3'000},
                                              4096}));
}

TEST(RouterBackendTest, NoSplitYetMeansNothingRouted) {
  auto t = sampleTable();
  t.services[0].split = TrafficSplit{};
  const auto table = toRoutingTable(t);
  ASSERT_TRUE(router::validate(table)) << router::validate(table).error().message;
  for (const auto& v : table.listeners[0].versions) {
    EXPECT_EQ(v.weight_permille, 0u);
    for (const auto& i : v.instances) EXPECT_NE(i.state, router::InstanceState::Ready);
  }
}

TEST(RouterBackendTest, AWeightedVersionWithoutInstancesIsListed) {
  auto t = sampleTable();
  t.services[0].endpoints.pop_back();  // v2 has no ready instance (router answers 503)
  const auto table = toRoutingTable(t);
  ASSERT_TRUE(router::validate(table));
  ASSERT_EQ(table.listeners[0].versions.size(), 2u);
  EXPECT_TRUE(table.listeners[0].versions[1].instances.empty());
}

TEST(RouterBackendTest, ReadsOneListenersStatistics) {
  router::StatsReport report;
  router::VersionStats mine;
  mine.listener = "api.production";
  mine.version = "v2";
  mine.total.requests = 100;
  mine.total.by_class[2] = 95;
  mine.total.by_class[5] = 5;
  mine.total.upstream_errors = 2;
  mine.total.in_flight = 3;
  mine.total.latency.p95_ms = 12.5;
  router::VersionStats other = mine;
  other.listener = "web.production";
  report.versions = {mine, other};
  const auto stats = toVersionStatistics(report, "production", "api");
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].version, "v2");
  EXPECT_EQ(stats[0].requests, 100u);
  EXPECT_EQ(stats[0].responses_2xx, 95u);
  EXPECT_EQ(stats[0].responses_5xx, 5u);
  EXPECT_EQ(stats[0].upstream_errors, 2u);
  EXPECT_EQ(stats[0].in_flight, 3);
  EXPECT_DOUBLE_EQ(stats[0].latency_p95_ms, 12.5);
}

}  // namespace
}  // namespace runway::runtime
