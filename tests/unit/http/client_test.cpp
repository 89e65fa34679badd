// runway::http, the one outbound HTTP client: its policy (http/https only, no redirects, no
// proxy from the environment, body caps, deadlines, no secrets in messages) and its per-call
// options (methods, credentials, Unix sockets, streams, kept connections), against a scripted
// server on loopback that records the raw requests it gets.

#include "runway/http/client.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "support/temp_dir.hpp"

namespace runway::http {
namespace {

using namespace std::chrono_literals;

// One accepted connection as the server saw it.
struct Connection {
  std::vector<std::string> requests;  // each raw request: head and body
};

// Answers each request on each connection with what `reply` returns for it (the raw request),
// until stopped. A reply may be a callback that writes for as long as it likes (a stream).
class ScriptedServer {
 public:
  using Writer = std::function<bool(const std::string&)>;  // false: the client went away
  using Reply = std::function<void(const std::string& request, const Writer& write)>;

  explicit ScriptedServer(Reply reply, std::string unix_path = "") : reply_(std::move(reply)) {
    if (unix_path.empty()) {
      fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
      socklen_t len = sizeof addr;
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
      port_ = ntohs(addr.sin_port);
    } else {
      fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      unix_path.copy(addr.sun_path, sizeof addr.sun_path - 1);
      EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    }
    EXPECT_EQ(::listen(fd_, 16), 0);
    thread_ = std::thread([this] { serve(); });
  }

  ~ScriptedServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    for (auto& t : handlers_) t.join();
    ::close(fd_);
  }

  std::string url(std::string_view path = "/") const { return fmt::format("http://127.0.0.1:{}{}", port_, path); }
  int port() const { return port_; }

  std::vector<Connection> connections() const {
    std::lock_guard lock(mu_);
    return connections_;
  }
  std::size_t requestCount() const {
    std::size_t n = 0;
    for (const auto& c : connections()) n += c.requests.size();
    return n;
  }

 private:
  void serve() {
    while (!stopping_) {
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      std::size_t index = 0;
      {
        std::lock_guard lock(mu_);
        index = connections_.size();
        connections_.emplace_back();
      }
      handlers_.emplace_back([this, client, index] { handle(client, index); });
    }
  }

