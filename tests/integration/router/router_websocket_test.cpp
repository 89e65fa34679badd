// Upgrade tunnels through the router (issue 20 point 3): a WebSocket echo through the router
// keeps working across a weight change, new ones follow the new weights, and the statistics
// count the tunnels and their bytes.

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <list>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/router/router.hpp"
#include "support/poll.hpp"

namespace runway::router {
namespace {

namespace wsasio = boost::asio;
namespace websocket = boost::beast::websocket;
using WsTcp = wsasio::ip::tcp;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Reads and writes on `fd` give up after 10 s, so that a broken tunnel fails the test instead of
// hanging it.
void limitBlocking(int fd) {
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A WebSocket server answering each text message with "<name>:<message>"; a thread per
// connection.
class WebSocketEcho {
 public:
  explicit WebSocketEcho(std::string name) : name_(std::move(name)), acceptor_(ioc_) {
    const WsTcp::endpoint ep(wsasio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen(64);
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { acceptLoop(); });
  }

  ~WebSocketEcho() {
    stopped_ = true;
    // shutdown() wakes the blocked accept(); the acceptor is closed only once its thread is done
    // with it (closing it under accept() is a data race, which ThreadSanitizer reported).
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_thread_.join();
    boost::system::error_code ec;
    acceptor_.close(ec);
    {
      std::lock_guard lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
  }

  std::uint16_t port() const { return port_; }
  const std::string& name() const { return name_; }

 private:
  void acceptLoop() {
    for (;;) {
      boost::system::error_code ec;
      WsTcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec || stopped_) return;
      std::lock_guard lock(mu_);
      fds_.insert(socket.native_handle());
      threads_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  }

  void serve(WsTcp::socket socket) {
    limitBlocking(socket.native_handle());
    websocket::stream<WsTcp::socket> ws(std::move(socket));
    boost::system::error_code ec;
    ws.accept(ec);
    while (!ec) {
      boost::beast::flat_buffer in;
      ws.read(in, ec);
      if (ec) break;
      const std::string answer = name_ + ":" + boost::beast::buffers_to_string(in.data());
      ws.text(true);
      ws.write(wsasio::buffer(answer), ec);
    }
  }

  std::string name_;
  wsasio::io_context ioc_;
  WsTcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::set<int> fds_;
  std::list<std::thread> threads_;
};

// A WebSocket client of the router's listener.
class WebSocketClient {
 public:
  WebSocketClient(wsasio::io_context& ioc, std::uint16_t port) : ws_(ioc) {
    ws_.next_layer().connect({wsasio::ip::make_address("127.0.0.1"), port});
    limitBlocking(ws_.next_layer().native_handle());
    ws_.handshake("127.0.0.1:" + std::to_string(port), "/chat");
  }

  std::string echo(const std::string& message) {
    ws_.text(true);
    ws_.write(wsasio::buffer(message));
    boost::beast::flat_buffer in;
    ws_.read(in);
    return boost::beast::buffers_to_string(in.data());
  }

  void close() { ws_.close(websocket::close_code::normal); }

 private:
  websocket::stream<WsTcp::socket> ws_;
};

RoutingTable wsTable(const WebSocketEcho& a, const WebSocketEcho& b, std::uint32_t b_permille,
                     std::uint16_t port) {
  RoutingTable t;
  Listener l;
  l.service = "chat";
  l.environment = "test";
  l.port = port;
  l.versions.push_back(Version{"v1", 1000 - b_permille, {Instance{a.name(), "127.0.0.1", a.port(), InstanceState::Ready}}});
  l.versions.push_back(Version{"v2", b_permille, {Instance{b.name(), "127.0.0.1", b.port(), InstanceState::Ready}}});
  t.listeners.push_back(std::move(l));
  return t;
}

TEST(RouterWebSocketTest, EchoThroughTheRouterSurvivesAWeightChange) {
  WebSocketEcho a("a");
  WebSocketEcho b("b");
  RouterOptions options;
  options.threads = 2;
  auto started = Router::start(options);
  ASSERT_TRUE(started) << started.error().message;
  auto& router = **started;
  ASSERT_TRUE(router.setTable(wsTable(a, b, 0, 0)));
  const auto port = *router.boundPort("chat.test");
  ASSERT_TRUE(router.setTable(wsTable(a, b, 0, port)));

  wsasio::io_context ioc;
  WebSocketClient first(ioc, port);
  EXPECT_EQ(first.echo("hello"), "a:hello");
  // The weight moves to v2 entirely: the open tunnel stays with a, new ones go to b.
  for (std::uint32_t w = 100; w <= 1000; w += 100) {
    auto t = wsTable(a, b, w, port);
    t.revision = w;
    ASSERT_TRUE(router.setTable(t));
    EXPECT_EQ(first.echo("at " + std::to_string(w)), "a:at " + std::to_string(w));
  }
  WebSocketClient second(ioc, port);
  EXPECT_EQ(second.echo("hi"), "b:hi");
  EXPECT_EQ(first.echo(std::string(100'000, 'x')), "a:" + std::string(100'000, 'x'));

  const std::string v1 = "listener=\"chat.test\",version=\"v1\"";
  const std::string v2 = "listener=\"chat.test\",version=\"v2\"";
  // The router counts a relayed piece when its write has completed, which may be just after the
  // client has read it: wait for the counts to include the big echo.
  std::string metrics;
  const auto counted = [&](const std::string& labels, const char* direction, double above) {
    const std::string key =
        "runway_router_tunnel_bytes_total{" + labels + ",direction=\"" + direction + "\"} ";
    const auto at = metrics.find(key);
    return at != std::string::npos && std::stod(metrics.substr(at + key.size())) > above;
  };
  EXPECT_TRUE(test::pollUntil(
      [&] {
        metrics = router.metrics();
        return counted(v1, "to_upstream", 100'000.0) && counted(v1, "to_client", 100'000.0) &&
               counted(v2, "to_client", 0.0);
      },
      test::deadlineIn(std::chrono::seconds(10))));
  EXPECT_THAT(metrics, HasSubstr("runway_router_upgraded_connections_total{" + v1 + "} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("runway_router_upgraded_connections_total{" + v2 + "} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("runway_router_open_tunnels{" + v1 + "} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("runway_router_requests_total{" + v1 + ",code=\"101\"} 1\n"));
  // Client to upstream: masked frames of every message, at least the 100,000 bytes of the big
  // one; the other way at least its echo.
  const auto bytes = [&](const std::string& labels, const char* direction) {
    const std::string key =
        "runway_router_tunnel_bytes_total{" + labels + ",direction=\"" + direction + "\"} ";
    const auto at = metrics.find(key);
    return at == std::string::npos ? -1.0 : std::stod(metrics.substr(at + key.size()));
  };
  EXPECT_GT(bytes(v1, "to_upstream"), 100'000.0);
  EXPECT_GT(bytes(v1, "to_client"), 100'000.0);
  EXPECT_GT(bytes(v2, "to_client"), 0.0);

  first.close();
  second.close();
  EXPECT_TRUE(test::pollUntil(
      [&] {
        metrics = router.metrics();
        return metrics.find("runway_router_open_tunnels{" + v1 + "} 0\n") != std::string::npos &&
               metrics.find("runway_router_open_tunnels{" + v2 + "} 0\n") != std::string::npos;
      },
      test::deadlineIn(10s)))
      << metrics;
}

}  // namespace
}  // namespace runway::router
