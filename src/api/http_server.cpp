#include "runway/api/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <random>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runway/api/sessions.hpp"
#include "runway/core/ids.hpp"

namespace runway::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

// ---------------------------------------------------------------------------------------------
// Small value helpers

bool hasRole(const Identity& who, std::string_view role) {
  const auto holds = [&](std::string_view r) {
    return std::find(who.roles.begin(), who.roles.end(), r) != who.roles.end();
  };
  if (holds("admin")) return true;
  if (holds(role)) return true;
  if (role == "viewer") return !who.roles.empty();  // every role includes viewing
  return false;
}

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

HttpResponse HttpResponse::json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

HttpResponse errorResponse(const Error& error, std::string_view request_id,
                           std::string_view details_json) {
  boost::json::object err;
  err["code"] = codeName(error.code);
  err["message"] = error.message;
  boost::system::error_code ec;
  auto details = boost::json::parse(details_json, ec);
  err["details"] = (!ec && details.is_object()) ? details : boost::json::object{};
  err["requestId"] = request_id;
  boost::json::object root;
  root["error"] = std::move(err);
  return HttpResponse::json(httpStatus(error.code), boost::json::serialize(root));
}

namespace {

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    const auto end = path.find('/', pos);
    parts.push_back(path.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    if (end == std::string_view::npos) break;
    pos = end;
  }
  return parts;
}

