#include "runway/api/http_server.hpp"

#include <atomic>
#include <string>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/poll.hpp"

namespace runway::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class TokenTable final : public Authenticator {
 public:
  Result<Identity> authenticate(std::string_view token) override {
    if (token == "viewer-token") return Identity{"vera", {"viewer"}, "t1"};
    if (token == "deployer-token") return Identity{"dan", {"deployer", "tech-lead"}, "t2"};
    if (token == "admin-token") return Identity{"ada", {"admin"}, "t3"};
    return fail(ErrorCode::Unauthenticated, "unknown or revoked token");
  }
};

struct Reply {
  int status = 0;
  std::string body;
  std::string request_id;
  std::string content_type;
  std::string allow;
};

Reply send(std::uint16_t port, http::verb method, const std::string& target,
           const std::string& token = "", const std::string& body = "",
           const std::string& request_id = "") {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!request_id.empty()) req.set("X-Request-Id", request_id);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(10 * 1024 * 1024);
  beast::error_code ec;
  http::read(stream, buffer, parser, ec);
  Reply reply;
  if (ec) return reply;
  const auto& res = parser.get();
  reply.status = static_cast<int>(res.result_int());
  reply.body = res.body();
  reply.request_id = std::string(res["X-Request-Id"]);
  reply.content_type = std::string(res[http::field::content_type]);
  reply.allow = std::string(res[http::field::allow]);
  return reply;
}

