#pragma once

// A small HTTP/1.1 (optionally TLS) server for runway's API: routes with path parameters, bearer
// authentication with roles, JSON error bodies with stable codes, request ids, size limits,
// timeouts, and server-sent-event streams. Built on Boost.Beast; no Asio type leaks from here.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runway/core/error.hpp"

namespace runway::api {

// Who made a request, established by the Authenticator.
struct Identity {
  std::string name;                // token name, e.g. "alice"
  std::vector<std::string> roles;  // e.g. {"deployer", "tech-lead"}
  std::string token_id;
};

// Role rules: "admin" may do everything; "deployer" includes "viewer"; every other role
// (approver roles such as tech-lead) includes "viewer" and nothing more.
bool hasRole(const Identity& who, std::string_view role);

struct HttpRequest {
  std::string method;  // upper case, e.g. "GET"
  std::string path;    // percent-decoded path without the query, e.g. "/api/v1/deployments/x"
  std::map<std::string, std::string> query;   // decoded query parameters
  std::map<std::string, std::string> params;  // path parameters from the route pattern
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string request_id;
  std::string remote_address;
  std::optional<Identity> identity;  // set when the route requires a role

  // The first header with this (case-insensitive) name, or "".
  std::string header(std::string_view name) const;
};

struct SseEvent {
  std::string id;    // "" = no id line
  std::string type;  // "" = default "message"
  std::string data;  // may contain newlines; sent as several data: lines
};

// A live event stream for one client. poll() is called from the server's threads, never
// concurrently for one stream; it returns what is ready now (possibly nothing). Returning
// nullopt ends the stream.
class SseSource {
 public:
  virtual ~SseSource() = default;
  virtual std::optional<std::vector<SseEvent>> poll() = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, `body` is ignored and the connection becomes a text/event-stream.
  std::shared_ptr<SseSource> sse;

  static HttpResponse json(int status, std::string body);
  static HttpResponse text(int status, std::string body, std::string content_type = "text/plain");
};

// {"error":{"code":"not_found","message":"...","details":{...},"requestId":"..."}} with the
// status httpStatus(error.code). `details_json` must be a JSON object text ("{}" for none).
HttpResponse errorResponse(const Error& error, std::string_view request_id,
                           std::string_view details_json = "{}");

// Establishes who holds a bearer token. Unauthenticated for unknown or revoked tokens.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual Result<Identity> authenticate(std::string_view bearer_token) = 0;
};

using Handler = std::function<HttpResponse(HttpRequest&)>;

struct Route {
  std::string method;   // "GET", "POST", ...
  std::string pattern;  // "/api/v1/deployments/{id}/approve"; {name} matches one segment
  // Role the caller must hold (see hasRole); nullopt = no authentication (health endpoints).
  std::optional<std::string> role;
  Handler handler;
};

class SessionTable;  // sessions.hpp

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0 = any free port; see HttpServer::port()
  std::string tls_cert_file;  // PEM; both set = HTTPS
  std::string tls_key_file;
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 1024 * 1024;
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds sse_poll{50};
  std::chrono::milliseconds sse_heartbeat{15'000};
  // At most this many event streams at once (each polls the store); one more is answered 503
  // with Retry-After: event_stream_retry_after and the JSON error code "unavailable",
  // details.reason "too_many_event_streams".
  std::size_t max_event_streams = 64;
  std::chrono::seconds event_stream_retry_after{5};
  int io_threads = 1;
  int handler_threads = 4;  // handlers may block (store, controller); they run here
  // Browser sessions (sessions.hpp): a request without an Authorization header but with the
  // session cookie authenticates as the session's identity; one that is not GET or HEAD must
  // also carry the session's CSRF token (403 otherwise). Null = bearer tokens only.
  std::shared_ptr<SessionTable> sessions;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // The bound port (useful with port 0).
  virtual std::uint16_t port() const = 0;
  // Stops accepting, lets in-flight requests finish up to `grace`, closes streams, joins
  // threads. Idempotent.
  virtual void stop(std::chrono::milliseconds grace) = 0;
  // Number of requests served so far (all statuses).
  virtual std::uint64_t requestsServed() const = 0;
};

// Binds, starts threads and serves `routes`. Unavailable if the address cannot be bound or the
// TLS files cannot be read. Every response carries X-Request-Id (the client's, when it sent a
// sane one, else a generated one); every log line about a request names it.
Result<std::unique_ptr<HttpServer>> startHttpServer(ServerOptions options, std::vector<Route> routes,
                                                    std::shared_ptr<Authenticator> authenticator);

}  // namespace runway::api
