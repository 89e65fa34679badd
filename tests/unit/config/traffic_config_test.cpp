// An Environment's `traffic:` (issue 20): A/B routes to the new version and sticky sessions,
// valid and invalid, and what the kubernetes runtime refuses of them.

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/config/loader.hpp"
#include "runway/config/summary.hpp"
#include "support/temp_dir.hpp"
#include "text.hpp"

namespace runway::config {
namespace {

using ::testing::ElementsAre;
using test::messages;

// 7 lines; the environment document starts on line 8 and its spec on line 12.
const std::string kTrafficApp = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - {name: web, local: {command: [web]}, kubernetes: {image: "registry.example/web"}}
---
)";

LoadResult loadTraffic(const std::string& spec) {
  return loadConfigText(kTrafficApp + test::env(spec), "t.yaml");
}

TEST(TrafficConfigTest, ReadsRoutesAndStickySessions) {
  const auto result = loadTraffic(R"(  traffic:
    routes:
      - {header: X-Canary, value: "always"}
      - {cookie: beta, match: regex, value: "yes|true"}
      - {header: X-Build, match: prefix, value: "v2."}
    stickySessions: {cookie: shop-version, maxAge: 30m}
)");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& t = result.config->environments.at(0).traffic;
  ASSERT_EQ(t.routes.size(), 3u);
  EXPECT_EQ(t.routes[0].header, "X-Canary");
  EXPECT_EQ(t.routes[0].match, HeaderRoute::Match::Exact);
  EXPECT_EQ(t.routes[0].value, "always");
  EXPECT_EQ(t.routes[1].cookie, "beta");
  EXPECT_EQ(t.routes[1].match, HeaderRoute::Match::Regex);
  EXPECT_EQ(t.routes[2].match, HeaderRoute::Match::Prefix);
  EXPECT_EQ(t.routes[0].location.line, 14);
  ASSERT_TRUE(t.sticky.has_value());
  EXPECT_EQ(t.sticky->cookie, "shop-version");
  EXPECT_EQ(t.sticky->max_age, Duration{30 * 60 * 1000});
  // runway validate says what it will do.
  const auto text = summarize(*result.config);
  EXPECT_THAT(text, ::testing::HasSubstr("    route header X-Canary exact \"always\" to the new version\n"
                                         "    route cookie beta regex \"yes|true\" to the new version\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("    sticky sessions: cookie shop-version, max age 30m\n"));
}

TEST(TrafficConfigTest, StickySessionsDefaultToAnHourOnRunwayVersion) {
  const auto result = loadTraffic("  traffic: {stickySessions: {}}\n");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& t = result.config->environments.at(0).traffic;
  EXPECT_TRUE(t.routes.empty());
  ASSERT_TRUE(t.sticky.has_value());
  EXPECT_EQ(t.sticky->cookie, "runway-version");
  EXPECT_EQ(t.sticky->max_age, Duration{3600 * 1000});
  // No traffic block: neither.
  const auto none = loadTraffic("  strategy: rolling\n");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.config->environments.at(0).traffic.sticky.has_value());
}

TEST(TrafficConfigTest, EachBadInputNamesItsPlace) {
  const auto result = loadTraffic(R"(  traffic:
    routes:
      - {header: X-Canary, cookie: beta, value: "1"}
      - {header: "X Canary", value: "1"}
      - {cookie: beta, match: regex, value: "(["}
      - {header: X-Canary, match: glob, value: "*"}
      - {header: X-Canary}
    stickySessions: {cookie: "a;b", maxAge: 0s, path: /}
    weights: {}
)");
  EXPECT_THAT(messages(result),
              ElementsAre("t.yaml:14:9: spec.traffic.routes[0]: set exactly one of header or cookie",
                          "t.yaml:15:18: spec.traffic.routes[1].header: \"X Canary\" is not a valid "
                          "header name (letters, digits and !#$%&'*+-.^_`|~)",
                          "t.yaml:16:45: spec.traffic.routes[2].value: \"([\": invalid regular "
                          "expression: missing ]: [ (RE2 syntax)",
                          "t.yaml:17:35: spec.traffic.routes[3].match: unknown value \"glob\" "
                          "(expected one of: exact, prefix, regex)",
                          "t.yaml:18:9: spec.traffic.routes[4].value: required field is missing",
                          "t.yaml:19:30: spec.traffic.stickySessions.cookie: \"a;b\" is not a "
                          "valid cookie name (letters, digits and !#$%&'*+-.^_`|~)",
                          "t.yaml:19:45: spec.traffic.stickySessions.maxAge: must be at least 1s, "
                          "got 0s",
                          "t.yaml:19:49: spec.traffic.stickySessions.path: unknown field \"path\"",
                          "t.yaml:20:5: spec.traffic.weights: unknown field \"weights\""));
}

TEST(TrafficConfigTest, ReadsListenerTimeoutsAndBodyLimit) {
  const auto result = loadTraffic(R"(  traffic:
    listener: {headerTimeout: 5s, idleTimeout: 2m, requestTimeout: 90s, maxRequestBody: 10Mi}
)");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& l = result.config->environments.at(0).traffic.listener;
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->header_timeout, Duration{5'000});
  EXPECT_EQ(l->idle_timeout, Duration{120'000});
  EXPECT_EQ(l->request_timeout, Duration{90'000});
  EXPECT_EQ(l->max_request_body, 10u * 1024 * 1024);
  EXPECT_THAT(summarize(*result.config),
              ::testing::HasSubstr("    listener: header timeout 5s, idle timeout 2m, request "
                                   "timeout 1m30s, request body at most 10485760 bytes\n"));
  // Unset fields keep the router's defaults.
  const auto partial = loadTraffic("  traffic: {listener: {maxRequestBody: 1500}}\n");
  ASSERT_TRUE(partial.ok()) << ::testing::PrintToString(messages(partial));
  const auto& p = partial.config->environments.at(0).traffic.listener;
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->max_request_body, 1500u);
  EXPECT_EQ(p->header_timeout, Duration{10'000});
  EXPECT_EQ(p->idle_timeout, Duration{60'000});
  EXPECT_EQ(p->request_timeout, Duration{30'000});
}

TEST(TrafficConfigTest, BadListenerSettingsNameTheirPlace) {
  const auto result = loadTraffic(R"(  traffic:
    listener:
      headerTimeout: 0s
      idleTimeout: soon
      maxRequestBody: 10MB
      bodyLimit: 1
)");
  EXPECT_THAT(messages(result),
              ElementsAre("t.yaml:14:22: spec.traffic.listener.headerTimeout: must be longer "
                          "than 0s, got 0s",
                          "t.yaml:15:20: spec.traffic.listener.idleTimeout: invalid duration "
                          "\"soon\": expected a number (write e.g. 30s, 15m, 1h30m, 2d)",
                          "t.yaml:16:23: spec.traffic.listener.maxRequestBody: invalid size "
                          "\"10MB\": write a number of bytes, optionally with Ki, Mi, Gi, Ti "
                          "(1024) or K, M, G, T (1000), e.g. 64Mi",
                          "t.yaml:17:7: spec.traffic.listener.bodyLimit: unknown field "
                          "\"bodyLimit\""));
}

// `traffic.listener.tls`: the files are taken from the configuration file's directory when
// relative, must exist, and runway validate names them.
TEST(TrafficConfigTest, ReadsListenerTlsFilesFromTheConfigurationsDirectory) {
  runway::test::TempDir dir;
  ASSERT_TRUE(dir.write("tls/cert.pem", "certificate"));
  ASSERT_TRUE(dir.write("tls/key.pem", "key"));
  const std::string file = (dir / "runway.yaml").string();
  const auto result = loadConfigText(kTrafficApp + test::env(R"(  traffic:
    listener:
      tls: {certificate: tls/cert.pem, key: )" + (dir / "tls/key.pem").string() + R"(}
)"),
                                     file);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& l = result.config->environments.at(0).traffic.listener;
  ASSERT_TRUE(l.has_value());
  ASSERT_TRUE(l->tls.has_value());
  EXPECT_EQ(l->tls->certificate, (dir / "tls/cert.pem").string());
  EXPECT_EQ(l->tls->key, (dir / "tls/key.pem").string());
  EXPECT_EQ(l->tls->location.line, 14);
  // The other listener settings keep the router's defaults.
  EXPECT_EQ(l->header_timeout, Duration{10'000});
  EXPECT_THAT(summarize(*result.config),
              ::testing::HasSubstr("    listener TLS: certificate " + (dir / "tls/cert.pem").string() +
                                   ", key " + (dir / "tls/key.pem").string() + "\n"));
}

TEST(TrafficConfigTest, BadListenerTlsNamesItsPlace) {
  runway::test::TempDir dir;
  ASSERT_TRUE(dir.write("cert.pem", "certificate"));
  const std::string file = (dir / "runway.yaml").string();
  const auto result = loadConfigText(kTrafficApp + test::env(R"(  traffic:
    listener:
      tls: {certificate: cert.pem}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: staging}
spec:
  traffic:
    listener:
      tls: {certificate: missing.pem, key: "", ca: x}
)"),
                                     file);
  const std::string missing = (dir / "missing.pem").string();
  EXPECT_THAT(messages(result),
              ElementsAre(file + ":14:12: spec.traffic.listener.tls.key: required field is missing",
                          file + ":22:26: spec.traffic.listener.tls.certificate: \"" + missing +
                              "\" is not a file",
                          file + ":22:44: spec.traffic.listener.tls.key: must not be empty",
                          file + ":22:48: spec.traffic.listener.tls.ca: unknown field \"ca\""));
}

TEST(TrafficConfigTest, KubernetesTakesHeaderRoutesOnAnHttpRouteOnly) {
  const auto ok = loadTraffic(R"(  runtime: {kubernetes: {gateway: {name: public}}}
  traffic:
    routes:
      - {header: X-Canary, value: "1"}
      - {header: X-Beta, match: regex, value: "yes|true"}
)");
  EXPECT_TRUE(ok.ok()) << ::testing::PrintToString(messages(ok));

  const auto bad = loadTraffic(R"(  runtime: {kubernetes: {gateway: {name: public}}}
  strategy: canary
  canary:
    steps:
      - setHeaderRoute: {cookie: beta, value: "1"}
      - setWeight: 100
  traffic:
    routes:
      - {cookie: beta, value: "1"}
      - {header: X-Build, match: prefix, value: "v2."}
    stickySessions: {cookie: v}
    listener: {maxRequestBody: 1Mi}
)");
  EXPECT_THAT(
      messages(bad),
      ElementsAre(
          "t.yaml:16:25: spec.canary.steps[0].setHeaderRoute: the kubernetes runtime routes by a "
          "Gateway API HTTPRoute, which matches headers, not cookies: route by a header",
          "t.yaml:20:9: spec.traffic.routes[0]: the kubernetes runtime routes by a Gateway API "
          "HTTPRoute, which matches headers, not cookies: route by a header",
          "t.yaml:21:9: spec.traffic.routes[1]: a Gateway API HTTPRoute matches headers exactly "
          "or by regular expression, not by prefix",
          "t.yaml:22:21: spec.traffic.stickySessions: sticky sessions need runway's router "
          "(runtime: local); the kubernetes runtime has none (a Gateway API HTTPRoute has no "
          "session persistence in its standard channel)",
          "t.yaml:23:15: spec.traffic.listener: listener timeouts and limits are settings of "
          "runway's router (runtime: local); on the kubernetes runtime set them on the Gateway "
          "or ingress in front of the Service"));

  const auto replicas = loadTraffic(R"(  runtime: {kubernetes: {}}
  traffic:
    routes: [{header: X-Canary, value: "1"}]
)");
  EXPECT_THAT(messages(replicas),
              ElementsAre("t.yaml:14:14: spec.traffic.routes[0]: header and cookie routes on the "
                          "kubernetes runtime need traffic: httproute (a Gateway API HTTPRoute); "
                          "traffic: replicas cannot route by request"));
}

}  // namespace
}  // namespace runway::config
