#pragma once

// A minimal blocking HTTP GET over libcurl for the providers (private to analysis).

#include <map>
#include <string>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::analysis::detail {

struct HttpRequest {
  std::string url;
  std::map<std::string, std::string> headers;
  Duration timeout{std::chrono::seconds(10)};
  std::string bearer_token;   // "" = none
  std::string basic_user;     // "" = none
  std::string basic_password;
  bool insecure_skip_verify = false;
  std::size_t max_body = 16 * 1024 * 1024;
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

// Performs a GET. Errors: Timeout when the deadline passes, Unavailable when the server cannot
// be reached (connection refused, DNS, TLS failure), PayloadTooLarge over max_body. Any HTTP
// status is a response, not an error.
Result<HttpResponse> httpGet(const HttpRequest& request);

// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
std::string urlEncode(const std::string& value);

}  // namespace runway::analysis::detail
