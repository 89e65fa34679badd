// The router in-process against tiny upstreams: proxy correctness, defences, routing, statistics.

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <boost/asio/ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backend.hpp"
#include "raw_client.hpp"
#include "runway/router/router.hpp"
#include "support/http.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"

namespace runway::router {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using testing::Backend;
using testing::RawClient;
using namespace std::chrono_literals;
namespace ssl = boost::asio::ssl;

constexpr const char* kListener = "shop.test";

Instance instanceOf(const Backend& b, InstanceState state = InstanceState::Ready) {
  return Instance{b.name(), "127.0.0.1", static_cast<std::uint16_t>(b.port()), state};
}

class RouterProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RouterOptions options;
    options.threads = 2;
    auto r = Router::start(options);
    ASSERT_TRUE(r) << r.error().message;
    router_ = std::move(*r);
    ASSERT_TRUE(router_->setTable(table(100)));
    port_ = *router_->boundPort(kListener);
    // From now on the table names the port it was given, so later tables keep the listener.
    ASSERT_TRUE(router_->setTable(table(100)));
  }

  // v1 (two instances) and v2 (one), v2 at `v2_permille`.
  RoutingTable table(std::uint32_t v2_permille) {
    RoutingTable t;
    t.settings.connect_timeout = Duration{500};
    t.settings.max_header_bytes = 4096;
    Listener l;
    l.service = "shop";
    l.environment = "test";
    l.port = static_cast<std::uint16_t>(port_);
    l.limits.header_timeout = Duration{400};
    l.limits.request_timeout = Duration{10'000};
    l.limits.max_body_bytes = 1024 * 1024;
    l.versions.push_back(Version{"v1", 1000 - v2_permille, {instanceOf(v1a_), instanceOf(v1b_)}});
    l.versions.push_back(Version{"v2", v2_permille, {instanceOf(v2_)}});
    t.listeners.push_back(l);
    return t;
  }

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

  // A plain GET that must succeed, used to show other clients keep being served.
  void expectServed() {
    auto r = test::httpGet(url("/"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
  }

  Backend v1a_{"v1-a"};
  Backend v1b_{"v1-b"};
  Backend v2_{"v2-a"};
  std::unique_ptr<Router> router_;
  int port_ = 0;
};

TEST_F(RouterProxyTest, ProxiesAndRewritesHeaders) {
  auto r = test::httpRequest(url("/echo"), "GET", "",
                             {{"Connection", "keep-alive, X-Drop-Me"},
                              {"X-Drop-Me", "1"},
                              {"Keep-Alive", "timeout=5"},
                              {"Proxy-Authorization", "Basic eA=="},
                              {"Proxy-Foo", "bar"},
                              {"TE", "trailers"},
                              {"Trailer", "X-T"},
                              {"Upgrade", "h2c"},
                              {"X-Forwarded-For", "10.1.2.3"},
                              {"x-forwarded-proto", "gopher"},
                              {"X-Forwarded-Host", "spoofed.example"},
                              {"X-Kept", "yes"},
                              {"Host", "shop.example"}});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->status, 200);
  const auto& seen = r->body;
  EXPECT_THAT(seen, HasSubstr("X-Kept: yes"));
  EXPECT_THAT(seen, HasSubstr("X-Forwarded-For: 10.1.2.3, 127.0.0.1"));
  EXPECT_THAT(seen, HasSubstr("X-Forwarded-Proto: http"));
  EXPECT_THAT(seen, HasSubstr("X-Forwarded-Host: shop.example"));
  EXPECT_THAT(seen, HasSubstr("Host: shop.example"));
  // The client's X-Forwarded-Proto and -Host are replaced, not kept beside the router's.
  for (const char* gone : {"X-Drop-Me", "Keep-Alive", "Proxy-", "TE:", "Trailer", "Upgrade",
                           "Connection", "gopher", "spoofed.example", "x-forwarded-proto"}) {
    EXPECT_THAT(seen, Not(HasSubstr(gone))) << seen;
  }
}

// X-Request-Id: the client's passes through to the upstream and back; a missing or unusable
// one is replaced by a fresh id, different per request.
TEST_F(RouterProxyTest, PassesOrMakesARequestId) {
  auto given = test::httpRequest(url("/echo"), "GET", "", {{"X-Request-Id", "abc-123"}});
  ASSERT_TRUE(given) << given.error().message;
  EXPECT_THAT(given->body, HasSubstr("X-Request-Id: abc-123\n"));
  EXPECT_EQ(given->header("x-request-id"), std::optional<std::string>("abc-123"));
  std::set<std::string> made;
  for (const auto& headers : {test::HttpHeaders{}, test::HttpHeaders{{"X-Request-Id", "no good!"}}}) {
    for (int i = 0; i < 3; ++i) {
      auto r = test::httpRequest(url("/echo"), "GET", "", headers);
      ASSERT_TRUE(r) << r.error().message;
      const auto id = r->header("x-request-id").value_or("");
      EXPECT_THAT(id, ::testing::MatchesRegex("[0-9a-f]{32}"));
      EXPECT_THAT(r->body, HasSubstr("X-Request-Id: " + id + "\n"));
      EXPECT_THAT(r->body, Not(HasSubstr("no good!")));
      made.insert(id);
    }
  }
  EXPECT_EQ(made.size(), 6u);
}

TEST_F(RouterProxyTest, RelaysChunkedResponses) {
  auto r = test::httpGet(url("/chunked"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, std::string(10000, 'c'));
  EXPECT_EQ(r->header("transfer-encoding").value_or(""), "chunked");
}

TEST_F(RouterProxyTest, RelaysChunkedRequestBodies) {
  RawClient c(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     "Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  const auto reply = c.readUntilClose(5s);
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(reply, HasSubstr("len=11\nhello world"));
}

// A body with a Content-Length goes each way as the header the router serialized and then the
// body's bytes in pieces (the relay buffer holds 16 KB): 100 KB each way arrive whole; a HEAD
// response (a Content-Length, no body) and an HTTP/1.0 request leave the connection's framing
// intact.
TEST_F(RouterProxyTest, RelaysLargeBodiesAndHeadResponsesKeepingTheFraming) {
  std::string payload;
  for (int i = 0; payload.size() < 100000; ++i) payload += std::to_string(i) + ",";
  payload.resize(100000);
  payload += "END";
  RawClient c(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                     std::to_string(payload.size()) + "\r\n\r\n" + payload));
  const std::string expected = "len=" + std::to_string(payload.size()) + "\n" + payload;
  const auto reply = c.readUntil("END", 5s);
  const auto split = reply.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos) << reply.substr(0, 200);
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(reply.substr(0, split), HasSubstr("Content-Length: " + std::to_string(expected.size())));
  EXPECT_EQ(reply.substr(split + 4), expected);

  ASSERT_TRUE(c.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.0\r\nHost: x\r\n\r\n"));
  const auto rest = c.readUntilClose(5s);
  const auto head_end = rest.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << rest;
  EXPECT_THAT(rest, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(rest.substr(0, head_end), HasSubstr("Content-Length: 4\r\n"));  // "v1-a", not sent
  EXPECT_THAT(rest.substr(head_end + 4), StartsWith("HTTP/1.0 200 OK\r\n")) << rest;
  EXPECT_THAT(rest, HasSubstr("Host: x\n"));
  EXPECT_TRUE(c.closed());
}

TEST_F(RouterProxyTest, StreamsRequestBodiesWithoutWaitingForTheEnd) {
  // Route everything to v2 so the progress counter is the one upstream's.
  ASSERT_TRUE(router_->setTable(table(1000)));
  RawClient c(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n"));
  ASSERT_TRUE(c.send(std::string(100000, 'a')));
  // The upstream sees the first half while the client still holds the second.
  EXPECT_TRUE(test::pollUntil([&] { return v2_.bodyBytesSeen() >= 50000; }, test::deadlineIn(5s)))
      << v2_.bodyBytesSeen();
  ASSERT_TRUE(c.send(std::string(100000, 'b')));
  const auto reply = c.readUntil("len=200000", 5s);
  EXPECT_THAT(reply, HasSubstr("len=200000"));
}

struct Malformed {
  const char* name;
  std::string request;
  const char* status;
};

class RouterMalformedTest : public RouterProxyTest,
                            public ::testing::WithParamInterface<Malformed> {};

TEST_P(RouterMalformedTest, RefusedAndClosedWhileOthersAreServed) {
  RawClient c(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(GetParam().request));
  const auto reply = c.readUntilClose(5s);
  EXPECT_THAT(reply, StartsWith(std::string("HTTP/1.1 ") + GetParam().status)) << reply;
  EXPECT_TRUE(c.closed()) << "the router must close the connection";
  expectServed();
}

INSTANTIATE_TEST_SUITE_P(
    Smuggling, RouterMalformedTest,
    ::testing::Values(
        Malformed{"ContentLengthThenTransferEncoding",
                  "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
                  "400"},
        Malformed{"TransferEncodingThenContentLength",
                  "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: "
                  "5\r\n\r\n0\r\n\r\n",
                  "400"},
        Malformed{"DuplicateContentLengthSame",
                  "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
                  "400"},
        Malformed{"DuplicateContentLengthDifferent",
                  "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                  "400"},
        Malformed{"ContentLengthList",
                  "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", "400"},
        Malformed{"ContentLengthNotANumber",
                  "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "400"},
        Malformed{"ContentLengthSigned",
                  "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", "400"},
        Malformed{"TransferEncodingNotChunked",
                  "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                  "400"},
        Malformed{"TransferEncodingObfuscated",
                  "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
                  "400"},
        Malformed{"DuplicateTransferEncoding",
                  "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n0\r\n\r\n",
                  "400"},
        Malformed{"InvalidChunkSize",
                  "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
                  "400"},
        Malformed{"MissingHost", "GET / HTTP/1.1\r\n\r\n", "400"},
        Malformed{"GarbageRequestLine", "HELLO\r\n\r\n", "400"},
        Malformed{"OversizedHeader",
                  "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n", "431"},
        Malformed{"OversizedBodyByContentLength",
                  "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", "413"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_F(RouterProxyTest, OversizedChunkedBodyGets413) {
  RawClient c(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'z') + "\r\n";
  for (int i = 0; i < 20 && c.send(chunk); ++i) {
  }
  const auto reply = c.readUntilClose(5s);
  EXPECT_THAT(reply, HasSubstr("HTTP/1.1 413")) << reply.substr(0, 200);
  expectServed();
}

TEST_F(RouterProxyTest, SlowClientGets408AndOthersAreServed) {
  RawClient slow(port_);
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.send("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  expectServed();
  const auto reply = slow.readUntilClose(5s);
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 408")) << reply;
  EXPECT_TRUE(slow.closed());
  expectServed();
}

// Each listener has its own limits: a body one listener refuses with 413 the other relays; a
// header stalled past one listener's header timeout gets 408 there while the other still waits;
// an idle keep-alive connection is closed after its listener's idle timeout.
TEST_F(RouterProxyTest, EachListenerHasItsOwnTimeoutsAndBodyLimit) {
  auto t = table(0);
  Listener strict = t.listeners[0];
  strict.service = "strict";
  strict.port = 0;
  for (auto& v : strict.versions) {
    for (auto& in : v.instances) in.id = "strict-" + in.id;
  }
  strict.limits.max_body_bytes = 1000;
  strict.limits.header_timeout = Duration{200};
  strict.limits.idle_timeout = Duration{300};
  t.listeners[0].limits.header_timeout = Duration{60'000};
  t.listeners.push_back(strict);
  ASSERT_TRUE(router_->setTable(t));
  const int strict_port = *router_->boundPort("strict.test");

  const std::string post = "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n" +
                           std::string(1001, 'b');
  RawClient refused(strict_port);
  ASSERT_TRUE(refused.send(post));
  EXPECT_THAT(refused.readUntilClose(5s), StartsWith("HTTP/1.1 413"));
  RawClient relayed(port_);
  ASSERT_TRUE(relayed.send(post));
  EXPECT_THAT(relayed.readUntil("\r\n\r\n", 5s), StartsWith("HTTP/1.1 200"));

  RawClient slow_strict(strict_port);
  RawClient slow_lenient(port_);
  ASSERT_TRUE(slow_strict.send("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  ASSERT_TRUE(slow_lenient.send("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  EXPECT_THAT(slow_strict.readUntilClose(5s), StartsWith("HTTP/1.1 408"));
  // The lenient listener's header timeout is a minute: its client is still waiting, and
  // finishing the header gets it served.
  ASSERT_TRUE(slow_lenient.send("1\r\n\r\n"));
  EXPECT_THAT(slow_lenient.readUntil("\r\n\r\n", 5s), StartsWith("HTTP/1.1 200"));

  RawClient idle(strict_port);
  ASSERT_TRUE(idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_THAT(idle.readUntil("\r\n\r\n", 5s), StartsWith("HTTP/1.1 200"));
  // Closed without another response once idle past 300 ms (the default would be a minute).
  EXPECT_THAT(idle.readUntilClose(5s), Not(HasSubstr("HTTP/1.1")));
  EXPECT_TRUE(idle.closed());
}

// The access log through the router: a line per request with its version, instance, status,
// sizes and request id, refusals included; never the Authorization or Cookie values.
TEST_F(RouterProxyTest, WritesAnAccessLogWithoutSecrets) {
  test::TempDir dir;
  const auto path = (dir / "access.log").string();
  auto t = table(0);
  t.settings.access_log = AccessLogSettings{path, 1 << 20, 2};
  ASSERT_TRUE(router_->setTable(t));
  auto r = test::httpRequest(url("/echo"), "GET", "",
                             {{"Authorization", "Bearer secret-token-1"},
                              {"Cookie", "session=secret-cookie-2"},
                              {"X-Request-Id", "log-me-1"}});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->status, 200);
  RawClient refused(port_);
  ASSERT_TRUE(refused.send("POST /body HTTP/1.1\r\nHost: x\r\nX-Request-Id: log-me-2\r\n"
                           "Content-Length: 2000000\r\n\r\n"));
  EXPECT_THAT(refused.readUntilClose(5s), StartsWith("HTTP/1.1 413"));
  // Lines reach the file within the workers' 250 ms flush.
  std::vector<boost::json::object> lines;
  ASSERT_TRUE(test::pollUntil(
      [&] {
        lines.clear();
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) {
          lines.push_back(boost::json::parse(line).as_object());
        }
        return lines.size() >= 2;
      },
      test::deadlineIn(5s)));
  auto line = [&](std::string_view id) -> const boost::json::object* {
    for (const auto& l : lines) {
      if (l.at("request_id").as_string() == id) return &l;
    }
    return nullptr;
  };
  const auto* ok = line("log-me-1");
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->at("listener").as_string(), kListener);
  EXPECT_EQ(ok->at("client").as_string(), "127.0.0.1");
  EXPECT_EQ(ok->at("method").as_string(), "GET");
  EXPECT_EQ(ok->at("target").as_string(), "/echo");
  EXPECT_EQ(ok->at("status").as_int64(), 200);
  EXPECT_EQ(ok->at("version").as_string(), "v1");
  EXPECT_THAT(std::string(ok->at("instance").as_string()), ::testing::StartsWith("v1-"));
  EXPECT_GT(ok->at("bytes_in").as_int64(), 50);
  // The echo's body lists the request's headers: out is more than in.
  EXPECT_GT(ok->at("bytes_out").as_int64(), ok->at("bytes_in").as_int64());
  EXPECT_GE(ok->at("duration_ms").as_double(), 0.0);
  const auto* big = line("log-me-2");
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->at("status").as_int64(), 413);
  EXPECT_EQ(big->at("target").as_string(), "/body");
  const auto text = test::readFile(path);
  ASSERT_TRUE(text);
  EXPECT_THAT(*text, Not(HasSubstr("secret-token-1")));
  EXPECT_THAT(*text, Not(HasSubstr("secret-cookie-2")));
  // Turned off: no more lines.
  ASSERT_TRUE(router_->setTable(table(0)));
  expectServed();
  EXPECT_EQ(test::readFile(path).value_or(""), *text);
}

TEST_F(RouterProxyTest, KeepsClientConnectionsAlive) {
  test::HttpClient client;
  for (int i = 0; i < 20; ++i) {
    auto r = client.get(url("/"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
  }
  RawClient c(port_);
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto two = c.readUntil("HTTP/1.1 200", 5s);
  EXPECT_THAT(two, StartsWith("HTTP/1.1 200"));
  EXPECT_FALSE(c.closed());
}

TEST_F(RouterProxyTest, SendsABodylessRequestAgainWhenItsPooledConnectionWasClosed) {
  // /close-after answers as if the connection stayed open, then closes it: every request after
  // the first finds its pooled connection closed by the upstream. A GET is taken from the pool
  // without a check, so it fails there with nothing received and is sent again on a new
  // connection; the client sees no error and the statistics count none.
  ASSERT_TRUE(router_->setTable(table(1000)));
  test::HttpClient client;
  for (int i = 0; i < 20; ++i) {
    auto r = client.get(url("/close-after"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
  }
  // A response can reach the client just before the router counts it: wait for the count.
  std::uint64_t ok = 0;
  EXPECT_TRUE(test::pollUntil(
      [&] {
        const auto stats = router_->stats(Duration{60'000});
        const auto* v2 = stats.find(kListener, "v2");
        if (v2 == nullptr) return false;
        const auto it = v2->total.by_code.find(200);
        ok = it == v2->total.by_code.end() ? 0 : it->second;
        return ok == 20u;
      },
      test::deadlineIn(10s)))
      << ok;
  const auto stats = router_->stats(Duration{60'000});
  const auto* v2 = stats.find(kListener, "v2");
  ASSERT_NE(v2, nullptr);
  EXPECT_EQ(v2->total.upstream_errors, 0u);
  EXPECT_EQ(v2->total.router_errors, 0u);
}

TEST_F(RouterProxyTest, Answers503WhenTheVersionHasNoReadyInstance) {
  auto t = table(1000);
  t.listeners[0].versions[1].instances[0].state = InstanceState::NotReady;
  t.listeners[0].versions[0].weight_permille = 0;
  ASSERT_TRUE(router_->setTable(t));
  auto r = test::httpGet(url("/"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 503);
  const auto stats = router_->stats(Duration{60'000});
  const auto* v2 = stats.find(kListener, "v2");
  ASSERT_NE(v2, nullptr);
  EXPECT_EQ(v2->total.router_errors, 1u);
  EXPECT_EQ(v2->total.by_code.at(503), 1u);
}

TEST_F(RouterProxyTest, Answers502WhenNoInstanceAcceptsAndRetriesOtherInstances) {
  // v1-b is down: connect failures sent nothing, so every request moves on to v1-a.
  v1b_.stop();
  auto t = table(0);
  ASSERT_TRUE(router_->setTable(t));
  for (int i = 0; i < 20; ++i) {
    auto r = test::httpGet(url("/"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "v1-a");
  }
  auto stats = router_->stats(Duration{60'000});
  ASSERT_NE(stats.find(kListener, "v1"), nullptr);
  EXPECT_GE(stats.find(kListener, "v1")->instances.at("v1-b").upstream_errors, 5u);
  v1a_.stop();
  auto r = test::httpGet(url("/"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 502);
  stats = router_->stats(Duration{60'000});
  EXPECT_EQ(stats.find(kListener, "v1")->total.router_errors, 1u);
}

TEST_F(RouterProxyTest, Answers504WhenTheUpstreamIsTooSlow) {
  auto t = table(1000);
  t.listeners[0].limits.request_timeout = Duration{300};  // the backend's /slow takes 1.5 s
  ASSERT_TRUE(router_->setTable(t));
  auto r = test::httpGet(url("/slow"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 504);
  const auto stats = router_->stats(Duration{60'000});
  EXPECT_EQ(stats.find(kListener, "v2")->total.by_code.at(504), 1u);
  EXPECT_EQ(stats.find(kListener, "v2")->total.upstream_errors, 1u);
}

TEST_F(RouterProxyTest, SplitsTrafficByWeight) {
  ASSERT_TRUE(router_->setTable(table(100)));
  test::HttpClient client;
  int v2 = 0;
  constexpr int kRequests = 10'000;
  for (int i = 0; i < kRequests; ++i) {
    auto r = client.get(url("/"));
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->status, 200);
    if (r->body == "v2-a") ++v2;
  }
  EXPECT_GE(v2, kRequests * 8 / 100);
  EXPECT_LE(v2, kRequests * 12 / 100);
  // Round robin inside v1.
  EXPECT_GT(v1a_.requests(), kRequests * 35 / 100);
  EXPECT_GT(v1b_.requests(), kRequests * 35 / 100);
  // The router records a request once its last byte is written: the client can be faster.
  StatsReport stats;
  EXPECT_TRUE(test::pollUntil(
      [&] {
        stats = router_->stats(Duration{60'000});
        const auto* s1 = stats.find(kListener, "v1");
        const auto* s2 = stats.find(kListener, "v2");
        return s1 != nullptr && s2 != nullptr &&
               s1->total.requests + s2->total.requests == static_cast<std::uint64_t>(kRequests);
      },
      test::deadlineIn(5s)));
  ASSERT_NE(stats.find(kListener, "v2"), nullptr);
  EXPECT_EQ(stats.find(kListener, "v2")->total.requests, static_cast<std::uint64_t>(v2));
  EXPECT_EQ(stats.find(kListener, "v1")->total.by_class[2],
            static_cast<std::uint64_t>(kRequests - v2));
  EXPECT_GT(stats.find(kListener, "v1")->total.latency.p99_ms, 0.0);
}

TEST_F(RouterProxyTest, HeaderAndCookieRulesAndStickySessions) {
  auto t = table(0);
  t.listeners[0].rules.push_back(
      MatchRule{MatchSource::Header, "X-Canary", MatchKind::Exact, "always", "v2"});
  t.listeners[0].rules.push_back(
      MatchRule{MatchSource::Cookie, "group", MatchKind::Regex, "beta-[0-9]+", "v2"});
  ASSERT_TRUE(router_->setTable(t));
  auto h = test::httpRequest(url("/"), "GET", "", {{"x-canary", "always"}});
  ASSERT_TRUE(h);
  EXPECT_EQ(h->body, "v2-a");
  auto c = test::httpRequest(url("/"), "GET", "", {{"Cookie", "a=b; group=beta-42"}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->body, "v2-a");
  auto miss = test::httpRequest(url("/"), "GET", "", {{"Cookie", "group=beta-x"}});
  ASSERT_TRUE(miss);
  EXPECT_THAT(miss->body, StartsWith("v1"));

  t = table(500);
  t.listeners[0].sticky = StickySession{"rw-version", Duration{60'000}};
  ASSERT_TRUE(router_->setTable(t));
  auto first = test::httpGet(url("/"));
  ASSERT_TRUE(first);
  const auto cookie = first->header("set-cookie");
  ASSERT_TRUE(cookie.has_value());
  const std::string version = first->body == "v2-a" ? "v2" : "v1";
  EXPECT_THAT(*cookie, StartsWith("rw-version=" + version + ";"));
  for (int i = 0; i < 30; ++i) {
    auto again = test::httpRequest(url("/"), "GET", "", {{"Cookie", "rw-version=" + version}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->body == "v2-a" ? "v2" : "v1", version);
    EXPECT_FALSE(again->header("set-cookie").has_value());
  }
}

// Issue 20's acceptance: 1,000 clients with cookies each see one version across 20 requests
// while the canary's weight moves from 10 to 50 %, and requests carrying the A/B header reach
// the canary whatever their cookie says.
TEST_F(RouterProxyTest, StickyClientsKeepTheirVersionWhileTheWeightMoves) {
  constexpr std::size_t kClients = 1000;
  constexpr int kRounds = 20;
  constexpr std::size_t kThreads = 8;
  auto sticky = [&](std::uint32_t v2_permille) {
    auto t = table(v2_permille);
    t.listeners[0].sticky = StickySession{"rw-version", Duration{600'000}};
    t.listeners[0].rules.push_back(
        MatchRule{MatchSource::Header, "X-Canary", MatchKind::Exact, "always", "v2"});
    return t;
  };
  ASSERT_TRUE(router_->setTable(sticky(100)));

  std::vector<std::string> seen(kClients);   // the version each client saw first
  std::vector<std::string> cookie(kClients);  // what its Set-Cookie said
  std::atomic<int> done{0};
  std::atomic<int> header_requests{0};
  std::mutex mu;
  std::vector<std::string> problems;
  auto problem = [&](std::string what) {
    std::lock_guard lock(mu);
    if (problems.size() < 10) problems.push_back(std::move(what));
  };
  auto versionOf = [](const std::string& body) { return body == "v2-a" ? "v2" : "v1"; };
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      test::HttpClient client;
      for (int round = 0; round < kRounds; ++round) {
        for (std::size_t c = t; c < kClients; c += kThreads) {
          test::HttpRequest req{url("/"), "GET", "", {}, std::chrono::seconds(10)};
          if (round > 0) req.headers.push_back({"Cookie", "session=" + std::to_string(c) + "; " + cookie[c]});
          auto r = client.request(req);
          if (!r || r->status != 200) {
            problem("client " + std::to_string(c) + ": " + (r ? std::to_string(r->status) : r.error().message));
            continue;
          }
          const auto set_cookie = r->header("set-cookie");
          if (round == 0) {
            seen[c] = versionOf(r->body);
            if (!set_cookie) {
              problem("client " + std::to_string(c) + ": no Set-Cookie on its first response");
            } else {
              cookie[c] = set_cookie->substr(0, set_cookie->find(';'));
              if (cookie[c] != "rw-version=" + seen[c]) problem("client " + std::to_string(c) + ": " + *set_cookie);
            }
          } else if (versionOf(r->body) != seen[c]) {
            problem("client " + std::to_string(c) + " saw " + seen[c] + ", then " + r->body + " in round " +
                    std::to_string(round));
          } else if (set_cookie) {
            problem("client " + std::to_string(c) + " got a new cookie: " + *set_cookie);
          }
          done++;
          // Now and then a request with the A/B header (and a cookie for v1): always the canary.
          if (c % 50 == 0) {
            auto h = client.request({url("/"), "GET", "", {{"X-Canary", "always"}, {"Cookie", "rw-version=v1"}},
                                     std::chrono::seconds(10)});
            if (!h || h->body != "v2-a") problem("header-matched request got " + (h ? h->body : h.error().message));
            header_requests++;
          }
        }
      }
    });
  }
  // The weight moves from 10 % to 50 % in 2 % steps while the clients run.
  std::uint32_t weight = 100;
  while (weight < 500) {
    const int target = static_cast<int>((weight - 100) / 20 + 1) * (static_cast<int>(kClients) * kRounds / 21);
    test::pollUntil([&] { return done.load() >= target; }, test::deadlineIn(30s));
    weight += 20;
    ASSERT_TRUE(router_->setTable(sticky(weight)));
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(problems, ::testing::IsEmpty());
  EXPECT_EQ(done.load(), static_cast<int>(kClients) * kRounds);
  EXPECT_EQ(header_requests.load(), kRounds * static_cast<int>(kClients) / 50);
  const auto v2_clients = std::count(seen.begin(), seen.end(), "v2");
  // Their first requests met weights near 10 %.
  EXPECT_GT(v2_clients, static_cast<std::ptrdiff_t>(kClients * 4 / 100));
  EXPECT_LT(v2_clients, static_cast<std::ptrdiff_t>(kClients * 25 / 100));
  // And new users now meet 50 %.
  int fresh_v2 = 0;
  test::HttpClient client;
  for (int i = 0; i < 400; ++i) {
    auto r = client.get(url("/"));
    ASSERT_TRUE(r);
    if (r->body == "v2-a") ++fresh_v2;
  }
  EXPECT_GT(fresh_v2, 400 * 35 / 100);
  EXPECT_LT(fresh_v2, 400 * 65 / 100);
}

TEST_F(RouterProxyTest, DrainedInstanceGetsNoNewRequests) {
  ASSERT_TRUE(router_->setTable(table(0)));
  ASSERT_TRUE(router_->drain("v1-b"));
  EXPECT_EQ(router_->table().listeners[0].versions[0].instances[1].state, InstanceState::Draining);
  const int before = v1b_.requests();
  for (int i = 0; i < 20; ++i) {
    auto r = test::httpGet(url("/"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "v1-a");
  }
  EXPECT_EQ(v1b_.requests(), before);
  auto missing = router_->drain("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
}

// Graceful draining per instance: an instance removed from the table while a request is on it
// takes no new request, finishes the one it has, and the statistics and metrics show it
// "draining" with its open connection until the request ends and its connection closes; then
// it is "removed" with nothing open.
TEST_F(RouterProxyTest, ARemovedInstanceDrainsVisiblyInStats) {
  auto t = table(0);
  t.listeners[0].versions[0].instances = {instanceOf(v1a_)};
  ASSERT_TRUE(router_->setTable(t));
  RawClient slow(port_);
  ASSERT_TRUE(slow.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto v1a = [&] {
    const auto stats = router_->stats(Duration{60'000});
    const auto* v = stats.find(kListener, "v1");
    TrafficCounts c;
    if (v != nullptr && v->instances.count("v1-a") != 0) c = v->instances.at("v1-a");
    return c;
  };
  ASSERT_TRUE(test::pollUntil([&] { return v1a().in_flight == 1; }, test::deadlineIn(5s)));
  EXPECT_EQ(v1a().state, "ready");
  EXPECT_EQ(v1a().open_connections, 1);

  t.listeners[0].versions[0].instances = {instanceOf(v1b_)};
  ASSERT_TRUE(router_->setTable(t));
  const auto draining = v1a();
  EXPECT_EQ(draining.state, "draining");
  EXPECT_EQ(draining.in_flight, 1);
  EXPECT_EQ(draining.open_connections, 1);
  const auto metrics = router_->metrics();
  EXPECT_THAT(metrics, HasSubstr("runway_router_instance_draining{listener=\"shop.test\","
                                 "version=\"v1\",instance=\"v1-a\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("runway_router_instance_open_connections{listener=\"shop.test\","
                                 "version=\"v1\",instance=\"v1-a\"} 1\n"));
  // No new request reaches it.
  for (int i = 0; i < 10; ++i) {
    auto r = test::httpGet(url("/"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body, "v1-b");
  }
  // The request it had finishes; its connection is closed, not pooled.
  const auto reply = slow.readUntil("v1-a", 10s);
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(reply, HasSubstr("v1-a"));
  ASSERT_TRUE(test::pollUntil(
      [&] {
        const auto c = v1a();
        return c.state == "removed" && c.in_flight == 0 && c.open_connections == 0;
      },
      test::deadlineIn(5s)))
      << "state " << v1a().state << ", open " << v1a().open_connections;
  EXPECT_THAT(router_->metrics(), Not(HasSubstr("runway_router_instance_draining{listener=\"shop.test\","
                                                "version=\"v1\",instance=\"v1-a\"}")));
  // v1-b kept its pooled connection: ready, open.
  const auto stats = router_->stats(Duration{60'000});
  EXPECT_EQ(stats.find(kListener, "v1")->instances.at("v1-b").state, "ready");
  EXPECT_GE(stats.find(kListener, "v1")->instances.at("v1-b").open_connections, 1);
}

// --- TLS termination ---------------------------------------------------------------------

using test::runTool;
using test::TestCa;

// Replaces `to` by `from` in one step (rename), as a deployment tool would.
void installFile(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to + ".new", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(to + ".new", to);
}

// A TLS client connection made in the test, kept open across requests.
class TlsClient {
 public:
  TlsClient(int port, const std::string& ca_file) : ctx_(ssl::context::tls_client), stream_(ioc_, ctx_) {
    ctx_.load_verify_file(ca_file);
    ctx_.set_verify_mode(ssl::verify_peer);
    stream_.next_layer().connect(
        {boost::asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port)});
    stream_.handshake(ssl::stream_base::client);
  }
  // One GET on this connection; the status line and body.
  std::string get(const std::string& target) {
    namespace http = boost::beast::http;
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(stream_, req);
    http::response<http::string_body> res;
    http::read(stream_, buffer_, res);
    return std::to_string(res.result_int()) + " " + res.body();
  }

 private:
  boost::asio::io_context ioc_;
  ssl::context ctx_;
  ssl::stream<boost::asio::ip::tcp::socket> stream_;
  boost::beast::flat_buffer buffer_;
};

TEST_F(RouterProxyTest, TerminatesTlsAndReloadsTheCertificateKeepingConnections) {
  auto made = TestCa::make();
  ASSERT_TRUE(made) << made.error().message;
  const TestCa& ca = *made;
  ASSERT_TRUE(ca.issue("first", "runway-first"));
  ASSERT_TRUE(ca.issue("second", "runway-second"));
  test::TempDir live;
  const auto cert = (live / "tls.pem").string();
  const auto key = (live / "tls.key").string();
  installFile(ca.path("first.pem"), cert);
  installFile(ca.path("first.key"), key);
  auto t = table(0);
  t.listeners[0].tls = ListenerTls{cert, key};
  ASSERT_TRUE(router_->setTable(t));
  const std::string base = "https://127.0.0.1:" + std::to_string(port_);

  // curl trusts it through the test CA; the instance hears it came over https.
  auto curl = runTool({"curl", "-sSv", "--max-time", "10", "--cacert", ca.caFile(), base + "/echo"});
  ASSERT_EQ(curl.code, 0) << curl.output;
  EXPECT_THAT(curl.output, HasSubstr("X-Forwarded-Proto: https"));
  // Plain HTTP on the TLS port is not served.
  const auto plain = test::httpGet(url("/"), 2s);
  EXPECT_TRUE(!plain || plain->status != 200);

  // ALPN http/1.1, TLS 1.2 or later.
  auto alpn = runTool({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port_),
                       "-alpn", "http/1.1", "-CAfile", ca.caFile()});
  EXPECT_THAT(alpn.output, HasSubstr("ALPN protocol: http/1.1")) << alpn.output;
  EXPECT_THAT(alpn.output, HasSubstr("runway-first")) << alpn.output;
  EXPECT_THAT(alpn.output, HasSubstr("Verify return code: 0 (ok)")) << alpn.output;
  auto old_tls = runTool({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port_),
                          "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-brief"});
  EXPECT_NE(old_tls.code, 0) << old_tls.output;
  EXPECT_THAT(old_tls.output, HasSubstr("alert protocol version")) << old_tls.output;

  // An established connection, then new files: new connections get the new certificate within
  // the watcher's second, and the old connection goes on.
  TlsClient established(port_, ca.caFile());
  EXPECT_THAT(established.get("/"), StartsWith("200 v1-"));
  installFile(ca.path("second.key"), key);
  installFile(ca.path("second.pem"), cert);
  EXPECT_TRUE(test::pollUntil(
      [&] {
        return runTool({"openssl", "s_client", "-connect",
                        "127.0.0.1:" + std::to_string(port_), "-CAfile", ca.caFile(), "-brief"})
                   .output.find("runway-second") != std::string::npos;
      },
      test::deadlineIn(10s), 200ms));
  EXPECT_THAT(established.get("/"), StartsWith("200 v1-"));

  // A broken file at reload: logged, and the certificate in use stays.
  std::ofstream(cert, std::ios::trunc) << "not a certificate\n";
  router_->reloadTls();
  auto still = runTool({"curl", "-sS", "--max-time", "10", "--cacert", ca.caFile(), base + "/"});
  EXPECT_EQ(still.code, 0) << still.output;
  auto after = runTool({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port_),
                        "-CAfile", ca.caFile(), "-brief"});
  EXPECT_THAT(after.output, HasSubstr("runway-second")) << after.output;

  // A table naming files that cannot be used is refused, naming the file; the listener goes on
  // with what it had.
  auto bad = table(0);
  bad.listeners[0].tls = ListenerTls{(live / "missing.pem").string(), key};
  auto refused = router_->setTable(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("missing.pem"));
  EXPECT_EQ(router_->table().listeners[0].tls, (ListenerTls{cert, key}));
  EXPECT_THAT(established.get("/"), StartsWith("200 v1-"));
}

TEST_F(RouterProxyTest, AddsAndRemovesListeners) {
  auto t = table(0);
  Listener other = t.listeners[0];
  other.service = "other";
  other.port = 0;
  for (auto& v : other.versions) {
    for (auto& in : v.instances) in.id = "other-" + in.id;
  }
  t.listeners.push_back(other);
  ASSERT_TRUE(router_->setTable(t));
  const auto other_port = router_->boundPort("other.test");
  ASSERT_TRUE(other_port.has_value());
  auto r = test::httpGet("http://127.0.0.1:" + std::to_string(*other_port) + "/");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  t.listeners.pop_back();
  ASSERT_TRUE(router_->setTable(t));
  EXPECT_FALSE(router_->boundPort("other.test").has_value());
  EXPECT_TRUE(test::pollUntil(
      [&] { return !test::httpGet("http://127.0.0.1:" + std::to_string(*other_port) + "/", 1s); },
      test::deadlineIn(5s)));
  expectServed();
}

TEST_F(RouterProxyTest, RejectsATableWhoseAddressIsTaken) {
  auto t = table(0);
  Listener clash = t.listeners[0];
  clash.service = "clash";
  clash.port = static_cast<std::uint16_t>(v1a_.port());  // a backend holds it (no SO_REUSEPORT)
  clash.versions.clear();
  t.listeners.push_back(clash);
  auto r = router_->setTable(t);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Conflict);
  EXPECT_EQ(router_->table().listeners.size(), 1u);
  expectServed();
}

TEST_F(RouterProxyTest, NoFailedRequestAcrossAThousandWeightChangesUnderLoad) {
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::string first_failure;
  std::mutex mu;
  std::vector<std::thread> load;
  for (int i = 0; i < 4; ++i) {
    load.emplace_back([&] {
      test::HttpClient client;
      while (!stop.load()) {
        auto r = client.get(url("/"));
        if (r && r->status == 200) {
          ok++;
        } else {
          failed++;
          std::lock_guard lock(mu);
          if (first_failure.empty()) {
            first_failure = r ? std::to_string(r->status) + " " + r->body : r.error().message;
          }
        }
      }
    });
  }
  std::mt19937 rng(42);
  for (int i = 0; i < 1000; ++i) {
    auto t = table(static_cast<std::uint32_t>(rng() % 1001));
    t.revision = static_cast<std::uint64_t>(i);
    ASSERT_TRUE(router_->setTable(t));
    if (i % 10 == 0) {
      const int seen = ok.load();
      // Spread the changes over the load rather than letting them all happen at once.
      test::pollUntil([&] { return ok.load() > seen + 20; }, test::deadlineIn(5s));
    }
  }
  const int after = ok.load();
  test::pollUntil([&] { return ok.load() > after + 50; }, test::deadlineIn(5s));
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_GT(ok.load(), 2000);
}

// The statistics on the optional TCP listener (issue 20 point 4): what a scrape gets there is
// what promtool accepts; other paths and methods are refused.
TEST_F(RouterProxyTest, MetricsListenerServesWhatPromtoolAccepts) {
  auto t = table(100);
  t.settings.metrics_address = "127.0.0.1:0";
  ASSERT_TRUE(router_->setTable(t));
  const auto metrics_port = router_->boundMetricsPort();
  ASSERT_TRUE(metrics_port.has_value());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(test::httpGet(url("/")));
  const std::string base = "http://127.0.0.1:" + std::to_string(*metrics_port);
  // Requests are recorded once their last byte is written: the scrape may come first.
  test::HttpResponse scrape;
  ASSERT_TRUE(test::pollUntil(
      [&] {
        auto r = test::httpGet(base + "/metrics");
        if (!r || r->status != 200) return false;
        scrape = *r;
        return scrape.body.find("runway_router_requests_total{listener=\"shop.test\",version=\"v1\"") !=
               std::string::npos;
      },
      test::deadlineIn(5s)));
  EXPECT_THAT(scrape.header("content-type").value_or(""), StartsWith("text/plain; version=0.0.4"));
  EXPECT_THAT(scrape.body, HasSubstr("runway_router_request_duration_seconds_bucket"));
  const char* promtool = "/usr/bin/promtool";
  ASSERT_TRUE(std::filesystem::exists(promtool))
      << promtool << " is missing: run scripts/install-deps.sh (Debian package prometheus)";
  test::TempDir dir;
  const auto file = dir.path() / "metrics.txt";
  std::ofstream(file) << scrape.body;
  const std::string cmd = std::string(promtool) + " check metrics < " + file.string() + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << scrape.body;

  auto other = test::httpGet(base + "/stats");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  auto post = test::httpRequest(base + "/metrics", "POST", "x");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  // The same address in the next table keeps the listener; none closes it.
  ASSERT_TRUE(router_->setTable(t));
  EXPECT_EQ(router_->boundMetricsPort(), metrics_port);
  ASSERT_TRUE(router_->setTable(table(100)));
  EXPECT_FALSE(router_->boundMetricsPort().has_value());
  EXPECT_TRUE(test::pollUntil([&] { return !test::httpGet(base + "/metrics", 1s); },
                              test::deadlineIn(5s)));
  expectServed();
}

TEST_F(RouterProxyTest, TableWithABadMetricsAddressIsRefused) {
  auto t = table(100);
  t.settings.metrics_address = "localhost:9464";
  auto r = router_->setTable(t);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("settings.metrics_address: \"localhost:9464\": the host must be a numeric IP address"));
  t.settings.metrics_address = "127.0.0.1:" + std::to_string(v1a_.port());  // a backend holds it
  r = router_->setTable(t);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Conflict);
  EXPECT_FALSE(router_->boundMetricsPort().has_value());
  expectServed();
}

// The same Prometheus that scrapes the application scrapes the router: Debian's prometheus
// started on loopback with the metrics listener as a target.
TEST_F(RouterProxyTest, PrometheusScrapesTheMetricsListener) {
  const char* prometheus = "/usr/bin/prometheus";
  ASSERT_TRUE(std::filesystem::exists(prometheus))
      << prometheus << " is missing: run scripts/install-deps.sh (Debian package prometheus)";
  auto t = table(500);
  t.settings.metrics_address = "127.0.0.1:0";
  ASSERT_TRUE(router_->setTable(t));
  const auto metrics_port = router_->boundMetricsPort();
  ASSERT_TRUE(metrics_port.has_value());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(test::httpGet(url("/")));

  test::TempDir dir;
  auto port = test::freeLoopbackPort();
  ASSERT_TRUE(port) << port.error().message;
  const std::string address = "http://127.0.0.1:" + std::to_string(*port);
  std::ofstream(dir.path() / "prometheus.yml")
      << "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: runway-router\n"
         "    static_configs:\n      - targets: ['127.0.0.1:"
      << *metrics_port << "']\n";
  test::SubprocessOptions options;
  options.argv = {prometheus, "--config.file=" + (dir.path() / "prometheus.yml").string(),
                  "--storage.tsdb.path=" + (dir.path() / "data").string(),
                  "--web.listen-address=127.0.0.1:" + std::to_string(*port), "--log.level=warn"};
  options.stdout_to = test::Output::file(dir.path() / "prometheus.log");
  options.stderr_to = test::Output::file(dir.path() / "prometheus.log");
  auto prom = test::Subprocess::start(std::move(options));
  ASSERT_TRUE(prom) << prom.error().message;
  // Both versions' request counters, as Prometheus stored them from its scrapes.
  const std::string query =
      address + "/api/v1/query?query=sum%20by%20(version)%20(runway_router_requests_total%7B"
                "job%3D%22runway-router%22%2Clistener%3D%22shop.test%22%7D)%20%3E%200";
  std::string last;
  const bool scraped = test::pollUntil(
      [&] {
        auto r = test::httpGet(query, 2s);
        if (!r || r->status != 200) return false;
        last = r->body;
        return last.find("\"version\":\"v1\"") != std::string::npos &&
               last.find("\"version\":\"v2\"") != std::string::npos;
      },
      test::deadlineIn(60s), 200ms);  // Prometheus starts slowly on a loaded machine
  std::ifstream log(dir.path() / "prometheus.log");
  const std::string log_text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(scraped) << last << "\n" << log_text;
  auto up = test::httpGet(address + "/api/v1/query?query=up%7Bjob%3D%22runway-router%22%7D", 2s);
  ASSERT_TRUE(up);
  EXPECT_THAT(up->body, HasSubstr("\"value\":["));
  EXPECT_THAT(up->body, HasSubstr(",\"1\"]"));
}

}  // namespace
}  // namespace runway::router
