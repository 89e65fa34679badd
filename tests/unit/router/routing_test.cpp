#include "routing.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "stats_store.hpp"

namespace runway::router {
namespace {

namespace http = boost::beast::http;

Listener listener(std::uint32_t canary_permille) {
  Listener l;
  l.service = "api";
  l.environment = "prod";
  l.versions.push_back(Version{"stable", 1000 - canary_permille,
                               {Instance{"s-0", "127.0.0.1", 9000, InstanceState::Ready}}});
  l.versions.push_back(Version{"canary", canary_permille,
                               {Instance{"c-0", "127.0.0.1", 9001, InstanceState::Ready}}});
  return l;
}

std::shared_ptr<const CompiledTable> compile(const Listener& l, SeriesRegistry& registry) {
  RoutingTable t;
  t.listeners.push_back(l);
  EXPECT_TRUE(validate(t));
  return compileTable(t, registry);
}

TEST(WeightedChoice, CanaryShareOverTenThousandPicks) {
  SeriesRegistry registry;
  auto table = compile(listener(100), registry);
  const auto& l = table->listeners[0];
  FastRandom random(12345);
  Fields none;
  int canary = 0;
  for (int i = 0; i < 10'000; ++i) {
    if (chooseVersion(l, none, random.permille()).version == 1) ++canary;
  }
  EXPECT_GE(canary, 800);
  EXPECT_LE(canary, 1200);
}

TEST(WeightedChoice, PerMilleBoundaries) {
  SeriesRegistry registry;
  auto table = compile(listener(1), registry);
  const auto& l = table->listeners[0];
  EXPECT_EQ(pickWeighted(l, 0), 0);
  EXPECT_EQ(pickWeighted(l, 998), 0);
  EXPECT_EQ(pickWeighted(l, 999), 1);
  auto all = compile(listener(1000), registry);
  for (std::uint32_t r : {0u, 500u, 999u}) EXPECT_EQ(pickWeighted(all->listeners[0], r), 1);
  auto none = compile(listener(0), registry);
  for (std::uint32_t r : {0u, 999u}) EXPECT_EQ(pickWeighted(none->listeners[0], r), 0);
}

TEST(WeightedChoice, NothingWhenWeightsAreZero) {
  SeriesRegistry registry;
  auto l = listener(0);
  l.versions[0].weight_permille = 0;
  for (auto& v : l.versions) v.instances[0].state = InstanceState::NotReady;
  auto table = compile(l, registry);
  EXPECT_EQ(pickWeighted(table->listeners[0], 0), -1);
}

TEST(Rules, HeaderExactPrefixRegexAndCookie) {
  SeriesRegistry registry;
  auto l = listener(0);
  l.rules.push_back(MatchRule{MatchSource::Header, "X-Group", MatchKind::Exact, "beta", "canary"});
  l.rules.push_back(MatchRule{MatchSource::Header, "User-Agent", MatchKind::Prefix, "Tester/", "canary"});
  l.rules.push_back(MatchRule{MatchSource::Cookie, "uid", MatchKind::Regex, "[0-9]*7", "canary"});
  auto table = compile(l, registry);
  const auto& cl = table->listeners[0];
  auto pick = [&](std::initializer_list<std::pair<const char*, const char*>> headers) {
    Fields f;
    for (const auto& [n, v] : headers) f.insert(n, v);
    return chooseVersion(cl, f, 0).version;
  };
  EXPECT_EQ(pick({}), 0);
  EXPECT_EQ(pick({{"x-group", "beta"}}), 1);
  EXPECT_EQ(pick({{"X-Group", "beta2"}}), 0);
  EXPECT_EQ(pick({{"X-Other", "1"}, {"X-Group", "alpha"}, {"X-Group", "beta"}}), 1);
  EXPECT_EQ(pick({{"User-Agent", "Tester/1.0"}}), 1);
  EXPECT_EQ(pick({{"User-Agent", "curl/8 Tester/"}}), 0);
  EXPECT_EQ(pick({{"Cookie", "a=1; uid=12347"}}), 1);
  EXPECT_EQ(pick({{"Cookie", "uid=12347x"}}), 0);  // regex must match the whole value
  EXPECT_EQ(pick({{"Cookie", "xuid=7"}}), 0);
  EXPECT_EQ(pick({{"Cookie", "a=1"}, {"Cookie", "uid=\"7\""}}), 1);
}

// A regex rule is matched by RE2, in time linear in the value (issue 19). The client controls
// the value (up to 16 KiB of header); with std::regex, "(a|aa)*b" against 16 KiB of 'a' recursed
// once per character and backtracked exponentially: the router's thread crashed or hung.
TEST(Rules, ARegexRuleOnAHostileValueMatchesInLinearTime) {
  SeriesRegistry registry;
  auto l = listener(0);
  l.rules.push_back(MatchRule{MatchSource::Header, "X-Group", MatchKind::Regex, "(a|aa)*b", "canary"});
  auto table = compile(l, registry);
  const auto& cl = table->listeners[0];
  Fields hostile;
  hostile.insert("X-Group", std::string(16 * 1024, 'a'));
  EXPECT_EQ(chooseVersion(cl, hostile, 0).version, 0);
  Fields matching;
  matching.insert("X-Group", std::string(16 * 1024, 'a') + "b");
  EXPECT_EQ(chooseVersion(cl, matching, 0).version, 1);
}

TEST(Rules, StickyCookieHonouredOnlyForVersionsTakingTraffic) {
  SeriesRegistry registry;
  auto l = listener(500);
  l.sticky = StickySession{"rv", Duration{60'000}};
  auto table = compile(l, registry);
  const auto& cl = table->listeners[0];
  Fields f;
  f.insert(http::field::cookie, "rv=canary");
  for (std::uint32_t r : {0u, 499u, 999u}) {
    auto c = chooseVersion(cl, f, r);
    EXPECT_EQ(c.version, 1);
    EXPECT_FALSE(c.set_cookie);
  }
  Fields none;
  EXPECT_TRUE(chooseVersion(cl, none, 0).set_cookie);
  // Rolled back: weight 0, the cookie no longer pins the client to it.
  auto rolled = listener(0);
  rolled.sticky = l.sticky;
  auto t2 = compile(rolled, registry);
  auto c = chooseVersion(t2->listeners[0], f, 999);
  EXPECT_EQ(c.version, 0);
  EXPECT_TRUE(c.set_cookie);
}

TEST(HopByHop, StripsHopByHopAndConnectionNamedFields) {
  Fields f;
  f.insert(http::field::host, "example");
  f.insert(http::field::connection, "keep-alive, X-Secret ,x-other");
  f.insert(http::field::connection, "Upgrade");
  f.insert("X-Secret", "1");
  f.insert("X-Other", "2");
  f.insert(http::field::keep_alive, "timeout=5");
  f.insert("Proxy-Authorization", "Basic eA==");
  f.insert("Proxy-Connection", "keep-alive");
  f.insert(http::field::te, "trailers");
  f.insert(http::field::trailer, "X-T");
  f.insert(http::field::transfer_encoding, "chunked");
  f.insert(http::field::upgrade, "websocket");
  f.insert("X-Kept", "yes");
  stripHopByHop(f);
  std::vector<std::string> left;
  for (const auto& field : f) left.emplace_back(field.name_string());
  EXPECT_THAT(left, ::testing::ElementsAre("Host", "X-Kept"));
}

TEST(Upgrade, OnlyAnHttp11RequestListingUpgradeInConnection) {
  Fields ws;
  ws.set(http::field::connection, "keep-alive, Upgrade");
  ws.set(http::field::upgrade, " websocket ");
  EXPECT_EQ(upgradeProtocol(ws, 11), std::optional<std::string>("websocket"));
  EXPECT_EQ(upgradeProtocol(ws, 10), std::nullopt);
  Fields not_listed;
  not_listed.set(http::field::connection, "keep-alive");
  not_listed.set(http::field::upgrade, "websocket");
  EXPECT_EQ(upgradeProtocol(not_listed, 11), std::nullopt);
  Fields no_protocol;
  no_protocol.set(http::field::connection, "upgrade");
  EXPECT_EQ(upgradeProtocol(no_protocol, 11), std::nullopt);
  Fields plain;
  EXPECT_EQ(upgradeProtocol(plain, 11), std::nullopt);
}

TEST(Framing, SmugglingShapesAreRefused) {
  auto check = [](std::initializer_list<std::pair<const char*, const char*>> headers,
                  unsigned version = 11) {
    Fields f;
    for (const auto& [n, v] : headers) f.insert(n, v);
    auto p = framingProblem(f, version);
    return p ? std::string(*p) : std::string("ok");
  };
  EXPECT_EQ(check({{"Host", "a"}}), "ok");
  EXPECT_EQ(check({{"Host", "a"}, {"Content-Length", "10"}}), "ok");
  EXPECT_EQ(check({{"Host", "a"}, {"Transfer-Encoding", "Chunked"}}), "ok");
  EXPECT_EQ(check({{"Host", "a"}, {"Content-Length", "1"}, {"Transfer-Encoding", "chunked"}}),
            "both Content-Length and Transfer-Encoding");
  EXPECT_EQ(check({{"Host", "a"}, {"Content-Length", "1"}, {"Content-Length", "1"}}),
            "duplicate Content-Length");
  EXPECT_EQ(check({{"Host", "a"}, {"Content-Length", "1,1"}}), "invalid Content-Length");
  EXPECT_EQ(check({{"Host", "a"}, {"Content-Length", "-1"}}), "invalid Content-Length");
  EXPECT_EQ(check({{"Host", "a"}, {"Content-Length", ""}}), "invalid Content-Length");
  EXPECT_EQ(check({{"Host", "a"}, {"Transfer-Encoding", "gzip, chunked"}}),
            "unsupported Transfer-Encoding");
  EXPECT_EQ(check({{"Host", "a"}, {"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}),
            "duplicate Transfer-Encoding");
  EXPECT_EQ(check({{"Host", "a"}, {"Transfer-Encoding", "chunked"}}, 10),
            "Transfer-Encoding on HTTP/1.0");
  EXPECT_EQ(check({}), "missing Host");
  EXPECT_EQ(check({}, 10), "ok");
  EXPECT_EQ(check({{"Host", "a"}, {"Host", "b"}}), "duplicate Host");
}

}  // namespace
}  // namespace runway::router
