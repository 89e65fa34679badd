#pragma once

// A small blocking HTTP client over libcurl for the checks (health endpoints, smoke requests,
// dependencies, the registry API, the load generator). Loopback or configured hosts only; proxies
// from the environment are ignored, redirects are not followed.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runway/core/error.hpp"

namespace runway::checks::detail {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{5000};  // the whole exchange, connect included
  std::size_t max_body = 1024 * 1024;       // a longer body is truncated, not an error
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names; the last one wins
  std::string body;
  double elapsed_ms = 0;  // time to the complete response
};

// One exchange on a connection of its own. Errors when no response came: Unavailable
// (connection refused, reset, DNS) or Timeout, the message naming the URL and curl's reason.
Result<HttpResponse> httpRequest(const HttpRequest& request);

// Keeps one connection open across requests (for the load generator). Not thread-safe.
class HttpConnection {
 public:
  HttpConnection();
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;
  Result<HttpResponse> request(const HttpRequest& request);

 private:
  void* handle_;  // CURL*
};

// "200", "2xx"-style helpers for messages.
bool isSuccess(long status);

}  // namespace runway::checks::detail
