#include "server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "metrics.hpp"

namespace runway::demo {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

constexpr auto kIdleTimeout = std::chrono::seconds(60);  // keep-alive connection, no request
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kBodyLimit = 64 * 1024;
constexpr auto kLingerTimeout = std::chrono::seconds(2);  // after answering a bad request
constexpr std::size_t kLingerLimit = 1024 * 1024;
constexpr int kCrashExitCode = 70;  // EX_SOFTWARE

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The fixed routes; anything else is "unmatched", which keeps metric label sets bounded.
enum class Route { Root, Leads, Health, Metrics, Unmatched };

std::string_view routeName(Route route) {
  switch (route) {
    case Route::Root:
      return "/";
    case Route::Leads:
      return "/api/leads";
    case Route::Health:
      return "/health";
    case Route::Metrics:
      return "/metrics";
    case Route::Unmatched:
      break;
  }
  return "unmatched";
}

Route classify(std::string_view path) {
  if (path == "/") return Route::Root;
  if (path == "/api/leads") return Route::Leads;
  if (path == "/health") return Route::Health;
  if (path == "/metrics") return Route::Metrics;
  return Route::Unmatched;
}

// The method as a metric label: the standard ones by name, anything else "OTHER".
std::string_view methodLabel(const Request& request) {
  if (request.method() == http::verb::unknown) return "OTHER";
  return request.method_string();
}

// A JSON string literal (with quotes) for arbitrary bytes of text.
std::string jsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

// A few fake insurance leads; the same for every request.
constexpr std::string_view kLeadsJson = R"([
  {"id":"lead-1001","name":"Ada Park","product":"auto","state":"CA","score":82,"monthlyPremium":118.40,"status":"new"},
  {"id":"lead-1002","name":"Bram Okafor","product":"home","state":"TX","score":67,"monthlyPremium":96.10,"status":"contacted"},
  {"id":"lead-1003","name":"Chen Wei","product":"life","state":"NY","score":91,"monthlyPremium":42.75,"status":"qualified"},
  {"id":"lead-1004","name":"Dana Ruiz","product":"renters","state":"FL","score":54,"monthlyPremium":17.90,"status":"new"},
  {"id":"lead-1005","name":"Emil Novak","product":"auto","state":"WA","score":73,"monthlyPremium":131.05,"status":"quoted"}
]
)";

// Randomness for injected faults. A single generator behind a mutex, so SEED makes the
// sequence of decisions reproducible for a given order of requests.
class FaultSource {
 public:
  explicit FaultSource(std::optional<std::uint64_t> seed) : rng_(seedFor(seed)) {}

  bool injectError(double rate) {
    if (rate <= 0.0) return false;
    std::lock_guard lock(mutex_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < rate;
  }

  // `base` scaled by a uniform factor in [0.8, 1.2].
  Clock::duration jittered(std::chrono::milliseconds base) {
    double factor = 1.0;
    {
      std::lock_guard lock(mutex_);
      factor = std::uniform_real_distribution<double>(0.8, 1.2)(rng_);
    }
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(static_cast<double>(base.count()) * factor));
  }

 private:
  static std::mt19937_64 seedFor(std::optional<std::uint64_t> seed) {
    if (seed) return std::mt19937_64(*seed);
    std::random_device device;
    std::seed_seq sequence{device(), device(), device(), device()};
    return std::mt19937_64(sequence);
  }

  std::mutex mutex_;
  std::mt19937_64 rng_;  // guarded by mutex_
};

// One accepted connection. `busy` and `closing` are only touched on the connection's strand.
struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool busy = false;     // a request has been read and its response is not yet written
  bool closing = false;  // shutting down: close after the current response, read no more
};

std::string formatEndpoint(const tcp::endpoint& endpoint) {
  if (endpoint.address().is_v6()) {
    return fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port());
  }
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

// Completion handler for co_spawn: a coroutine that ends with an exception is reported, not
// silently dropped.
struct ReportFailure {
  const char* what;
  void operator()(const std::exception_ptr& failure) const {
    if (!failure) return;
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "runway-demo-app: %s failed: %s\n", what, e.what());
    }
  }
};

