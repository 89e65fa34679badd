#pragma once

// runway's one outbound HTTP client (libcurl, blocking). Every module that speaks HTTP to
// something else goes through it: Prometheus and web metric providers, notification channels
// (Slack, PagerDuty, webhooks), the Kubernetes API, health/smoke/dependency checks and the
// registry, the load generator, the CLI talking to `runway serve`, and the controller talking
// to the router's admin socket. (The runtime's readiness probes are the one exception: many at
// once, asynchronous on the runtime's own io_context, to loopback instances only.)
//
// One policy for all of them, not negotiable per call:
//   - http:// and https:// only (never file://, dict://, gopher://, … that curl also speaks);
//   - redirects are not followed (a 3xx is a response);
//   - no proxy from the environment (http_proxy/HTTPS_PROXY are ignored: the control plane
//     talks to the hosts its configuration names);
//   - HTTP/1.1 (kube-apiserver ends a refused POST's HTTP/2 stream before its body);
//   - a connect deadline and an overall deadline on every exchange, a cap on every body;
//   - error messages name the method and the URL without user info or query (which may hold a
//     secret), or `log_name`; headers (with tokens) never appear in a message.
// Per-call options are what a call legitimately differs in: method, headers, credentials, TLS
// material, deadlines, body cap.
//
// Thread-safe: every call uses its own curl handle (Connection keeps one for a sequence of
// calls from one thread); call it from a worker thread, never from a strand that must not block.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::http {

struct Request {
  std::string method = "GET";  // GET, HEAD, POST, PUT, PATCH or DELETE
  std::string url;
  // Connect to this Unix socket instead of the URL's host and port (runway's own router admin
  // socket; the URL then names only the path). "" = TCP.
  std::string unix_socket;
  std::map<std::string, std::string> headers;  // sent as given; Accept defaults to JSON
  std::string body;                            // sent for POST, PUT and PATCH (and when set)
  // The whole exchange, connect included; zero = no overall limit (a stream, which its
  // keep_going ends).
  Duration timeout{std::chrono::seconds(10)};
  Duration connect_timeout{std::chrono::seconds(10)};
  std::string bearer_token;  // "" = none
  std::string basic_user;    // "" = none
  std::string basic_password;
  // TLS. The server is verified against the system's trust store unless a CA is given.
  std::string ca_file;  // a PEM bundle file
  std::string ca_pem;   // or PEM text in memory (keys and CAs from a kubeconfig never touch disk)
  std::string client_certificate_pem;
  std::string client_key_pem;
  bool insecure_skip_verify = false;
  // Bodies longer than this fail the call with PayloadTooLarge, or, with truncate_body, are
  // cut to this length (a check that shows the start of a page).
  std::size_t max_body = 16 * 1024 * 1024;
  bool truncate_body = false;
  // How the target appears in error messages; "" = redactedUrl(url). Set it when the URL itself
  // is a secret (a Slack incoming webhook).
  std::string log_name;
};

struct Response {
  long status = 0;
  std::string body;  // for stream(): only when the status is not 2xx
  std::map<std::string, std::string> headers;  // names lower-cased; the last value of a name
  double elapsed_ms = 0;                       // until the complete response

  // The header's value, or "" (`name` in lower case).
  std::string header(std::string_view name) const;
};

// Performs the request. Any HTTP status is a response, not an error (a refusal whose body was
// cut short is still the server's answer). Errors mean no response: Timeout when a deadline
// passes, Unavailable when the server cannot be reached (connection refused, DNS, TLS failure)
// or the connection broke, PayloadTooLarge over max_body, InvalidArgument for another method or
// a URL whose scheme is not http or https.
Result<Response> send(const Request& request);

// A GET (send() with method GET).
Result<Response> get(const Request& request);

// Like send(), but a 2xx body is handed to `on_data` in pieces as it arrives instead of being
// kept (a watch, a log follow, server-sent events). Returns when the server ends the response,
// when `on_data` returns false, or soon (within about a second) after `keep_going` returns
// false; the last two are not errors. A non-2xx body is kept in Response::body (up to 1 MiB).
Result<Response> stream(const Request& request, const std::function<bool(std::string_view)>& on_data,
                        const std::function<bool()>& keep_going);

// One connection kept open across a sequence of requests (the load generator measures
// requests, not handshakes). Not thread-safe: one Connection per thread.
class Connection {
 public:
  Connection();
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Result<Response> send(const Request& request);

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
std::string urlEncode(std::string_view value);

// The URL without user info, query or fragment: what may appear in a log line. A URL whose
// path is itself the secret (a Slack incoming webhook) must not be logged even so.
std::string redactedUrl(std::string_view url);

}  // namespace runway::http
