#include "metrics_listener.hpp"

#include <chrono>
#include <exception>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "awaitable.hpp"

namespace runway::router {
// The same aliases as the other files of the module (one unity batch may hold several).
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

namespace bhttp = beast::http;

constexpr auto kScrapeDeadline = std::chrono::seconds(5);

void logFailure(const char* what, const std::exception_ptr& e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("router: metrics {}: {}", what, ex.what());
  }
}

asio::awaitable<void> answerScrape(tcp::socket socket, std::shared_ptr<const MetricsListener::Render> render) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  bhttp::request_parser<bhttp::empty_body> parser;
  parser.header_limit(8 * 1024);
  stream.expires_after(kScrapeDeadline);
  // The header is all a scrape needs; a body (another method) is never read: the connection
  // closes after the answer.
  auto [rec, rn] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
  if (rec) co_return;  // the client went away, timed out or sent garbage: nothing to answer
  const auto& req = parser.get();
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  bhttp::response<bhttp::string_body> res;
  res.version(req.version());
  res.keep_alive(false);
  res.set(bhttp::field::server, "runway");
  if (path != "/metrics") {
    res.result(bhttp::status::not_found);
    res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    res.body() = "only /metrics is served here\n";
  } else if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
    res.result(bhttp::status::method_not_allowed);
    res.set(bhttp::field::allow, "GET, HEAD");
    res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    res.body() = "use GET\n";
  } else {
    res.result(bhttp::status::ok);
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = (*render)();
  }
  res.prepare_payload();
  if (req.method() == bhttp::verb::head) res.body().clear();
  stream.expires_after(kScrapeDeadline);
  // Nothing is left to do if the write fails: the connection ends either way.
  (void)co_await bhttp::async_write(stream, res, kTuple);
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> acceptScrapes(std::shared_ptr<tcp::acceptor> acceptor,
                                    std::shared_ptr<const MetricsListener::Render> render) {
  asio::steady_timer backoff(acceptor->get_executor());
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      spdlog::warn("router: accept on the metrics listener failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kTuple);
      continue;
    }
    asio::co_spawn(acceptor->get_executor(), answerScrape(std::move(socket), render),
                   [](const std::exception_ptr& e) { logFailure("scrape", e); });
  }
}

class MetricsListenerImpl final : public MetricsListener {
 public:
  MetricsListenerImpl(asio::io_context& ioc, std::shared_ptr<tcp::acceptor> acceptor)
      : ioc_(ioc), acceptor_(std::move(acceptor)), port_(acceptor_->local_endpoint().port()) {}
  ~MetricsListenerImpl() override { close(); }

  std::uint16_t port() const override { return port_; }

  void close() override {
    if (closed_) return;
    closed_ = true;
    asio::post(ioc_, [acceptor = acceptor_] {
      boost::system::error_code ignored;
      acceptor->close(ignored);
    });
  }

 private:
  asio::io_context& ioc_;
  std::shared_ptr<tcp::acceptor> acceptor_;
  std::uint16_t port_;
  bool closed_ = false;
};

}  // namespace

Result<std::unique_ptr<MetricsListener>> MetricsListener::start(asio::io_context& ioc,
                                                                const std::string& host,
                                                                std::uint16_t port, Render render) {
  auto acceptor = std::make_shared<tcp::acceptor>(ioc);
  boost::system::error_code ec;
  const tcp::endpoint ep(asio::ip::make_address(host, ec), port);
  if (!ec) acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(64, ec);
  if (ec) {
    return fail(ErrorCode::Conflict,
                fmt::format("metrics listener: cannot listen on {}:{}: {}", host, port, ec.message()));
  }
  auto shared_render = std::make_shared<const Render>(std::move(render));
  asio::post(ioc, [&ioc, acceptor, shared_render] {
    asio::co_spawn(ioc, acceptScrapes(acceptor, shared_render),
                   [](const std::exception_ptr& e) { logFailure("accept loop", e); });
  });
  return std::unique_ptr<MetricsListener>(std::make_unique<MetricsListenerImpl>(ioc, std::move(acceptor)));
}

}  // namespace runway::router
