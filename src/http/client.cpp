#include "runway/http/client.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <mutex>

#include <fmt/format.h>

namespace runway::http {
namespace {

// A non-2xx body of a stream is an error document, kept up to this size.
constexpr std::size_t kMaxStreamErrorBody = 1024 * 1024;

constexpr std::array<std::string_view, 6> kMethods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};

std::string lowerCase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// The state of one exchange, shared with curl's callbacks.
struct Exchange {
  CURL* curl = nullptr;
  Response* response = nullptr;
  std::size_t max_body = 0;
  bool truncate = false;
  const std::function<bool(std::string_view)>* on_data = nullptr;  // null: keep the body
  const std::function<bool()>* keep_going = nullptr;                // null: until the end
  bool overflow = false;
  bool stopped = false;  // by on_data or keep_going: not an error
};

// One header line ("Name: value\r\n"; also the status line, which has no colon and resets the
// map: after a 100 Continue only the final response's headers count).
std::size_t onHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const std::size_t n = size * count;
  const std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    x->response->headers.clear();
    return n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  x->response->headers[lowerCase(line.substr(0, colon))] = std::string(trimmed(line.substr(colon + 1)));
  return n;
}

std::size_t onBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const std::size_t n = size * count;
  if (x->on_data != nullptr) {
    long status = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      if ((x->keep_going != nullptr && !(*x->keep_going)()) || !(*x->on_data)(std::string_view(data, n))) {
        x->stopped = true;
        return 0;  // makes curl end the transfer with CURLE_WRITE_ERROR
      }
      return n;
    }
  }
  auto& body = x->response->body;
  if (body.size() + n > x->max_body) {
    if (x->truncate) {
      body.append(data, x->max_body - body.size());
      return n;  // the rest is read and dropped: the response itself is complete
    }
    x->overflow = true;
    return 0;
  }
  body.append(data, n);
  return n;
}

// Called by curl about once a second even when no data flows: how keep_going reaches a stream
// that is waiting for its next piece.
int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* x = static_cast<Exchange*>(user);
  if (x->keep_going != nullptr && !(*x->keep_going)()) {
    x->stopped = true;
    return 1;
  }
  return 0;
}

void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

void setBlob(CURL* c, CURLoption option, const std::string& pem) {
  curl_blob blob{};
  blob.data = const_cast<char*>(pem.data());  // curl copies it (CURL_BLOB_COPY)
  blob.len = pem.size();
  blob.flags = CURL_BLOB_COPY;
  curl_easy_setopt(c, option, &blob);
}

bool isHttpUrl(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return false;
  const std::string scheme = lowerCase(parsed->scheme());
  return scheme == "http" || scheme == "https";
}

// Performs `request` on `c` (reset first; `reuse` keeps its connection for the next call).
Result<Response> perform(CURL* c, const Request& request, bool reuse,
                         const std::function<bool(std::string_view)>* on_data,
                         const std::function<bool()>* keep_going) {
  // How the target appears in a message (only built when there is one).
  const auto target = [&request] { return request.log_name.empty() ? redactedUrl(request.url) : request.log_name; };
  if (std::find(kMethods.begin(), kMethods.end(), request.method) == kMethods.end()) {
    return fail(ErrorCode::InvalidArgument, fmt::format("unsupported HTTP method {}", request.method));
  }
  if (!isHttpUrl(request.url)) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("{} {}: only http:// and https:// URLs are requested", request.method, target()));
  }
  curl_easy_reset(c);
  if (!reuse) curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  Response response;
  Exchange x{c, &response, on_data != nullptr ? kMaxStreamErrorBody : request.max_body,
             request.truncate_body, on_data, keep_going};

  curl_slist* list = nullptr;
  bool has_accept = false;
  for (const auto& [name, value] : request.headers) {
    if (lowerCase(name) == "accept") has_accept = true;
    list = curl_slist_append(list, fmt::format("{}: {}", name, value).c_str());
  }
  if (!request.bearer_token.empty()) {
    list = curl_slist_append(list, fmt::format("Authorization: Bearer {}", request.bearer_token).c_str());
  }
  if (!has_accept) list = curl_slist_append(list, "Accept: application/json");
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip for larger bodies
  std::unique_ptr<curl_slist, SlistDeleter> headers(list);

  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  if (!request.unix_socket.empty()) {
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, request.unix_socket.c_str());
  }
  if (request.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (request.method != "GET" && request.method != "HEAD" &&
      (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
       request.method == "PATCH")) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
  if (keep_going != nullptr) {
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &onProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  }
  // The policy (see the header).
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  if (request.timeout.count() > 0) {
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  }
  if (!request.basic_user.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, request.basic_user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, request.basic_password.c_str());
  }
  if (!request.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, request.ca_file.c_str());
  if (!request.ca_pem.empty()) setBlob(c, CURLOPT_CAINFO_BLOB, request.ca_pem);
  if (!request.client_certificate_pem.empty()) {
    setBlob(c, CURLOPT_SSLCERT_BLOB, request.client_certificate_pem);
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    setBlob(c, CURLOPT_SSLKEY_BLOB, request.client_key_pem);
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (request.insecure_skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  double total = 0;
  curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &total);
  response.elapsed_ms = total * 1000.0;
  if (rc == CURLE_OK || x.stopped) return response;
  // A refusal whose body was cut short is still the server's answer.
  if (rc == CURLE_PARTIAL_FILE && response.status >= 400) return response;
  if (x.overflow) {
    return fail(ErrorCode::PayloadTooLarge, fmt::format("{} {}: response larger than {} bytes",
                                                        request.method, target(), x.max_body));
  }
  const ErrorCode code = rc == CURLE_OPERATION_TIMEDOUT ? ErrorCode::Timeout : ErrorCode::Unavailable;
  return fail(code, fmt::format("{} {}: {}", request.method, target(), curl_easy_strerror(rc)));
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

Result<Response> performOnce(const Request& request, const std::function<bool(std::string_view)>* on_data,
                             const std::function<bool()>* keep_going) {
  initCurlOnce();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return fail(ErrorCode::Internal, "cannot initialise libcurl");
  return perform(curl.get(), request, false, on_data, keep_going);
}

}  // namespace

std::string Response::header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string urlEncode(std::string_view value) {
  return boost::urls::encode(value, boost::urls::unreserved_chars);
}

std::string redactedUrl(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return "<unparsable URL>";
  return fmt::format("{}://{}{}", std::string_view(parsed->scheme()),
                     std::string_view(parsed->encoded_host_and_port()),
                     std::string_view(parsed->encoded_path()));
}

Result<Response> send(const Request& request) { return performOnce(request, nullptr, nullptr); }

Result<Response> get(const Request& request) {
  Request r = request;
  r.method = "GET";
  return send(r);
}

Result<Response> stream(const Request& request, const std::function<bool(std::string_view)>& on_data,
                        const std::function<bool()>& keep_going) {
  return performOnce(request, &on_data, keep_going ? &keep_going : nullptr);
}

struct Connection::Handle {
  std::unique_ptr<CURL, CurlDeleter> curl;
};

Connection::Connection() : handle_(std::make_unique<Handle>()) {
  initCurlOnce();
  handle_->curl.reset(curl_easy_init());
}

Connection::~Connection() = default;

Result<Response> Connection::send(const Request& request) {
  if (!handle_->curl) return fail(ErrorCode::Internal, "cannot initialise libcurl");
  return perform(handle_->curl.get(), request, true, nullptr, nullptr);
}

}  // namespace runway::http