  // Reads requests (head + Content-Length body) one after another on one connection.
  void handle(int client, std::size_t index) {
    std::string buffer;
    char chunk[4096];
    while (!stopping_) {
      const auto head_end = buffer.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::size_t length = 0;
        const auto lower = toLower(buffer.substr(0, head_end));
        if (const auto at = lower.find("content-length:"); at != std::string::npos) {
          length = std::strtoul(lower.c_str() + at + 15, nullptr, 10);
        }
        if (buffer.size() >= head_end + 4 + length) {
          const std::string request = buffer.substr(0, head_end + 4 + length);
          buffer.erase(0, request.size());
          {
            std::lock_guard lock(mu_);
            connections_[index].requests.push_back(request);
          }
          reply_(request, [client](const std::string& bytes) {
            return ::send(client, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
          });
          continue;
        }
      }
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const auto n = ::recv(client, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(client);
  }

  static std::string toLower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  Reply reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::vector<std::thread> handlers_;
  mutable std::mutex mu_;
  std::vector<Connection> connections_;
};

std::string response(int status, std::string_view body, std::string_view extra_headers = "") {
  return fmt::format("HTTP/1.1 {} X\r\nContent-Length: {}\r\n{}\r\n{}", status, body.size(), extra_headers, body);
}

ScriptedServer::Reply answer(int status, std::string body = "{}", std::string headers = "") {
  return [=](const std::string&, const ScriptedServer::Writer& write) { write(response(status, body, headers)); };
}

TEST(HttpClientTest, SendsMethodHeadersCredentialsAndBodyAndReadsTheResponse) {
  ScriptedServer server(answer(201, R"({"ok":true})", "X-Thing: a value \r\n"));
  Request request;
  request.method = "PATCH";
  request.url = server.url("/objects/1?x=1");
  request.body = R"({"a":1})";
  request.headers["Content-Type"] = "application/merge-patch+json";
  request.bearer_token = "sekrit-token";
  auto r = send(request);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, R"({"ok":true})");
  EXPECT_EQ(r->header("x-thing"), "a value");
  ASSERT_EQ(server.requestCount(), 1u);
  const auto raw = server.connections()[0].requests[0];
  EXPECT_TRUE(raw.starts_with("PATCH /objects/1?x=1 HTTP/1.1\r\n")) << raw;
  EXPECT_NE(raw.find("Authorization: Bearer sekrit-token\r\n"), std::string::npos);
  EXPECT_NE(raw.find("Accept: application/json\r\n"), std::string::npos);  // the default
  EXPECT_NE(raw.find("Content-Type: application/merge-patch+json\r\n"), std::string::npos);
  EXPECT_EQ(raw.find("Expect:"), std::string::npos);
  EXPECT_TRUE(raw.ends_with("\r\n\r\n{\"a\":1}"));

  for (const std::string method : {"PUT", "DELETE", "HEAD", "POST"}) {
    request.method = method;
    request.basic_user = "user";
    request.basic_password = "pass";
    request.bearer_token.clear();
    ASSERT_TRUE(send(request)) << method;
    const auto last = server.connections().back().requests.back();
    EXPECT_TRUE(last.starts_with(method + " /objects/1")) << last;
    EXPECT_NE(last.find("Authorization: Basic dXNlcjpwYXNz\r\n"), std::string::npos) << last;
  }
}

TEST(HttpClientTest, ARedirectIsAResponseNotFollowed) {
  ScriptedServer server(answer(302, "", "Location: http://127.0.0.1:1/elsewhere\r\n"));
  Request request;
  request.url = server.url("/old");
  auto r = send(request);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->header("location"), "http://127.0.0.1:1/elsewhere");
  EXPECT_EQ(server.requestCount(), 1u);
}

TEST(HttpClientTest, OnlyHttpAndHttpsAndKnownMethodsAreRequested) {
  for (const std::string url : {"file:///etc/passwd", "gopher://127.0.0.1:70/x", "dict://127.0.0.1/d",
                                "ftp://127.0.0.1/x", "not a url"}) {
    Request request;
    request.url = url;
    auto r = send(request);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument) << url;
  }
  ScriptedServer server(answer(200));
  Request request;
  request.url = server.url();
  request.method = "TRACE";
  auto r = send(request);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(server.requestCount(), 0u);
}

TEST(HttpClientTest, AProxyFromTheEnvironmentIsIgnored) {
  ScriptedServer server(answer(200, "direct"));
  ScriptedServer proxy(answer(200, "via the proxy"));
  const std::string proxy_url = fmt::format("http://127.0.0.1:{}", proxy.port());
  ::setenv("http_proxy", proxy_url.c_str(), 1);
  ::setenv("HTTP_PROXY", proxy_url.c_str(), 1);
  ::setenv("ALL_PROXY", proxy_url.c_str(), 1);
  ::unsetenv("NO_PROXY");
  ::unsetenv("no_proxy");
  Request request;
  request.url = server.url();
  auto r = send(request);
  ::unsetenv("http_proxy");
  ::unsetenv("HTTP_PROXY");
  ::unsetenv("ALL_PROXY");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "direct");
  EXPECT_EQ(proxy.requestCount(), 0u);
}

TEST(HttpClientTest, ABodyOverTheCapFailsOrIsCutWhenAsked) {
  ScriptedServer server(answer(200, std::string(5000, 'x')));
  Request request;
  request.url = server.url("/big?token=sekrit");
  request.max_body = 1000;
  auto r = send(request);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::PayloadTooLarge);
  request.truncate_body = true;
  r = send(request);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, std::string(1000, 'x'));
}