// Matches `path` against `pattern`, filling path parameters.
bool matchRoute(std::string_view pattern, std::string_view path,
                std::map<std::string, std::string>& params) {
  const auto want = splitPath(pattern);
  const auto have = splitPath(path);
  if (want.size() != have.size()) return false;
  std::map<std::string, std::string> found;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i].size() > 2 && want[i].front() == '{' && want[i].back() == '}') {
      found.emplace(std::string(want[i].substr(1, want[i].size() - 2)), std::string(have[i]));
    } else if (want[i] != have[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

std::string formatSse(const SseEvent& ev) {
  std::string out;
  if (!ev.id.empty()) out += "id: " + ev.id + "\n";
  if (!ev.type.empty()) out += "event: " + ev.type + "\n";
  std::size_t pos = 0;
  do {
    const auto end = ev.data.find('\n', pos);
    out += "data: " + ev.data.substr(pos, end == std::string::npos ? std::string::npos : end - pos) + "\n";
    pos = end == std::string::npos ? std::string::npos : end + 1;
  } while (pos != std::string::npos && pos <= ev.data.size());
  out += "\n";
  return out;
}

// ---------------------------------------------------------------------------------------------

class HttpServerImpl final : public HttpServer {
 public:
  HttpServerImpl(ServerOptions options, std::vector<Route> routes,
                 std::shared_ptr<Authenticator> authenticator)
      : options_(std::move(options)),
        routes_(std::move(routes)),
        authenticator_(std::move(authenticator)),
        io_(std::max(1, options_.io_threads)),
        pool_(static_cast<std::size_t>(std::max(1, options_.handler_threads))),
        acceptor_(io_),
        ssl_(ssl::context::tls_server),
        rng_(std::random_device{}()) {}

  ~HttpServerImpl() override { stop(std::chrono::milliseconds(0)); }

  Result<void> start() {
    if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
      if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
        return fail(ErrorCode::InvalidArgument, "TLS needs both a certificate and a key file");
      }
      boost::system::error_code ec;
      ssl_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      ssl_.use_certificate_chain_file(options_.tls_cert_file, ec);
      if (ec) {
        return fail(ErrorCode::Unavailable, fmt::format("cannot read TLS certificate {}: {}",
                                                        options_.tls_cert_file, ec.message()));
      }
      ssl_.use_private_key_file(options_.tls_key_file, ssl::context::pem, ec);
      if (ec) {
        return fail(ErrorCode::Unavailable,
                    fmt::format("cannot read TLS key {}: {}", options_.tls_key_file, ec.message()));
      }
      tls_ = true;
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options_.address, ec);
    if (ec) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("invalid listen address \"{}\"", options_.address));
    }
    const tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return fail(ErrorCode::Unavailable, fmt::format("cannot listen on {}:{}: {}",
                                                      options_.address, options_.port, ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, acceptLoop(this), [](const std::exception_ptr& e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("api: accept loop ended: {}", ex.what());
        }
      }
    });
    for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
    return {};
  }

  // HttpServer
  std::uint16_t port() const override { return port_; }
  std::uint64_t requestsServed() const override { return served_.load(); }

  void stop(std::chrono::milliseconds grace) override {
    if (stopped_.exchange(true)) return;
    stopping_.store(true);
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
    });
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (busy_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // shutdown only
    }
    io_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    pool_.join();
  }

 private:
  static awaitable<void> acceptLoop(HttpServerImpl* self) {
    for (;;) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(
          asio::make_strand(self->io_), asio::as_tuple(use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) co_return;
        spdlog::warn("api: accept failed: {}", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      const auto executor = socket.get_executor();
      if (self->tls_) {
        asio::co_spawn(executor,
                       tlsSession(self, beast::ssl_stream<beast::tcp_stream>(
                                            beast::tcp_stream(std::move(socket)), self->ssl_)),
                       logFailure);
      } else {
        asio::co_spawn(executor, session(self, beast::tcp_stream(std::move(socket))), logFailure);
      }
    }
  }

  static void logFailure(const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::debug("api: connection ended: {}", ex.what());
    }
  }

  static awaitable<void> tlsSession(HttpServerImpl* self,
                                    beast::ssl_stream<beast::tcp_stream> stream) {
    beast::get_lowest_layer(stream).expires_after(self->options_.read_timeout);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server,
                                                asio::as_tuple(use_awaitable));
    if (ec) co_return;
    co_await serve(self, stream);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(asio::as_tuple(use_awaitable));
  }

  static awaitable<void> session(HttpServerImpl* self, beast::tcp_stream stream) {
    co_await serve(self, stream);
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  static HttpResponse invoke(HttpServerImpl* self, HttpRequest& req) {
    try {
      return self->dispatch(req);
    } catch (const std::exception& ex) {
      spdlog::error("api: request {} {} {} failed: {}", req.request_id, req.method, req.path,
                    ex.what());
      return errorResponse(Error{ErrorCode::Internal, "internal error; see the server log"},
                           req.request_id);
    }
  }

  static awaitable<HttpResponse> invokeOnPool(HttpServerImpl* self, HttpRequest* req) {
    co_return invoke(self, *req);
  }

  template <typename Stream>
  static awaitable<void> serve(HttpServerImpl* self, Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      if (self->stopping_.load()) co_return;
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(self->options_.header_limit));
      parser.body_limit(self->options_.body_limit);
      beast::get_lowest_layer(stream).expires_after(self->options_.read_timeout);
      auto [ec, bytes] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(use_awaitable));
      (void)bytes;
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
          ec == asio::ssl::error::stream_truncated) {
        co_return;
      }
      const auto request_id = self->newRequestId();
      if (ec) {
        Error error{ErrorCode::InvalidArgument, fmt::format("malformed request: {}", ec.message())};
        int status = 400;
        if (ec == http::error::body_limit) {
          error = Error{ErrorCode::PayloadTooLarge,
                        fmt::format("request body larger than {} bytes", self->options_.body_limit)};
          status = 413;
        } else if (ec == http::error::header_limit) {
          error = Error{ErrorCode::PayloadTooLarge, "request headers too large"};
          status = 431;
        }
        auto resp = errorResponse(error, request_id);
        resp.status = status;
        co_await writeResponse(self, stream, resp, request_id, false, 11);
        co_return;
      }
      self->busy_.fetch_add(1);
      auto req = parser.release();
      HttpRequest request = toRequest(req, request_id);
      if (auto remote = beast::get_lowest_layer(stream).socket().remote_endpoint(ec); !ec) {
        request.remote_address = remote.address().to_string();
      }
      const auto started = std::chrono::steady_clock::now();
      HttpResponse response = co_await asio::co_spawn(self->pool_.get_executor(),
                                                      invokeOnPool(self, &request), use_awaitable);
      self->served_.fetch_add(1);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
      spdlog::debug("api: {} {} {} -> {} in {}ms", request.request_id, request.method, request.path,
                    response.status, ms);
      if (response.sse) {
        // A slot is taken before the stream starts and given back when it ends however it ends
        // (the guard lives in this coroutine's frame). Beyond the cap the stream is refused.
        if (self->streams_.fetch_add(1) < self->options_.max_event_streams) {
          struct StreamSlot {
            std::atomic<std::size_t>& open;
            ~StreamSlot() { open.fetch_sub(1); }
          } slot{self->streams_};
          self->busy_.fetch_sub(1);
          co_await streamEvents(self, stream, response, request.request_id);
          co_return;
        }
        self->streams_.fetch_sub(1);
        response = tooManyStreams(self, request.request_id);
        spdlog::warn("api: {} {} {}: refused, {} event streams are open (the limit)", request.request_id,
                     request.method, request.path, self->options_.max_event_streams);
      }
      const bool keep_alive = req.keep_alive() && !self->stopping_.load();
      const bool ok = co_await writeResponse(self, stream, response, request.request_id, keep_alive,
                                             req.version());
      self->busy_.fetch_sub(1);
      if (!ok || !keep_alive) co_return;
    }
  }

  // 503 for an event stream over the cap: the stable JSON error (code "unavailable", details.reason
  // "too_many_event_streams") and Retry-After.
  static HttpResponse tooManyStreams(HttpServerImpl* self, const std::string& request_id) {
    const auto retry = std::max<std::int64_t>(1, self->options_.event_stream_retry_after.count());
    auto r = errorResponse(
        Error{ErrorCode::Unavailable,
              fmt::format("too many event streams: {} are open, the server's limit; retry in {}s",
                          self->options_.max_event_streams, retry)},
        request_id,
        fmt::format(R"({{"reason":"too_many_event_streams","limit":{},"retryAfterSeconds":{}}})",
                    self->options_.max_event_streams, retry));
    r.status = 503;
    r.headers.emplace_back("Retry-After", std::to_string(retry));
    return r;
  }

  template <typename Stream>
  static awaitable<bool> writeResponse(HttpServerImpl* self, Stream& stream, const HttpResponse& r,
                                       const std::string& request_id, bool keep_alive,
                                       unsigned version) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "runway");
    res.set(http::field::content_type, r.content_type);
    res.set("X-Request-Id", request_id);
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(self->options_.read_timeout);
    auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
    (void)n;
    co_return !ec;
  }

  template <typename Stream>
  static awaitable<void> streamEvents(HttpServerImpl* self, Stream& stream, const HttpResponse& r,
                                      const std::string& request_id) {
    http::response<http::empty_body> res{static_cast<http::status>(r.status), 11};
    res.set(http::field::server, "runway");
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Request-Id", request_id);
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(false);  // the body runs until the connection closes
    http::response_serializer<http::empty_body> sr{res};
    beast::get_lowest_layer(stream).expires_after(self->options_.read_timeout);
    auto [ec, n] = co_await http::async_write_header(stream, sr, asio::as_tuple(use_awaitable));
    (void)n;
    if (ec) co_return;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto last_write = std::chrono::steady_clock::now();
    while (!self->stopping_.load()) {
      auto events = r.sse->poll();
      if (!events) break;
      std::string out;
      for (const auto& ev : *events) out += formatSse(ev);
      if (out.empty() && std::chrono::steady_clock::now() - last_write > self->options_.sse_heartbeat) {
        out = ": keep-alive\n\n";
      }
      if (!out.empty()) {
        beast::get_lowest_layer(stream).expires_after(self->options_.read_timeout);
        auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(out), asio::as_tuple(use_awaitable));
        (void)wn;
        if (wec) break;
        last_write = std::chrono::steady_clock::now();
        continue;
      }
      beast::get_lowest_layer(stream).expires_never();
      timer.expires_after(self->options_.sse_poll);
      co_await timer.async_wait(asio::as_tuple(use_awaitable));
    }
  }

  static HttpRequest toRequest(http::request<http::string_body>& req, const std::string& generated_id) {
    HttpRequest out;
    out.method = std::string(req.method_string());
    const std::string target(req.target());
    auto parsed = boost::urls::parse_origin_form(target);
    if (parsed) {
      out.path = parsed->path();
      for (const auto& param : parsed->params()) out.query[param.key] = param.value;
    } else {
      out.path = target.substr(0, target.find('?'));
    }
    for (const auto& field : req) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      out.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    out.body = std::move(req.body());
    const auto client_id = out.header("x-request-id");
    out.request_id = isUsableRequestId(client_id) ? client_id : generated_id;
    return out;
  }

  HttpResponse dispatch(HttpRequest& req) {
    bool path_matched = false;
    std::string allowed;  // the path's methods, for a 405's Allow
    for (const auto& route : routes_) {
      std::map<std::string, std::string> params;
      if (!matchRoute(route.pattern, req.path, params)) continue;
      path_matched = true;
      if (route.method != req.method) {
        if (allowed.find(route.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + route.method;
        continue;
      }
      req.params = std::move(params);
      if (route.role) {
        auto who = authenticate(req);
        if (!who) return errorResponse(who.error(), req.request_id);
        if (!hasRole(*who, *route.role)) {
          return errorResponse(
              Error{ErrorCode::PermissionDenied,
                    fmt::format("\"{}\" lacks the role \"{}\" needed for {} {}", who->name,
                                *route.role, req.method, route.pattern)},
              req.request_id);
        }
        req.identity = std::move(*who);
      }
      auto response = route.handler(req);
      if (response.sse && route.role) response.sse = boundToSession(req, std::move(response.sse));
      return response;
    }
    if (path_matched) {
      auto resp = errorResponse(
          Error{ErrorCode::InvalidArgument, fmt::format("method {} not allowed on {}", req.method, req.path)},
          req.request_id);
      resp.status = 405;
      // RFC 9110 15.5.6: a 405 names the methods the resource has.
      resp.headers.emplace_back("Allow", allowed);
      return resp;
    }
    return errorResponse(Error{ErrorCode::NotFound, fmt::format("no such endpoint: {} {}", req.method, req.path)},
                         req.request_id);
  }

  // A stream opened with a session cookie ends when the session does (sign-out, expiry, its
  // token revoked), checked about once a second: the client's reconnect then meets the 401.
  class SessionBoundStream final : public SseSource {
   public:
    SessionBoundStream(std::shared_ptr<SseSource> inner, std::shared_ptr<SessionTable> sessions, std::string id)
        : inner_(std::move(inner)), sessions_(std::move(sessions)), id_(std::move(id)) {}
    std::optional<std::vector<SseEvent>> poll() override {
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_check_) {
        if (!sessions_->find(id_)) return std::nullopt;
        next_check_ = now + std::chrono::seconds(1);
      }
      return inner_->poll();
    }

   private:
    std::shared_ptr<SseSource> inner_;
    std::shared_ptr<SessionTable> sessions_;
    std::string id_;
    std::chrono::steady_clock::time_point next_check_{};
  };

  // The session cookie a request was authenticated with, or "" (a bearer token, or none).
  std::string sessionOf(const HttpRequest& req) const {
    if (!options_.sessions || !req.header("authorization").empty()) return {};
    return cookieValue(req.header("cookie"), kSessionCookie).value_or("");
  }

  std::shared_ptr<SseSource> boundToSession(const HttpRequest& req, std::shared_ptr<SseSource> stream) const {
    auto id = sessionOf(req);
    if (id.empty()) return stream;
    return std::make_shared<SessionBoundStream>(std::move(stream), options_.sessions, std::move(id));
  }

  // The caller's identity: from the bearer token when the request has an Authorization header,
  // else from the session cookie (with the CSRF check for state-changing methods).
  Result<Identity> authenticate(const HttpRequest& req) {
    if (auto session = sessionOf(req); !session.empty()) {
      const bool state_changing = req.method != "GET" && req.method != "HEAD";
      return options_.sessions->authenticate(session, state_changing, req.header(kCsrfHeader));
    }
    const auto auth = req.header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() <= kBearer.size() || auth.compare(0, kBearer.size(), kBearer) != 0) {
      return fail(ErrorCode::Unauthenticated, "missing bearer token (Authorization: Bearer <token>)");
    }
    if (!authenticator_) return fail(ErrorCode::Unauthenticated, "authentication unavailable");
    return authenticator_->authenticate(std::string_view(auth).substr(kBearer.size()));
  }

  std::string newRequestId() {
    std::lock_guard lock(rng_mutex_);
    return fmt::format("req-{:016x}", rng_());
  }

  ServerOptions options_;
  std::vector<Route> routes_;
  std::shared_ptr<Authenticator> authenticator_;
  asio::io_context io_;
  asio::thread_pool pool_;
  tcp::acceptor acceptor_;
  ssl::context ssl_;
  bool tls_ = false;
  std::uint16_t port_ = 0;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<int> busy_{0};
  std::atomic<std::size_t> streams_{0};  // open event streams
  std::atomic<std::uint64_t> served_{0};
  std::mutex rng_mutex_;
  std::mt19937_64 rng_;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> startHttpServer(ServerOptions options, std::vector<Route> routes,
                                                    std::shared_ptr<Authenticator> authenticator) {
  auto server = std::make_unique<HttpServerImpl>(std::move(options), std::move(routes),
                                                 std::move(authenticator));
  if (auto started = server->start(); !started) return fail(started.error());
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace runway::api