bool isParseError(const boost::system::error_code& ec) {
  return &ec.category() == &http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

class ServerImpl final : public Server {
 public:
  explicit ServerImpl(Knobs knobs)
      : knobs_(std::move(knobs)),
        metrics_(knobs_.service, knobs_.version),
        faults_(knobs_.seed),
        threads_(knobs_.threads != 0
                     ? knobs_.threads
                     : std::clamp(std::thread::hardware_concurrency(), 2U, 4U)),
        ioc_(static_cast<int>(threads_)),
        acceptor_(asio::make_strand(ioc_)),
        signals_(ioc_, SIGTERM, SIGINT),
        drain_timer_(ioc_) {}

  ~ServerImpl() override {
    std::lock_guard lock(connections_mutex_);
    torn_down_ = true;
  }

  ServerImpl(const ServerImpl&) = delete;
  ServerImpl& operator=(const ServerImpl&) = delete;

  tl::expected<void, std::string> bind() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(knobs_.bind, ec);
    if (ec) return tl::unexpected(fmt::format("invalid bind address '{}'", knobs_.bind));
    const tcp::endpoint endpoint(address, knobs_.port);
    if (acceptor_.open(endpoint.protocol(), ec); ec) {
      return tl::unexpected(fmt::format("cannot open a socket: {}", ec.message()));
    }
    if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) {
      return tl::unexpected(fmt::format("cannot set SO_REUSEADDR: {}", ec.message()));
    }
    if (acceptor_.bind(endpoint, ec); ec) {
      return tl::unexpected(
          fmt::format("cannot bind {}: {}", formatEndpoint(endpoint), ec.message()));
    }
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
      return tl::unexpected(fmt::format("cannot listen: {}", ec.message()));
    }
    return {};
  }

  // Server
  std::string endpoint() const override {
    boost::system::error_code ec;
    return formatEndpoint(acceptor_.local_endpoint(ec));
  }

  void run() override {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (!ec) onSignal(signal);
    });
    asio::co_spawn(acceptor_.get_executor(), acceptLoop(), ReportFailure{"accept loop"});
    std::vector<std::thread> workers;
    workers.reserve(threads_ - 1);
    for (unsigned i = 1; i < threads_; ++i) {
      workers.emplace_back([this] { ioc_.run(); });
    }
    ioc_.run();
    for (auto& worker : workers) worker.join();
  }

 private:
  asio::awaitable<void> acceptLoop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), use_tuple);
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      if (ec) {
        // E.g. out of file descriptors: keep serving the open connections, retry shortly
        // rather than spinning.
        asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(50));
        co_await pause.async_wait(use_tuple);
        continue;
      }
      auto connection = std::make_shared<Connection>(std::move(socket));
      {
        std::lock_guard lock(connections_mutex_);
        connection->closing = stopping_;
        connections_.emplace(connection.get(), connection);
      }
      asio::co_spawn(connection->stream.get_executor(), serve(connection),
                     ReportFailure{"connection"});
    }
  }

  // Serves requests on one connection until the peer closes, an error, or shutdown.
  asio::awaitable<void> serve(std::shared_ptr<Connection> connection) {
    struct Unregister {
      ServerImpl* server;
      Connection* connection;
      ~Unregister() { server->unregister(connection); }
    } unregister{this, connection.get()};

    beast::flat_buffer buffer;
    auto& stream = connection->stream;
    while (!connection->closing) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(kBodyLimit);
      stream.expires_after(kIdleTimeout);
      auto [read_ec, read_bytes] = co_await http::async_read(stream, buffer, parser, use_tuple);
      if (read_ec) {
        if (isParseError(read_ec) && !connection->closing) {
          co_await answerBadRequest(read_ec, stream);
        }
        break;
      }
      connection->busy = true;
      metrics_.requestStarted();
      const auto started = Clock::now();
      Request request = parser.release();
      const std::string_view target = request.target();
      const Route route = classify(target.substr(0, target.find('?')));
      Response response = co_await respond(request, route);
      const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      metrics_.observe(methodLabel(request), routeName(route), response.result_int(), seconds);
      response.keep_alive(request.keep_alive() && !connection->closing);
      // Handled once its response exists: a client that has read a response never sees its own
      // request still counted in http_requests_in_flight by a later scrape on another connection.
      // (`busy` still covers the write, for the drain.)
      metrics_.requestFinished();
      stream.expires_after(kWriteTimeout);
      auto [write_ec, written] = co_await http::async_write(stream, response, use_tuple);
      connection->busy = false;
      countAnswered();
      if (write_ec || !response.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<void> answerBadRequest(const boost::system::error_code& ec,
                                         beast::tcp_stream& stream) {
    auto status = http::status::bad_request;
    if (ec == http::error::body_limit) status = http::status::payload_too_large;
    if (ec == http::error::header_limit) status = http::status::request_header_fields_too_large;
    Response response = baseResponse(status, 11);
    response.body() = fmt::format("{{\"error\":{}}}\n", jsonString(ec.message()));
    response.keep_alive(false);
    response.prepare_payload();
    metrics_.observe("OTHER", routeName(Route::Unmatched), response.result_int(), 0.0);
    stream.expires_after(kWriteTimeout);
    auto [write_ec, written] = co_await http::async_write(stream, response, use_tuple);
    if (write_ec) co_return;
    // Lingering close: the client may still be sending the rest of an oversized request.
    // Closing with unread data would make the kernel send a reset, which can destroy the
    // response before the client reads it; so stop sending, then read and discard (bounded in
    // time and size) until the client closes.
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(kLingerTimeout);
    std::array<char, 16 * 1024> sink{};
    std::size_t discarded = 0;
    while (discarded < kLingerLimit) {
      auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
      if (read_ec) break;
      discarded += n;
    }
  }

  Response baseResponse(http::status status, unsigned http_version) const {
    Response response{status, http_version};
    response.set(http::field::server, "runway-demo-app");
    response.set("X-Service", knobs_.service);
    response.set("X-Version", knobs_.version);
    response.set(http::field::content_type, "application/json");
    return response;
  }

  // Builds the response for one request, applying LATENCY_MS and ERROR_RATE to / and
  // /api/leads only.
  asio::awaitable<Response> respond(const Request& request, Route route) {
    const std::string_view target = request.target();

    Response response = baseResponse(http::status::ok, request.version());

    if (route != Route::Unmatched && request.method() != http::verb::get) {
      response.result(http::status::method_not_allowed);
      response.set(http::field::allow, "GET");
      response.body() = "{\"error\":\"method not allowed; use GET\"}\n";
      response.prepare_payload();
      co_return response;
    }

    if (route == Route::Root || route == Route::Leads) {
      if (knobs_.latency.count() > 0) {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_after(faults_.jittered(knobs_.latency));
        co_await timer.async_wait(use_tuple);
      }
      if (faults_.injectError(knobs_.error_rate)) {
        response.result(http::status::internal_server_error);
        response.body() = fmt::format("{{\"error\":\"injected failure\",\"errorRate\":{}}}\n",
                                      knobs_.error_rate);
        response.prepare_payload();
        co_return response;
      }
    }

    switch (route) {
      case Route::Root:
        response.body() = fmt::format(
            "{{\"service\":{},\"version\":{},\"endpoints\":[\"/\",\"/api/leads\",\"/health\","
            "\"/metrics\"]}}\n",
            jsonString(knobs_.service), jsonString(knobs_.version));
        break;
      case Route::Leads:
        response.body() = std::string(kLeadsJson);
        break;
      case Route::Health:
        if (knobs_.fail_health) {
          response.result(http::status::service_unavailable);
          response.body() = "{\"status\":\"failing\"}\n";
        } else {
          response.body() = "{\"status\":\"ok\"}\n";
        }
        break;
      case Route::Metrics:
        response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        response.body() = metrics_.render();
        break;
      case Route::Unmatched:
        response.result(http::status::not_found);
        response.body() =
            fmt::format("{{\"error\":\"not found\",\"path\":{}}}\n",
                        jsonString(target.substr(0, std::min<std::size_t>(target.size(), 200))));
        break;
    }
    response.prepare_payload();
    co_return response;
  }

  // CRASH_AFTER: once that many responses have been written, exit without any cleanup, as a
  // crashing service would.
  void countAnswered() {
    const auto answered = answered_.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (knobs_.crash_after != 0 && answered >= knobs_.crash_after) {
      std::fprintf(stderr, "runway-demo-app: crashing after %llu requests (CRASH_AFTER)\n",
                   static_cast<unsigned long long>(answered));
      std::fflush(stderr);
      std::_Exit(kCrashExitCode);
    }
  }

  void onSignal(int signal) {
    std::fprintf(stderr, "runway-demo-app: received %s; draining\n",
                 signal == SIGTERM ? "SIGTERM" : "SIGINT");
    // A second signal while draining gives up on in-flight requests.
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      std::fprintf(stderr, "runway-demo-app: second signal; exiting without draining\n");
      ioc_.stop();
    });
    asio::post(acceptor_.get_executor(), [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
    });
    drain_timer_.expires_after(knobs_.drain_timeout);
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      std::fprintf(stderr, "runway-demo-app: drain timeout; abandoning in-flight requests\n");
      ioc_.stop();
    });
    std::lock_guard lock(connections_mutex_);
    stopping_ = true;
    for (auto& [raw, weak] : connections_) {
      if (auto connection = weak.lock()) {
        asio::post(connection->stream.get_executor(), [connection] {
          connection->closing = true;
          // An idle keep-alive connection is waiting in async_read: end it now. A busy one
          // finishes its response first (serve() sees `closing`).
          if (!connection->busy) connection->stream.cancel();
        });
      }
    }
    if (connections_.empty()) ioc_.stop();
  }

  void unregister(Connection* connection) {
    std::lock_guard lock(connections_mutex_);
    connections_.erase(connection);
    if (stopping_ && connections_.empty() && !torn_down_) ioc_.stop();
  }

  const Knobs knobs_;
  RequestMetrics metrics_;
  FaultSource faults_;
  const unsigned threads_;
  std::atomic<std::uint64_t> answered_{0};

  std::mutex connections_mutex_;
  bool stopping_ = false;                                                  // guarded
  bool torn_down_ = false;  // guarded; the destructor runs, do not touch ioc_
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_;  // guarded

  // Declared after the state above so that the io_context, when destroyed, destroys pending
  // coroutine frames (which unregister their connections) while that state still exists.
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer drain_timer_;
};

}  // namespace

tl::expected<std::unique_ptr<Server>, std::string> makeServer(Knobs knobs) {
  auto server = std::make_unique<ServerImpl>(std::move(knobs));
  if (auto bound = server->bind(); !bound) return tl::unexpected(bound.error());
  return server;
}

}  // namespace runway::demo
