#include "runway/http/client.hpp"
#include "runway/kube/transport.hpp"

namespace runway::kube {
namespace {

constexpr std::size_t kMaxBody = 64 * 1024 * 1024;

http::Request toHttp(const HttpRequest& request) {
  http::Request r;
  r.method = request.method;
  r.url = request.url;
  for (const auto& [name, value] : request.headers) r.headers[name] = value;
  r.body = request.body;
  r.timeout = request.timeout;  // 0 = none (watches)
  r.ca_pem = request.certificate_authority_pem;
  r.insecure_skip_verify = request.insecure_skip_tls_verify;
  r.client_certificate_pem = request.client_certificate_pem;
  r.client_key_pem = request.client_key_pem;
  r.max_body = kMaxBody;
  return r;
}

HttpResponse fromHttp(http::Response&& response) {
  HttpResponse r;
  r.status = response.status;
  r.headers = std::move(response.headers);
  r.body = std::move(response.body);
  return r;
}

// The Kubernetes client's transport over runway's one HTTP client (runway::http), which sets
// the policy: no proxies from the environment, no redirects, http and https only, HTTP/1.1.
class HttpClientTransport final : public Transport {
 public:
  // Transport
  Result<HttpResponse> perform(const HttpRequest& request) override {
    auto response = http::send(toHttp(request));
    if (!response) return fail(response.error());
    return fromHttp(std::move(*response));
  }
  Result<HttpResponse> stream(const HttpRequest& request,
                              const std::function<bool(std::string_view)>& on_data,
                              std::stop_token stop) override {
    auto response = http::stream(toHttp(request), on_data, [&stop] { return !stop.stop_requested(); });
    if (!response) return fail(response.error());
    return fromHttp(std::move(*response));
  }
};

}  // namespace

std::shared_ptr<Transport> httpTransport() { return std::make_shared<HttpClientTransport>(); }

}  // namespace runway::kube
