#include "runway/router/routing_table.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/router/stats.hpp"

namespace runway::router {
namespace {

using ::testing::HasSubstr;

RoutingTable sampleTable() {
  RoutingTable t;
  t.revision = 7;
  t.settings.connect_timeout = Duration{500};
  Listener l;
  l.service = "api";
  l.environment = "production";
  l.port = 8080;
  l.versions.push_back(Version{"v1", 900, {Instance{"api-v1-0", "127.0.0.1", 9001, InstanceState::Ready},
                                           Instance{"api-v1-1", "127.0.0.1", 9002, InstanceState::Draining}}});
  l.versions.push_back(Version{"v2", 100, {Instance{"api-v2-0", "::1", 9003, InstanceState::Ready}}});
  l.rules.push_back(MatchRule{MatchSource::Header, "X-Canary", MatchKind::Exact, "1", "v2"});
  l.rules.push_back(MatchRule{MatchSource::Cookie, "group", MatchKind::Regex, "beta-[0-9]+", "v2"});
  l.sticky = StickySession{"runway-version", Duration{60'000}};
  l.limits = ListenerLimits{Duration{1'000}, Duration{2'000}, Duration{3'000}, 4096};
  l.tls = ListenerTls{"/etc/runway/api.pem", "/etc/runway/api.key"};
  t.listeners.push_back(l);
  return t;
}

TEST(RoutingTableJson, RoundTrips) {
  const auto t = sampleTable();
  ASSERT_TRUE(validate(t));
  const auto text = toJson(t);
  auto back = tableFromJson(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, t);
  EXPECT_EQ(back->listeners[0].name(), "api.production");
}

TEST(RoutingTableJson, DefaultsForMissingOptionalFields) {
  auto t = tableFromJson(R"({"listeners":[{"service":"web","environment":"dev","versions":[]}]})");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->settings, ProxySettings{});
  EXPECT_EQ(t->listeners[0].bind_address, "127.0.0.1");
  EXPECT_EQ(t->listeners[0].port, 0);
  EXPECT_EQ(t->listeners[0].limits, ListenerLimits{});
}

// A table persisted before limits were per listener kept them in its settings: they become the
// limits of each listener without its own.
TEST(RoutingTableJson, ReadsLimitsFromAnOlderTablesSettings) {
  auto t = tableFromJson(
      R"({"settings":{"header_timeout_ms":1000,"idle_timeout_ms":2000,"connect_timeout_ms":500,)"
      R"("response_timeout_ms":3000,"max_header_bytes":4096,"max_body_bytes":5000},)"
      R"("listeners":[{"service":"web","environment":"dev"},)"
      R"({"service":"api","environment":"dev","limits":{"max_body_bytes":10}}]})");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->settings.connect_timeout, Duration{500});
  EXPECT_EQ(t->listeners[0].limits,
            (ListenerLimits{Duration{1000}, Duration{2000}, Duration{3000}, 5000}));
  EXPECT_EQ(t->listeners[1].limits,
            (ListenerLimits{Duration{1000}, Duration{2000}, Duration{3000}, 10}));
}

struct BadCase {
  const char* json;
  const char* message;
};

class RoutingTableJsonErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(RoutingTableJsonErrors, Rejected) {
  auto t = tableFromJson(GetParam().json);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(t.error().message, HasSubstr(GetParam().message));
}

constexpr const char* kInst = R"("instances":[{"id":"a","port":9000}])";

INSTANTIATE_TEST_SUITE_P(
    Cases, RoutingTableJsonErrors,
    ::testing::Values(
        BadCase{"{", "invalid JSON"}, BadCase{"[]", "table: expected an object"},
        BadCase{R"({"listenrs":[]})", "unknown field \"listenrs\""},
        BadCase{R"({"listeners":[{"environment":"x"}]})", "listeners[0].service: required"},
        BadCase{R"({"listeners":[{"service":"Bad_Name","environment":"x"}]})", "invalid name"},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","port":70000}]})",
                "listeners[0].port: must be at most 65535"},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","versions":[{"name":"v1","weight_permille":900,"instances":[{"id":"a","port":9000}]}]}]})",
                "weights sum to 900 per mille, expected 1000"},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","versions":[{"name":"v1","weight_permille":1001}]}]})",
                "weight_permille: must be at most 1000"},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","versions":[{"name":"v1","weight_permille":1000,"instances":[{"id":"a","host":"localhost","port":9000}]}]}]})",
                "is not an IP address"},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","versions":[{"name":"v1","weight_permille":1000,"instances":[{"id":"a","port":9000,"state":"up"}]}]}]})",
                "unknown instance state \"up\""},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","versions":[{"name":"v1","weight_permille":1000,"instances":[{"id":"a","port":9000},{"id":"a","port":9001}]}]}]})",
                "duplicate instance id \"a\""},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","versions":[{"name":"v1","weight_permille":1000}],"rules":[{"source":"header","name":"x","kind":"exact","value":"1","version":"v9"}]}]})",
                "no version \"v9\""},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","versions":[{"name":"v1","weight_permille":1000}],"rules":[{"source":"header","name":"x","kind":"regex","value":"(","version":"v1"}]}]})",
                "invalid regular expression: missing ): ("},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","versions":[{"name":"v1","weight_permille":1000}],"rules":[{"source":"query","name":"x","kind":"exact","value":"1","version":"v1"}]}]})",
                "expected \"header\" or \"cookie\""},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","port":80},{"service":"b","environment":"x","port":80}]})",
                "used twice"},
        BadCase{R"({"listeners":[{"service":"a","environment":"x"},{"service":"a","environment":"x"}]})",
                "duplicate listener \"a.x\""},
        BadCase{R"({"settings":{"connect_timeout_ms":0}})", "connect_timeout_ms: must be positive"},
        BadCase{R"({"settings":{"colour":1}})", "unknown field \"colour\""},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","limits":{"idle_timeout_ms":0}}]})",
                "listeners[0].limits.idle_timeout_ms: must be positive"},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","tls":{"certificate_file":"a.pem","key_file":"/k"}}]})",
                "listeners[0].tls.certificate_file: \"a.pem\" is not an absolute path"},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","tls":{"certificate_file":"/a.pem"}}]})",
                "listeners[0].tls.key_file: required"},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","limits":{"colour":1}}]})",
                "unknown field \"colour\""},
        BadCase{R"({"listeners":[{"service":"a","environment":"x","sticky":{"cookie":"a b"}}]})",
                "invalid cookie name"}));

