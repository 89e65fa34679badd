#include "runway/router/admin_client.hpp"

#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/core/duration.hpp"
#include "unix_socket_path.hpp"

namespace runway::router {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = asio::local::stream_protocol;
using boost::system::error_code;

AdminClient::AdminClient(std::string socket_path, Duration timeout)
    : socket_path_(std::move(socket_path)), timeout_(timeout) {}

Result<AdminClient::Response> AdminClient::call(const std::string& method,
                                                const std::string& target,
                                                const std::string& body) {
  auto usable = UnixSocketPath::open(socket_path_);
  if (!usable) {
    return fail(ErrorCode::Unavailable, fmt::format("cannot reach the router at {}: {}",
                                                    socket_path_, usable.error().message));
  }
  asio::io_context ioc{1};
  local::socket socket(ioc);
  beast::flat_buffer buffer;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "runway-router");
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 * 1024 * 1024);
  std::optional<Result<Response>> outcome;
  auto finish = [&](Result<Response> r) {
    if (!outcome) outcome = std::move(r);
    error_code ignored;
    socket.close(ignored);
  };
  socket.async_connect(local::endpoint(usable->usable()), [&](const error_code& ec) {
    if (ec) {
      finish(fail(ErrorCode::Unavailable, fmt::format("cannot reach the router at {}: {}",
                                                      socket_path_, ec.message())));
      return;
    }
    http::async_write(socket, req, [&](const error_code& wec, std::size_t) {
      if (wec) {
        finish(fail(ErrorCode::Unavailable,
                    fmt::format("router admin socket {}: {}", socket_path_, wec.message())));
        return;
      }
      http::async_read(socket, buffer, parser, [&](const error_code& rec, std::size_t) {
        if (rec) {
          finish(fail(ErrorCode::Unavailable,
                      fmt::format("router admin socket {}: {}", socket_path_, rec.message())));
          return;
        }
        finish(Response{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())});
      });
    });
  });
  ioc.run_for(timeout_);
  if (!outcome) {
    return fail(ErrorCode::Timeout, fmt::format("the router at {} did not answer {} {} within {}",
                                                socket_path_, method, target,
                                                formatDuration(timeout_)));
  }
  return std::move(*outcome);
}

namespace {

// Turns a non-2xx admin reply into the Error it carries.
Error replyError(int status, const std::string& body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const auto* e = v.get_object().if_contains("error"); e != nullptr && e->is_object()) {
      const auto* code = e->get_object().if_contains("code");
      const auto* message = e->get_object().if_contains("message");
      if (code != nullptr && code->is_string() && message != nullptr && message->is_string()) {
        return Error{codeFromName(std::string_view(code->get_string())),
                     std::string(message->get_string())};
      }
    }
  }
  return Error{codeFromHttpStatus(status), fmt::format("router answered {}: {}", status, body)};
}

}  // namespace

Result<void> AdminClient::putTable(const RoutingTable& table) {
  auto r = call("PUT", "/table", toJson(table));
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(replyError(r->status, r->body));
  return {};
}

Result<RoutingTable> AdminClient::table() {
  auto r = call("GET", "/table", "");
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(replyError(r->status, r->body));
  return tableFromJson(r->body);
}

Result<StatsReport> AdminClient::stats(Duration window) {
  auto r = call("GET", "/stats?window=" + formatDuration(window), "");
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(replyError(r->status, r->body));
  return statsFromJson(r->body);
}

Result<std::string> AdminClient::metrics() {
  auto r = call("GET", "/metrics", "");
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(replyError(r->status, r->body));
  return std::move(r->body);
}

Result<void> AdminClient::drain(const std::string& instance_id) {
  auto r = call("POST", "/drain",
                boost::json::serialize(boost::json::object{{"instance", instance_id}}));
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(replyError(r->status, r->body));
  return {};
}

}  // namespace runway::router
