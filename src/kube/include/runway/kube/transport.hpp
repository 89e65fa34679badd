#pragma once

// The HTTP exchange under the Kubernetes client: one seam, so that unit tests drive the client
// (retries, 410, 409, 401) with a fake and integration tests with the real API server.

#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::kube {

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute: server + path + query
  std::vector<std::pair<std::string, std::string>> headers;  // may hold secrets: never logged
  std::string body;
  Duration timeout{std::chrono::seconds(30)};  // the whole exchange; 0 = none (watches)
  // TLS, PEM text.
  std::string certificate_authority_pem;  // "" = system trust store
  bool insecure_skip_tls_verify = false;
  std::string client_certificate_pem;
  std::string client_key_pem;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names; the last one wins
  std::string body;  // for stream(): only when the status is not 2xx
};

class Transport {
 public:
  virtual ~Transport() = default;

  // One exchange. Any HTTP status is a response; errors mean no response: Unavailable
  // (connection refused, reset, TLS failure), Timeout, PayloadTooLarge (body over 64 MiB).
  virtual Result<HttpResponse> perform(const HttpRequest& request) = 0;

  // Like perform(), but a 2xx body is handed to `on_data` in pieces as it arrives instead of
  // being kept. Returns when the server ends the response, when `on_data` returns false, or
  // soon (within about a second) after `stop` is requested; the last two are not errors.
  virtual Result<HttpResponse> stream(const HttpRequest& request,
                                      const std::function<bool(std::string_view)>& on_data,
                                      std::stop_token stop) = 0;
};

// Over runway's one HTTP client (runway::http): its policy — no proxies from the environment,
// no redirects, http and https only, HTTP/1.1.
std::shared_ptr<Transport> httpTransport();

}  // namespace runway::kube