std::string errorCode(const Reply& r) {
  auto v = boost::json::parse(r.body);
  return std::string(v.at("error").at("code").as_string());
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<Route> routes;
    routes.push_back({"GET", "/healthz", std::nullopt,
                      [](HttpRequest&) { return HttpResponse::json(200, R"({"status":"ok"})"); }});
    routes.push_back({"GET", "/api/v1/deployments/{id}", "viewer", [](HttpRequest& r) {
                        return HttpResponse::json(
                            200, boost::json::serialize(boost::json::object{
                                     {"id", r.params.at("id")}, {"who", r.identity->name},
                                     {"filter", r.query.count("env") != 0U ? r.query.at("env") : ""}}));
                      }});
    routes.push_back({"POST", "/api/v1/deployments", "deployer", [](HttpRequest& r) {
                        return HttpResponse::json(201, r.body);
                      }});
    routes.push_back({"POST", "/api/v1/boom", "admin", [](HttpRequest&) -> HttpResponse {
                        throw std::runtime_error("kaput");
                      }});
    routes.push_back({"GET", "/api/v1/events", "viewer", [this](HttpRequest&) {
                        HttpResponse r;
                        r.sse = std::make_shared<ThreeEvents>();
                        return r;
                      }});
    ServerOptions options;
    options.body_limit = 1024;
    auto server = startHttpServer(options, std::move(routes), std::make_shared<TokenTable>());
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
  }
  void TearDown() override { server_->stop(std::chrono::seconds(1)); }

  struct ThreeEvents final : SseSource {
    int sent = 0;
    std::optional<std::vector<SseEvent>> poll() override {
      if (sent == 3) return std::nullopt;
      ++sent;
      return std::vector<SseEvent>{{std::to_string(sent), "deployment", "line one\nline two"}};
    }
  };

  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, HealthNeedsNoTokenAndCarriesRequestId) {
  auto r = send(server_->port(), http::verb::get, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
  EXPECT_EQ(r.request_id.rfind("req-", 0), 0U) << r.request_id;
}

TEST_F(HttpServerTest, ClientRequestIdIsEchoed) {
  auto r = send(server_->port(), http::verb::get, "/healthz", "", "", "abc-123");
  EXPECT_EQ(r.request_id, "abc-123");
  auto weird = send(server_->port(), http::verb::get, "/healthz", "", "", "bad id with spaces");
  EXPECT_NE(weird.request_id, "bad id with spaces");
}

TEST_F(HttpServerTest, UnknownPathIsJsonNotFound) {
  auto r = send(server_->port(), http::verb::get, "/api/v1/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(errorCode(r), "not_found");
  EXPECT_EQ(r.content_type, "application/json");
  auto v = boost::json::parse(r.body);
  EXPECT_EQ(v.at("error").at("requestId").as_string(), r.request_id);
}

TEST_F(HttpServerTest, WrongMethodIs405) {
  auto r = send(server_->port(), http::verb::delete_, "/healthz");
  EXPECT_EQ(r.status, 405);
}

// RFC 9110: a 405 names the methods the resource has (Schemathesis's unsupported_method check
// found none).
TEST_F(HttpServerTest, A405NamesTheAllowedMethods) {
  auto r = send(server_->port(), http::verb::delete_, "/healthz");
  ASSERT_EQ(r.status, 405);
  EXPECT_EQ(r.allow, "GET");
}

TEST_F(HttpServerTest, MissingTokenIs401) {
  auto r = send(server_->port(), http::verb::get, "/api/v1/deployments/d1");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(errorCode(r), "unauthenticated");
}

TEST_F(HttpServerTest, UnknownTokenIs401) {
  auto r = send(server_->port(), http::verb::get, "/api/v1/deployments/d1", "stolen");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(errorCode(r), "unauthenticated");
}

TEST_F(HttpServerTest, ViewerCannotDeploy) {
  auto r = send(server_->port(), http::verb::post, "/api/v1/deployments", "viewer-token", "{}");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(errorCode(r), "permission_denied");
  EXPECT_NE(r.body.find("lacks the role \\\"deployer\\\""), std::string::npos) << r.body;
}

TEST_F(HttpServerTest, RolesAndPathParameters) {
  auto r = send(server_->port(), http::verb::get, "/api/v1/deployments/dep-7?env=prod%20east",
                "deployer-token");
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = boost::json::parse(r.body);
  EXPECT_EQ(v.at("id").as_string(), "dep-7");
  EXPECT_EQ(v.at("who").as_string(), "dan");
  EXPECT_EQ(v.at("filter").as_string(), "prod east");
  auto admin = send(server_->port(), http::verb::post, "/api/v1/deployments", "admin-token", "{\"a\":1}");
  EXPECT_EQ(admin.status, 201);
  EXPECT_EQ(admin.body, "{\"a\":1}");
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  auto r = send(server_->port(), http::verb::post, "/api/v1/deployments", "admin-token",
                std::string(5000, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(errorCode(r), "payload_too_large");
}

TEST_F(HttpServerTest, HandlerExceptionIs500WithRequestId) {
  auto r = send(server_->port(), http::verb::post, "/api/v1/boom", "admin-token", "");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(errorCode(r), "internal");
  EXPECT_EQ(r.body.find("kaput"), std::string::npos) << "internals must not leak: " << r.body;
}

TEST_F(HttpServerTest, ServerSentEventsStreamUntilSourceEnds) {
  auto r = send(server_->port(), http::verb::get, "/api/v1/events", "viewer-token");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/event-stream");
  EXPECT_EQ(r.body,
            "id: 1\nevent: deployment\ndata: line one\ndata: line two\n\n"
            "id: 2\nevent: deployment\ndata: line one\ndata: line two\n\n"
            "id: 3\nevent: deployment\ndata: line one\ndata: line two\n\n");
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  beast::flat_buffer buffer;
  for (int i = 0; i < 20; ++i) {
    http::request<http::string_body> req{http::verb::get, "/healthz", 11};
    req.set(http::field::host, "x");
    http::write(stream, req);
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 200U);
  }
  EXPECT_GE(server_->requestsServed(), 20U);
}

TEST_F(HttpServerTest, MalformedRequestIs400) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  const std::string junk = "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n";
  asio::write(socket, asio::buffer(junk));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(socket, buffer, res, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 400U);
}

// ---- the cap on concurrent event streams, with real connections ------------------------------

class EventStreamCapTest : public ::testing::Test {
 protected:
  struct Endless final : SseSource {
    std::optional<std::vector<SseEvent>> poll() override { return std::vector<SseEvent>{}; }
  };

  void SetUp() override {
    std::vector<Route> routes;
    routes.push_back({"GET", "/api/v1/events", "viewer", [](HttpRequest&) {
                        HttpResponse r;
                        r.sse = std::make_shared<Endless>();
                        return r;
                      }});
    ServerOptions options;
    options.max_event_streams = 2;
    options.event_stream_retry_after = std::chrono::seconds(7);
    options.sse_poll = std::chrono::milliseconds(10);
    options.sse_heartbeat = std::chrono::milliseconds(20);  // a closed client is noticed soon
    auto server = startHttpServer(options, std::move(routes), std::make_shared<TokenTable>());
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
  }
  void TearDown() override { server_->stop(std::chrono::seconds(1)); }

  // Opens a stream and reads its response header: the status line and headers as text.
  std::string open(tcp::socket& socket) {
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    const std::string req =
        "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer viewer-token\r\n\r\n";
    asio::write(socket, asio::buffer(req));
    asio::streambuf buf;
    boost::system::error_code ec;
    const auto n = asio::read_until(socket, buf, "\r\n\r\n", ec);
    if (ec) return "read failed: " + ec.message();
    return std::string(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n));
  }

  asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(EventStreamCapTest, OneStreamOverTheCapIs503WithRetryAfterAndAStableCode) {
  tcp::socket first(io_), second(io_);
  EXPECT_EQ(open(first).rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(open(second).rfind("HTTP/1.1 200", 0), 0u);

  // The third: refused, as a whole response with a JSON body.
  asio::io_context io;
  beast::tcp_stream third(io);
  third.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  http::request<http::string_body> req{http::verb::get, "/api/v1/events", 11};
  req.set(http::field::host, "x");
  req.set(http::field::authorization, "Bearer viewer-token");
  http::write(third, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(third, buffer, res, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 503U);
  EXPECT_EQ(res[http::field::retry_after], "7");
  auto body = boost::json::parse(res.body());
  EXPECT_EQ(body.at("error").at("code").as_string(), "unavailable") << res.body();
  EXPECT_EQ(body.at("error").at("details").at("reason").as_string(), "too_many_event_streams") << res.body();
  EXPECT_EQ(body.at("error").at("details").at("limit").as_int64(), 2) << res.body();

  // A stream that ends gives its slot back.
  first.close();
  std::string last;
  EXPECT_TRUE(test::pollUntil(
      [&] {
        tcp::socket again(io_);
        last = open(again);
        return last.rfind("HTTP/1.1 200", 0) == 0;
      },
      test::deadlineIn(std::chrono::seconds(10))))
      << last;
}

TEST(RoleTest, Hierarchy) {
  Identity viewer{"v", {"viewer"}, ""};
  Identity deployer{"d", {"deployer"}, ""};
  Identity lead{"l", {"tech-lead"}, ""};
  Identity admin{"a", {"admin"}, ""};
  Identity nobody{"n", {}, ""};
  EXPECT_TRUE(hasRole(viewer, "viewer"));
  EXPECT_FALSE(hasRole(viewer, "deployer"));
  EXPECT_TRUE(hasRole(deployer, "viewer"));
  EXPECT_FALSE(hasRole(deployer, "tech-lead"));
  EXPECT_TRUE(hasRole(lead, "tech-lead"));
  EXPECT_TRUE(hasRole(lead, "viewer"));
  EXPECT_FALSE(hasRole(lead, "deployer"));
  EXPECT_TRUE(hasRole(admin, "product-manager"));
  EXPECT_FALSE(hasRole(nobody, "viewer"));
}

}  // namespace
}  // namespace runway::api
