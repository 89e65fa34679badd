#include "runway/runtime/health.hpp"

#include <exception>
#include <optional>
#include <thread>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include "runway/core/duration.hpp"

namespace runway::runtime {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);

std::string describe(const boost::system::error_code& ec, Duration timeout) {
  if (ec == beast::error::timeout) return "timed out after " + formatDuration(timeout);
  return ec.message();
}

asio::awaitable<ProbeResult> runProbe(ProbeRequest request) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(request.host, ec);
  if (ec) co_return ProbeResult{false, "invalid address " + request.host};
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(request.timeout);
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(request.port));
  if (auto [connect_ec] = co_await stream.async_connect(endpoint, kAsTuple); connect_ec) {
    co_return ProbeResult{false, describe(connect_ec, request.timeout)};
  }
  http::request<http::empty_body> req{http::verb::get, request.path, 11};
  req.set(http::field::host, fmt::format("{}:{}", request.host, request.port));
  req.set(http::field::user_agent, "runway-health");
  req.set(http::field::connection, "close");
  if (auto [write_ec, n] = co_await http::async_write(stream, req, kAsTuple); write_ec) {
    co_return ProbeResult{false, describe(write_ec, request.timeout)};
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  if (auto [read_ec, n] = co_await http::async_read(stream, buffer, parser, kAsTuple); read_ec) {
    co_return ProbeResult{false, describe(read_ec, request.timeout)};
  }
  const unsigned status = parser.get().result_int();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return ProbeResult{status >= 200 && status < 400, fmt::format("status {}", status)};
}

class HttpHealthProber final : public HealthProber {
 public:
  HttpHealthProber() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}

  ~HttpHealthProber() override {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  HttpHealthProber(const HttpHealthProber&) = delete;
  HttpHealthProber& operator=(const HttpHealthProber&) = delete;

  // HealthProber
  void probe(const ProbeRequest& request, std::function<void(ProbeResult)> done) override {
    asio::co_spawn(io_, runProbe(request),
                   [done = std::move(done)](std::exception_ptr error, ProbeResult result) {
                     if (error) {
                       try {
                         std::rethrow_exception(error);
                       } catch (const std::exception& e) {
                         done(ProbeResult{false, std::string("probe failed: ") + e.what()});
                         return;
                       } catch (...) {
                         done(ProbeResult{false, "probe failed"});
                         return;
                       }
                     }
                     done(std::move(result));
                   });
  }

 private:
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<HealthProber> httpHealthProber() { return std::make_unique<HttpHealthProber>(); }

}  // namespace runway::runtime
