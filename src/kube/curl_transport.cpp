#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "runway/kube/transport.hpp"

namespace runway::kube {
namespace {

constexpr std::size_t kMaxBody = 64 * 1024 * 1024;
constexpr std::size_t kMaxErrorBody = 1024 * 1024;

void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Exchange {
  CURL* curl = nullptr;
  HttpResponse* response = nullptr;
  const std::function<bool(std::string_view)>* on_data = nullptr;  // null: keep the body
  std::stop_token stop;
  bool overflow = false;
  bool stopped = false;  // by on_data or stop: not an error
};

std::size_t onHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) x->response->headers.clear();  // a new response (after 100)
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    x->response->headers[name] = std::string(value);
  }
  return n;
}

std::size_t onBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const std::size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
  const bool streaming = x->on_data != nullptr && status >= 200 && status < 300;
  if (streaming) {
    if (x->stop.stop_requested() || !(*x->on_data)(std::string_view(data, n))) {
      x->stopped = true;
      return 0;  // makes curl end the transfer with CURLE_WRITE_ERROR
    }
    return n;
  }
  const std::size_t limit = x->on_data != nullptr ? kMaxErrorBody : kMaxBody;
  if (x->response->body.size() + n > limit) {
    x->overflow = true;
    return 0;
  }
  x->response->body.append(data, n);
  return n;
}

// Called by curl about once a second even when no data flows: how a stop reaches a watch that
// is waiting for its next event.
int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* x = static_cast<Exchange*>(user);
  if (x->stop.stop_requested()) {
    x->stopped = true;
    return 1;
  }
  return 0;
}

void setBlob(CURL* c, CURLoption option, const std::string& pem) {
  curl_blob blob{};
  blob.data = const_cast<char*>(pem.data());  // curl copies it (CURL_BLOB_COPY)
  blob.len = pem.size();
  blob.flags = CURL_BLOB_COPY;
  curl_easy_setopt(c, option, &blob);
}

class CurlTransport final : public Transport {
 public:
  CurlTransport() { initCurlOnce(); }

  // Transport
  Result<HttpResponse> perform(const HttpRequest& request) override {
    return exchange(request, nullptr, {});
  }
  Result<HttpResponse> stream(const HttpRequest& request,
                              const std::function<bool(std::string_view)>& on_data,
                              std::stop_token stop) override {
    return exchange(request, &on_data, std::move(stop));
  }

 private:
  static Result<HttpResponse> exchange(const HttpRequest& request,
                                       const std::function<bool(std::string_view)>* on_data,
                                       std::stop_token stop) {
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return fail(ErrorCode::Internal, "cannot initialise libcurl");
    CURL* c = curl.get();
    HttpResponse response;
    Exchange x{c, &response, on_data, std::move(stop)};

    curl_slist* list = nullptr;
    for (const auto& [name, value] : request.headers) {
      list = curl_slist_append(list, fmt::format("{}: {}", name, value).c_str());
    }
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
    std::unique_ptr<curl_slist, SlistDeleter> headers(list);

    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
        request.method == "PATCH") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &onHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &onBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &onProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");  // never a proxy from the environment
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    // HTTP/1.1: over HTTP/2 (libcurl's default for https) kube-apiserver ends a refused POST's
    // stream before its body ("Transferred a partial file", no Status message). Each exchange
    // has a connection of its own anyway, so HTTP/2's multiplexing would buy nothing.
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
    if (request.timeout.count() > 0) {
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    }
    // TLS from memory: keys never touch the disk.
    if (!request.certificate_authority_pem.empty()) {
      setBlob(c, CURLOPT_CAINFO_BLOB, request.certificate_authority_pem);
    }
    if (request.insecure_skip_tls_verify) {
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!request.client_certificate_pem.empty()) {
      setBlob(c, CURLOPT_SSLCERT_BLOB, request.client_certificate_pem);
      curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
      setBlob(c, CURLOPT_SSLKEY_BLOB, request.client_key_pem);
      curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }

    const CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
    if (rc == CURLE_OK || x.stopped) return response;
    // A refusal whose body was cut short is still the server's answer.
    if (rc == CURLE_PARTIAL_FILE && response.status >= 400) return response;
    // The URL names the server and path only; headers (with the token) never reach a message.
    const auto where = fmt::format("{} {}", request.method, request.url);
    if (x.overflow) {
      return fail(ErrorCode::PayloadTooLarge, fmt::format("{}: response body over {} bytes", where,
                                                           on_data ? kMaxErrorBody : kMaxBody));
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return fail(ErrorCode::Timeout, fmt::format("{}: {}", where, curl_easy_strerror(rc)));
    }
    return fail(ErrorCode::Unavailable, fmt::format("{}: {}", where, curl_easy_strerror(rc)));
  }
};

}  // namespace

std::shared_ptr<Transport> curlTransport() { return std::make_shared<CurlTransport>(); }

}  // namespace runway::kube