TEST(HttpClientTest, MessagesNameTheTargetWithoutUserInfoOrQuery) {
  ScriptedServer server(answer(200));
  const int dead_port = server.port();
  Request request;
  request.url = fmt::format("http://alice:pa55word@127.0.0.1:{}/path?api_key=sekrit", 1);
  auto r = send(request);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Unavailable);
  EXPECT_NE(r.error().message.find("GET http://127.0.0.1:1/path"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("sekrit"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("pa55word"), std::string::npos) << r.error().message;
  request.log_name = "Slack channel #deploys";
  request.url = fmt::format("http://127.0.0.1:{}/services/T/B/SECRET", dead_port);
  request.max_body = 1;
  r = send(request);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("Slack channel #deploys"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("SECRET"), std::string::npos) << r.error().message;
}

TEST(HttpClientTest, ASilentServerTimesOut) {
  ScriptedServer server([](const std::string&, const ScriptedServer::Writer&) {});  // never answers
  Request request;
  request.url = server.url();
  request.timeout = 200ms;
  auto r = send(request);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Timeout);
}

TEST(HttpClientTest, AStreamDeliversPiecesAndEndsWhenAskedWithoutAnError) {
  std::atomic<bool> client_gone{false};
  ScriptedServer server([&](const std::string&, const ScriptedServer::Writer& write) {
    write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 2000 && !client_gone; ++i) {
      const auto piece = fmt::format("data: {}\n\n", i);
      if (!write(fmt::format("{:x}\r\n{}\r\n", piece.size(), piece))) break;
      std::this_thread::sleep_for(5ms);  // the server's pace, not a wait in the test
    }
    client_gone = true;
  });
  Request request;
  request.url = server.url("/events");
  request.timeout = Duration::zero();
  std::string received;
  auto r = stream(request, [&](std::string_view piece) {
    received.append(piece);
    return received.find("data: 3\n") == std::string::npos;  // enough
  }, [] { return true; });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(received.find("data: 0\n\ndata: 1\n\n"), std::string::npos) << received;
  EXPECT_TRUE(r->body.empty());  // a 2xx stream's body goes to on_data only

  // keep_going ends a stream that is waiting for its next piece.
  std::atomic<int> asked{0};
  r = stream(request, [](std::string_view) { return true; }, [&] { return ++asked < 3; });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GE(asked.load(), 3);
}

TEST(HttpClientTest, AStreamRefusedKeepsTheErrorBody) {
  ScriptedServer server(answer(403, R"({"kind":"Status","reason":"Forbidden"})"));
  Request request;
  request.url = server.url("/watch");
  request.timeout = Duration::zero();
  bool called = false;
  auto r = stream(request, [&](std::string_view) { return called = true; }, nullptr);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 403);
  EXPECT_FALSE(called);
  EXPECT_EQ(r->body, R"({"kind":"Status","reason":"Forbidden"})");
}

TEST(HttpClientTest, AConnectionIsKeptAcrossRequests) {
  ScriptedServer server(answer(200, "ok"));
  runway::http::Connection connection;
  Request request;
  request.url = server.url("/ping");
  for (int i = 0; i < 3; ++i) {
    auto r = connection.send(request);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body, "ok");
  }
  ASSERT_EQ(server.connections().size(), 1u);
  EXPECT_EQ(server.connections()[0].requests.size(), 3u);
  // send() opens a connection of its own each time.
  ASSERT_TRUE(send(request));
  ASSERT_TRUE(send(request));
  EXPECT_EQ(server.connections().size(), 3u);
}

TEST(HttpClientTest, AUnixSocketReplacesTheHost) {
  test::TempDir dir("runway-http");
  const auto path = (dir / "admin.sock").string();
  ScriptedServer server(answer(200, R"({"routes":[]})"), path);
  Request request;
  request.url = "http://runway-router/table";
  request.unix_socket = path;
  auto r = send(request);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, R"({"routes":[]})");
  ASSERT_EQ(server.requestCount(), 1u);
  EXPECT_NE(server.connections()[0].requests[0].find("Host: runway-router\r\n"), std::string::npos);
}

}  // namespace
}  // namespace runway::http
