#include "admin_server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <exception>
#include <optional>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "awaitable.hpp"
#include "json_util.hpp"
#include "unix_socket_path.hpp"
#include "runway/core/duration.hpp"

namespace runway::router {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = asio::local::stream_protocol;
using boost::system::error_code;

namespace {

AdminReply errorReply(const Error& e) {
  boost::json::object o{{"error", boost::json::object{{"code", codeName(e.code)},
                                                      {"message", e.message}}}};
  return AdminReply{httpStatus(e.code), "application/json", boost::json::serialize(o)};
}

std::optional<std::string_view> queryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
  }
  return std::nullopt;
}

}  // namespace

AdminReply handleAdminRequest(Router& router, std::string_view method, std::string_view target,
                              std::string_view body) {
  const auto qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string_view query =
      qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
  auto wrongMethod = [&](std::string_view allowed) {
    return errorReply(Error{ErrorCode::InvalidArgument,
                            fmt::format("{} is not allowed on {}; use {}", method, path, allowed)});
  };
  if (path == "/table") {
    if (method == "GET") return AdminReply{200, "application/json", toJson(router.table())};
    if (method != "PUT") return wrongMethod("GET or PUT");
    auto table = tableFromJson(body);
    if (!table) return errorReply(table.error());
    if (auto r = router.setTable(*table); !r) return errorReply(r.error());
    return AdminReply{200, "application/json",
                      boost::json::serialize(boost::json::object{{"revision", table->revision}})};
  }
  if (path == "/stats") {
    if (method != "GET") return wrongMethod("GET");
    Duration window{60'000};
    if (auto w = queryParam(query, "window")) {
      auto d = parseDuration(*w);
      if (!d) return errorReply(Error{ErrorCode::InvalidArgument, "window: " + d.error().message});
      if (*d < Duration{1000} || *d > Duration{900'000}) {
        return errorReply(Error{ErrorCode::InvalidArgument, "window: must be between 1s and 15m"});
      }
      window = *d;
    }
    return AdminReply{200, "application/json", toJson(router.stats(window))};
  }
  if (path == "/metrics") {
    if (method != "GET") return wrongMethod("GET");
    return AdminReply{200, "text/plain; version=0.0.4; charset=utf-8", router.metrics()};
  }
  if (path == "/drain") {
    if (method != "POST") return wrongMethod("POST");
    auto doc = json_util::parse(body);
    if (!doc) return errorReply(doc.error());
    const auto* obj = doc->if_object();
    const auto* id = obj == nullptr ? nullptr : obj->if_contains("instance");
    if (id == nullptr || !id->is_string()) {
      return errorReply(Error{ErrorCode::InvalidArgument, "body must be {\"instance\": \"<id>\"}"});
    }
    if (auto r = router.drain(std::string_view(id->get_string())); !r) return errorReply(r.error());
    return AdminReply{200, "application/json", R"({"drained":true})"};
  }
  if (path == "/healthz") return AdminReply{200, "application/json", R"({"status":"ok"})"};
  return errorReply(Error{ErrorCode::NotFound, fmt::format("no admin endpoint {}", path)});
}

Result<void> checkAdminSocketFree(const std::string& path) {
  // A socket file someone answers on belongs to a live router.
  auto usable = UnixSocketPath::open(path);
  if (!usable) return {};  // no directory to hold a socket: nobody serves it
  asio::io_context ioc{1};
  local::socket probe(ioc);
  error_code ec;
  probe.connect(local::endpoint(usable->usable()), ec);
  if (!ec) {
    return fail(ErrorCode::Conflict, fmt::format("another router is serving the admin socket {}", path));
  }
  return {};
}

namespace {

class AdminServerImpl final : public AdminServer {
 public:
  AdminServerImpl(Router& router, std::string path)
      : router_(router), path_(std::move(path)), acceptor_(ioc_) {}

  ~AdminServerImpl() override {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    ::unlink(path_.c_str());
  }

  Result<void> listen() {
    if (auto r = checkAdminSocketFree(path_); !r) return r;
    auto usable = UnixSocketPath::open(path_);
    if (!usable) {
      return fail(usable.error().code,
                  fmt::format("cannot listen on admin socket {}: {}", path_, usable.error().message));
    }
    error_code ec;
    ::unlink(path_.c_str());
    acceptor_.open(local(), ec);
    if (!ec) {
      // Created 0600 by bind itself: a chmod after bind would leave a window in which anyone
      // could connect and drive the router. The umask is the process's, so it is restored at
      // once; a file another thread creates meanwhile only gets a stricter mode.
      const mode_t previous = ::umask(0177);
      acceptor_.bind(local::endpoint(usable->usable()), ec);
      ::umask(previous);
    }
    if (!ec) acceptor_.listen(64, ec);
    if (ec) {
      return fail(ErrorCode::Unavailable,
                  fmt::format("cannot listen on admin socket {}: {}", path_, ec.message()));
    }
    asio::co_spawn(ioc_, acceptLoop(), [](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("router admin: accept loop failed: {}", ex.what());
      }
    });
    thread_ = std::thread([this] { ioc_.run(); });
    return {};
  }

 private:
  asio::awaitable<void> acceptLoop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) co_return;
      asio::co_spawn(ioc_, serve(std::move(socket)), [](const std::exception_ptr& e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("router admin: connection failed: {}", ex.what());
        }
      });
    }
  }

  asio::awaitable<void> serve(local::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(32 * 1024 * 1024);
      auto [ec, n] = co_await http::async_read(socket, buffer, parser, kTuple);
      if (ec) co_return;
      auto& req = parser.get();
      AdminReply reply;
      try {
        reply = handleAdminRequest(router_, std::string_view(req.method_string()),
                                   std::string_view(req.target()), req.body());
      } catch (const std::exception& e) {
        reply = errorReply(Error{ErrorCode::Internal, e.what()});
      }
      http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
      res.set(http::field::content_type, reply.content_type);
      res.set(http::field::server, "runway-router");
      res.body() = std::move(reply.body);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(socket, res, kTuple);
      if (wec || !res.keep_alive()) co_return;
    }
  }

  Router& router_;
  std::string path_;
  asio::io_context ioc_{1};
  local::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<AdminServer>> AdminServer::start(Router& router, const std::string& path) {
  auto server = std::make_unique<AdminServerImpl>(router, path);
  if (auto r = server->listen(); !r) return fail(r.error());
  return std::unique_ptr<AdminServer>(std::move(server));
}

}  // namespace runway::router
