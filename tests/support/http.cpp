#include "support/http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace runway::test {
namespace {

void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      std::fprintf(stderr, "curl_global_init failed\n");
      std::abort();
    }
  });
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

size_t onBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<HttpHeaders*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response (e.g. after 100 Continue): keep only the last one
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    headers->emplace_back(lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
  }
  return size * count;
}

Result<HttpResponse> perform(CURL* curl, const HttpRequest& request) {
  curl_easy_reset(curl);  // keeps the connection cache, drops the previous request's options
  HttpResponse response;
  std::string error_buffer(CURL_ERROR_SIZE, '\0');
  curl_slist* header_list = curl_slist_append(nullptr, "Expect:");
  for (const auto& [name, value] : request.headers) {
    header_list = curl_slist_append(header_list, (name + ": " + value).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");  // never through a proxy from the environment
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer.data());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  if (!request.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (!request.body.empty() || (request.method != "GET" && request.method != "HEAD")) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
  }
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(header_list);
  if (code != CURLE_OK) {
    const std::string detail =
        error_buffer[0] != '\0' ? std::string(error_buffer.c_str()) : curl_easy_strerror(code);
    const ErrorCode kind =
        code == CURLE_OPERATION_TIMEDOUT ? ErrorCode::Timeout : ErrorCode::Unavailable;
    return fail(kind, request.method + " " + request.url + ": " + detail);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  const std::string wanted = lower(name);
  for (const auto& [key, value] : headers) {
    if (key == wanted) return value;
  }
  return std::nullopt;
}

HttpClient::HttpClient() {
  initCurlOnce();
  handle_ = curl_easy_init();
  if (handle_ == nullptr) {
    std::fprintf(stderr, "curl_easy_init failed\n");
    std::abort();
  }
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(handle_)); }

Result<HttpResponse> HttpClient::request(const HttpRequest& request) {
  return perform(static_cast<CURL*>(handle_), request);
}

Result<HttpResponse> HttpClient::get(std::string url, std::chrono::milliseconds timeout) {
  HttpRequest request;
  request.url = std::move(url);
  request.timeout = timeout;
  return perform(static_cast<CURL*>(handle_), request);
}

Result<HttpResponse> httpRequest(const HttpRequest& request) {
  HttpClient client;
  return client.request(request);
}

Result<HttpResponse> httpRequest(std::string url, std::string method, std::string body,
                                 HttpHeaders headers, std::chrono::milliseconds timeout) {
  HttpRequest request{std::move(url), std::move(method), std::move(body), std::move(headers),
                      timeout};
  return httpRequest(request);
}

Result<HttpResponse> httpGet(std::string url, std::chrono::milliseconds timeout) {
  HttpRequest request;
  request.url = std::move(url);
  request.timeout = timeout;
  return httpRequest(request);
}

}  // namespace runway::test
