#include "runway/router/admin_client.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/core/duration.hpp"
#include "runway/http/client.hpp"
#include "unix_socket_path.hpp"

namespace runway::router {

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
  runway::http::Request request;
  request.method = method;
  request.url = "http://runway-router" + target;
  request.unix_socket = usable->usable();
  request.log_name = fmt::format("router admin socket {}{}", socket_path_, target);
  request.headers["Content-Type"] = "application/json";
  request.body = body;
  request.timeout = timeout_;
  request.connect_timeout = timeout_;
  request.max_body = 256 * 1024 * 1024;
  auto response = runway::http::send(request);
  if (!response) {
    if (response.error().code == ErrorCode::Timeout) {
      return fail(ErrorCode::Timeout, fmt::format("the router at {} did not answer {} {} within {}",
                                                  socket_path_, method, target, formatDuration(timeout_)));
    }
    return fail(ErrorCode::Unavailable,
                fmt::format("cannot reach the router at {}: {}", socket_path_, response.error().message));
  }
  return Response{static_cast<int>(response->status), std::move(response->body)};
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
