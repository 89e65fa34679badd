#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runway/core/error.hpp"

namespace runway::test {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// A response as received: any status, including 4xx and 5xx, is a successful exchange.
struct HttpResponse {
  long status = 0;
  HttpHeaders headers;  // names lower-cased, in the order received
  std::string body;

  // The first header called `name` (case-insensitive), if any.
  std::optional<std::string> header(std::string_view name) const;
};

struct HttpRequest {
  std::string url;  // e.g. "http://127.0.0.1:8080/health"
  std::string method = "GET";
  std::string body;
  HttpHeaders headers;
  std::chrono::milliseconds timeout{10000};  // the whole exchange, connect included
  std::string ca_file{};  // https: the PEM CA to verify the server with ("" = the system's)
};

// Performs one HTTP exchange through libcurl on a fresh connection; proxies from the
// environment are ignored, redirects are not followed. Errors when there is no response:
// Unavailable (cannot connect, connection reset, ...) or Timeout, with curl's explanation and
// the URL in the message.
Result<HttpResponse> httpRequest(const HttpRequest& request);
Result<HttpResponse> httpRequest(std::string url, std::string method, std::string body = {},
                                 HttpHeaders headers = {},
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
Result<HttpResponse> httpGet(std::string url,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Like httpRequest(), but keeps its connection open between requests (HTTP keep-alive), for
// load loops and for tests of connection handling. Not thread-safe: one client per thread.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> request(const HttpRequest& request);
  Result<HttpResponse> get(std::string url,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  void* handle_;  // CURL*; kept opaque so tests need not see curl.h
};

}  // namespace runway::test
