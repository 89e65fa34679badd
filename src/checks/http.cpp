#include "http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include <fmt/format.h>

namespace runway::checks::detail {
namespace {

void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Sink {
  HttpResponse* response;
  std::size_t max;
};

std::size_t writeBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t n = size * count;
  auto& body = sink->response->body;
  if (body.size() < sink->max) body.append(data, std::min(n, sink->max - body.size()));
  return n;
}

std::size_t writeHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  const std::size_t n = size * count;
  std::string line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    response->headers.clear();  // a new response (after 100 Continue)
    return n;
  }
  const auto colon = line.find(':');
  if (colon == std::string::npos) return n;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto value = line.substr(colon + 1);
  const auto first = value.find_first_not_of(" \t");
  const auto last = value.find_last_not_of(" \t\r\n");
  value = first == std::string::npos ? std::string() : value.substr(first, last - first + 1);
  response->headers[name] = value;
  return n;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

Result<HttpResponse> perform(CURL* c, const HttpRequest& request, bool reuse) {
  curl_easy_reset(c);
  if (!reuse) curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  HttpResponse response;
  Sink sink{&response, request.max_body};
  curl_slist* list = nullptr;
  for (const auto& [name, value] : request.headers) {
    list = curl_slist_append(list, fmt::format("{}: {}", name, value).c_str());
  }
  // curl would otherwise send "Expect: 100-continue" for larger bodies.
  list = curl_slist_append(list, "Expect:");
  std::unique_ptr<curl_slist, SlistDeleter> headers(list);
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  // Health, smoke and registry requests are HTTP: never file://, dict://, gopher:// or the
  // other protocols curl speaks (a check's URL comes from the configuration).
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, writeBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, writeHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response);
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method == "GET" && request.body.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
  }
  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return fail(ErrorCode::Timeout,
                fmt::format("{} {}: no response within {}ms", request.method, request.url,
                            request.timeout.count()));
  }
  if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("{} {}: only http:// and https:// URLs are requested", request.method,
                            request.url));
  }
  if (rc != CURLE_OK) {
    return fail(ErrorCode::Unavailable,
                fmt::format("{} {}: {}", request.method, request.url, curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  double total = 0;
  curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &total);
  response.elapsed_ms = total * 1000.0;
  return response;
}

}  // namespace

Result<HttpResponse> httpRequest(const HttpRequest& request) {
  initCurlOnce();
  CURL* c = curl_easy_init();
  if (c == nullptr) return fail(ErrorCode::Internal, "cannot initialise libcurl");
  auto result = perform(c, request, false);
  curl_easy_cleanup(c);
  return result;
}

HttpConnection::HttpConnection() {
  initCurlOnce();
  handle_ = curl_easy_init();
}

HttpConnection::~HttpConnection() {
  if (handle_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(handle_));
}

Result<HttpResponse> HttpConnection::request(const HttpRequest& request) {
  if (handle_ == nullptr) return fail(ErrorCode::Internal, "cannot initialise libcurl");
  return perform(static_cast<CURL*>(handle_), request, true);
}

bool isSuccess(long status) { return status >= 200 && status < 300; }

}  // namespace runway::checks::detail
