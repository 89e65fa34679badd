#pragma once

// runway's one outbound HTTP client for the control plane (libcurl, blocking): Prometheus and
// web metric providers, notification channels (Slack, PagerDuty, webhooks). One policy for all
// of them: no redirects, http and https only, a deadline on every call, a cap on every body.
//
// Thread-safe: every call uses its own curl handle; call it from a worker thread, never from a
// strand that must not block.

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::http {

struct Request {
  std::string method = "GET";  // GET or POST
  std::string url;
  std::map<std::string, std::string> headers;  // sent as given; Accept defaults to JSON
  std::string body;                            // POST only
  Duration timeout{std::chrono::seconds(10)};  // the whole exchange, connect included
  std::string bearer_token;   // "" = none
  std::string basic_user;     // "" = none
  std::string basic_password;
  bool insecure_skip_verify = false;
  std::size_t max_body = 16 * 1024 * 1024;
  // How the target appears in error messages; "" = redactedUrl(url). Set it when the URL itself
  // is a secret (a Slack incoming webhook).
  std::string log_name;
};

struct Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased; the last value of a name

  // The header's value, or "" (`name` in lower case).
  std::string header(std::string_view name) const;
};

// Performs the request. Errors: Timeout when the deadline passes, Unavailable when the server
// cannot be reached (connection refused, DNS, TLS failure) or the connection broke,
// PayloadTooLarge over max_body, InvalidArgument for a method other than GET or POST. Any HTTP
// status is a response, not an error. Error messages name the target by `log_name`, or by the
// URL's scheme, host and path: a query string or user info (which may hold a secret) is never
// in them.
Result<Response> send(const Request& request);

// A GET (send() with method GET).
Result<Response> get(const Request& request);

// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
std::string urlEncode(const std::string& value);

// The URL without user info, query or fragment: what may appear in a log line. A URL whose
// path is itself the secret (a Slack incoming webhook) must not be logged even so.
std::string redactedUrl(std::string_view url);

}  // namespace runway::http