TEST(RoutingTableValidate, ReportsEveryProblem) {
  auto t = sampleTable();
  t.listeners[0].versions[0].weight_permille = 10;
  t.listeners[0].versions[1].instances[0].port = 0;
  auto r = validate(t);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("weights sum to 110"));
  EXPECT_THAT(r.error().message, HasSubstr("instances[0].port: must be 1..65535"));
}

TEST(RoutingTableValidate, WeightsMayBeZeroWhenNothingIsReady) {
  auto t = sampleTable();
  for (auto& v : t.listeners[0].versions) {
    v.weight_permille = 0;
    for (auto& in : v.instances) in.state = InstanceState::NotReady;
  }
  EXPECT_TRUE(validate(t));
}

TEST(RoutingTableValidate, MetricsAddressIsAnIpAndAPortNoListenerUses) {
  auto t = sampleTable();
  t.settings.metrics_address = "127.0.0.1:9464";
  EXPECT_TRUE(validate(t));
  auto back = tableFromJson(toJson(t));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->settings.metrics_address, "127.0.0.1:9464");
  EXPECT_EQ(parseHostPort("[::1]:0").value(), (std::pair<std::string, std::uint16_t>{"::1", 0}));
  for (const char* bad : {"localhost:9464", "127.0.0.1", "127.0.0.1:70000", "127.0.0.1:x", ":1"}) {
    t.settings.metrics_address = bad;
    EXPECT_FALSE(validate(t)) << bad;
  }
  t.settings.metrics_address = t.listeners[0].bind_address + ":" + std::to_string(t.listeners[0].port);
  const auto clash = validate(t);
  ASSERT_FALSE(clash);
  EXPECT_THAT(clash.error().message, ::testing::HasSubstr("is the metrics address"));
}

TEST(StatsJson, RoundTrips) {
  StatsReport r;
  r.window = Duration{60'000};
  r.at = fromUnixMillis(1'700'000'000'123);
  VersionStats v;
  v.listener = "api.production";
  v.version = "v2";
  v.total.requests = 10;
  v.total.by_class[2] = 9;
  v.total.by_class[5] = 1;
  v.total.by_code = {{200, 9}, {503, 1}};
  v.total.router_errors = 1;
  v.total.in_flight = 3;
  v.total.latency = LatencySummary{1.5, 2.5, 3.5, 1.75, 4.0};
  v.instances["api-v2-0"].requests = 9;
  v.instances["api-v2-0"].by_class[2] = 9;
  v.instances["api-v2-0"].by_code = {{200, 9}};
  r.versions.push_back(v);
  auto back = statsFromJson(toJson(r));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, r);
  ASSERT_NE(back->find("api.production", "v2"), nullptr);
  EXPECT_DOUBLE_EQ(back->find("api.production", "v2")->total.errorRate(), 0.1);
  EXPECT_EQ(back->find("api.production", "v1"), nullptr);
}

}  // namespace
}  // namespace runway::router
