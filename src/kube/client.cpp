#include "runway/kube/client.hpp"

#include <algorithm>
#include <charconv>
#include <thread>

#include "runway/http/client.hpp"
#include <boost/json.hpp>
#include <fmt/format.h>

namespace runway::kube {
namespace {

namespace json = boost::json;

// Appends "&name=value" (or "?name=value" for the first) when value is not empty.
void addQuery(std::string& path, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  path += path.find('?') == std::string::npos ? '?' : '&';
  path += name;
  path += '=';
  path += http::urlEncode(value);
}

std::string_view stringOr(const json::object& o, std::string_view key, std::string_view fallback) {
  if (const auto* v = o.if_contains(key); v != nullptr && v->is_string()) return v->get_string();
  return fallback;
}

ErrorCode codeForStatus(long status) {
  switch (status) {
    case 400:
    case 422:
      return ErrorCode::InvalidArgument;
    case 401:
      return ErrorCode::Unauthenticated;
    case 403:
      return ErrorCode::PermissionDenied;
    case 404:
      return ErrorCode::NotFound;
    case 409:
      return ErrorCode::Conflict;
    case 410:
      return ErrorCode::FailedPrecondition;
    case 413:
      return ErrorCode::PayloadTooLarge;
    case 504:
      return ErrorCode::Timeout;
    case 429:
      return ErrorCode::Unavailable;
    default:
      return status >= 500 ? ErrorCode::Unavailable : ErrorCode::Internal;
  }
}

// "<VERB> <path>: <code> <reason>: <message>" from a Status body (or the raw body's start).
Error statusError(std::string_view method, std::string_view path, const HttpResponse& response) {
  std::string reason;
  std::string message;
  boost::system::error_code ec;
  const auto doc = json::parse(response.body, ec);
  if (!ec && doc.is_object()) {
    const auto& o = doc.as_object();
    reason = std::string(stringOr(o, "reason", ""));
    message = std::string(stringOr(o, "message", ""));
  }
  if (message.empty()) message = response.body.substr(0, 200);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return Error(codeForStatus(response.status),
               fmt::format("{} {}: {}{}{}: {}", method, path, response.status,
                           reason.empty() ? "" : " ", reason, message));
}

bool retryableStatus(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// Retry-After in seconds (an HTTP date is not used by the API server); nullopt when absent.
std::optional<Duration> retryAfter(const HttpResponse& response) {
  const auto it = response.headers.find("retry-after");
  if (it == response.headers.end()) return std::nullopt;
  long long seconds = 0;
  const auto& v = it->second;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec != std::errc() || end != v.data() + v.size() || seconds < 0) return std::nullopt;
  return std::chrono::duration_cast<Duration>(std::chrono::seconds(seconds));
}

Result<Object> parseObject(std::string_view method, std::string_view path, const std::string& body) {
  boost::system::error_code ec;
  auto doc = json::parse(body, ec);
  if (ec || !doc.is_object()) {
    return fail(ErrorCode::Internal,
                fmt::format("{} {}: the API server answered with something other than a JSON "
                            "object",
                            method, path));
  }
  return std::move(doc.as_object());
}

class ClientImpl final : public Client {
 public:
  ClientImpl(Connection connection, ClientOptions options)
      : connection_(std::move(connection)), options_(std::move(options)) {
    if (!options_.clock) options_.clock = systemClock();
    if (!options_.sleep) options_.sleep = [](Duration d) { std::this_thread::sleep_for(d); };
    if (!options_.transport) options_.transport = httpTransport();
    if (!options_.plugin_runner) options_.plugin_runner = processPluginRunner();
    if (options_.max_attempts < 1) options_.max_attempts = 1;
    credentials_ = makeCredentialSource(connection_, options_.clock, options_.plugin_runner);
  }

  // Client
  const Connection& connection() const override { return connection_; }

  Result<Object> get(const Resource& resource, std::string_view ns, std::string_view name) override {
    return object("GET", resourcePath(resource, ns, name), {}, {});
  }

  Result<ObjectList> list(const Resource& resource, std::string_view ns,
                          const ListOptions& options) override {
    auto path = resourcePath(resource, ns);
    addQuery(path, "labelSelector", options.label_selector);
    addQuery(path, "fieldSelector", options.field_selector);
    addQuery(path, "resourceVersion", options.resource_version);
    auto doc = object("GET", path, {}, {});
    if (!doc) return fail(doc.error());
    ObjectList result;
    if (const auto* metadata = doc->if_contains("metadata"); metadata && metadata->is_object()) {
      result.resource_version = std::string(stringOr(metadata->get_object(), "resourceVersion", ""));
    }
    if (auto* items = doc->if_contains("items"); items && items->is_array()) {
      for (auto& item : items->get_array()) {
        if (item.is_object()) result.items.push_back(std::move(item.get_object()));
      }
    }
    return result;
  }

  Result<Object> create(const Resource& resource, std::string_view ns, const Object& body) override {
    auto path = resourcePath(resource, ns);
    addQuery(path, "fieldManager", options_.field_manager);
    return object("POST", path, json::serialize(body), "application/json");
  }

  Result<Object> mergePatch(const Resource& resource, std::string_view ns, std::string_view name,
                            const Object& patch) override {
    auto path = resourcePath(resource, ns, name);
    addQuery(path, "fieldManager", options_.field_manager);
    return object("PATCH", path, json::serialize(patch), "application/merge-patch+json");
  }

  Result<Object> apply(const Resource& resource, std::string_view ns, std::string_view name,
                       const Object& body) override {
    auto path = resourcePath(resource, ns, name);
    addQuery(path, "fieldManager", options_.field_manager);
    addQuery(path, "force", "true");
    // JSON is YAML: the apply patch type takes either.
    return object("PATCH", path, json::serialize(body), "application/apply-patch+yaml");
  }

  Result<void> remove(const Resource& resource, std::string_view ns, std::string_view name,
                      const DeleteOptions& options) override {
    const json::object body{{"apiVersion", "v1"},
                            {"kind", "DeleteOptions"},
                            {"propagationPolicy", options.propagation_policy}};
    auto done = object("DELETE", resourcePath(resource, ns, name), json::serialize(body),
                       "application/json");
    if (!done) return fail(done.error());
    return {};
  }

  Result<Object> call(std::string_view method, std::string_view path, const Object& body) override {
    const bool has_body = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
    return object(method, std::string(path), has_body ? json::serialize(body) : std::string{},
                  has_body ? "application/json" : "");
  }

  Result<std::string> getText(std::string_view path) override {
    auto response = send("GET", std::string(path), {}, {}, "text/plain, */*");
    if (!response) return fail(response.error());
    return std::move(response->body);
  }

  Result<void> stream(std::string_view path, const std::function<bool(std::string_view)>& on_data,
                      std::stop_token stop) override {
    const std::string target(path);
    bool refreshed = false;
    for (;;) {
      auto credential = credentials_->current();
      if (!credential) return fail(credential.error());
      auto request = makeRequest("GET", target, {}, {}, *credential, "text/plain, */*");
      request.timeout = Duration::zero();  // as long as the server sends (a followed log)
      auto response = options_.transport->stream(request, on_data, stop);
      if (!response) return fail(response.error());
      if (response->status == 401 && !refreshed && credentials_->invalidate(*credential)) {
        refreshed = true;
        continue;
      }
      if (response->status < 200 || response->status >= 300) {
        return fail(statusError("GET", target, *response));
      }
      return {};
    }
  }

  Result<WatchEnd> watch(const Resource& resource, std::string_view ns, const WatchOptions& options,
                         const std::function<bool(const WatchEvent&)>& on_event,
                         std::stop_token stop) override {
    auto path = resourcePath(resource, ns);
    addQuery(path, "watch", "true");
    addQuery(path, "labelSelector", options.label_selector);
    addQuery(path, "fieldSelector", options.field_selector);
    addQuery(path, "resourceVersion", options.resource_version);
    if (options.allow_bookmarks) addQuery(path, "allowWatchBookmarks", "true");
    addQuery(path, "timeoutSeconds", std::to_string(options.timeout.count()));

    std::string pending;
    std::optional<WatchEnd> end;
    std::optional<Error> error;
    const auto on_data = [&](std::string_view data) {
      pending.append(data);
      std::size_t start = 0;
      for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
        const std::string_view line(pending.data() + start, nl - start);
        start = nl + 1;
        if (line.empty()) continue;
        if (!handleLine(path, line, on_event, end, error)) {
          pending.erase(0, start);
          return false;
        }
      }
      pending.erase(0, start);
      return true;
    };

    bool refreshed = false;
    for (;;) {
      auto credential = credentials_->current();
      if (!credential) return fail(credential.error());
      auto request = makeRequest("GET", path, {}, {}, *credential);
      // The server ends the watch after timeoutSeconds; the transport waits a little longer.
      request.timeout = std::chrono::duration_cast<Duration>(options.timeout) + std::chrono::seconds(30);
      auto response = options_.transport->stream(request, on_data, stop);
      if (!response) {
        if (response.error().code == ErrorCode::Timeout) return WatchEnd::Closed;
        return fail(response.error());
      }
      if (response->status == 401 && !refreshed && credentials_->invalidate(*credential)) {
        refreshed = true;
        continue;
      }
      if (response->status == 410) return WatchEnd::Expired;
      if (response->status < 200 || response->status >= 300) {
        return fail(statusError("WATCH", path, *response));
      }
      if (error) return fail(std::move(*error));
      if (end) return *end;
      return stop.stop_requested() ? WatchEnd::Stopped : WatchEnd::Closed;
    }
  }

 private:
  // One line of a watch stream. Returns false to end the watch (setting `end` or `error`).
  static bool handleLine(const std::string& path, std::string_view line,
                         const std::function<bool(const WatchEvent&)>& on_event,
                         std::optional<WatchEnd>& end, std::optional<Error>& error) {
    boost::system::error_code ec;
    auto doc = json::parse(line, ec);
    if (ec || !doc.is_object()) {
      error = Error(ErrorCode::Internal, fmt::format("WATCH {}: an event that is not JSON", path));
      return false;
    }
    auto& o = doc.as_object();
    const auto type = stringOr(o, "type", "");
    auto* object_value = o.if_contains("object");
    if (object_value == nullptr || !object_value->is_object()) {
      error = Error(ErrorCode::Internal, fmt::format("WATCH {}: an event without an object", path));
      return false;
    }
    WatchEvent event;
    if (type == "ADDED") {
      event.type = WatchEvent::Type::Added;
    } else if (type == "MODIFIED") {
      event.type = WatchEvent::Type::Modified;
    } else if (type == "DELETED") {
      event.type = WatchEvent::Type::Deleted;
    } else if (type == "BOOKMARK") {
      event.type = WatchEvent::Type::Bookmark;
    } else if (type == "ERROR") {
      // A Status. 410 (Expired / Gone): the resourceVersion was compacted away.
      const auto& status = object_value->get_object();
      const auto* code = status.if_contains("code");
      if (code != nullptr && code->is_int64() && code->get_int64() == 410) {
        end = WatchEnd::Expired;
        return false;
      }
      HttpResponse as_response;
      as_response.status = code != nullptr && code->is_int64() ? code->get_int64() : 500;
      as_response.body = json::serialize(status);
      error = statusError("WATCH", path, as_response);
      return false;
    } else {
      error = Error(ErrorCode::Internal,
                    fmt::format("WATCH {}: unknown event type \"{}\"", path, type));
      return false;
    }
    event.object = std::move(object_value->get_object());
    if (!on_event(event)) {
      end = WatchEnd::Stopped;
      return false;
    }
    return true;
  }

  HttpRequest makeRequest(std::string_view method, const std::string& path, std::string body,
                          std::string_view content_type, const Credential& credential,
                          std::string_view accept = "application/json") const {
    HttpRequest request;
    request.method = std::string(method);
    request.url = connection_.server + path;
    request.body = std::move(body);
    request.timeout = options_.request_timeout;
    request.headers.emplace_back("Accept", std::string(accept));
    request.headers.emplace_back("User-Agent", "runway");
    if (!content_type.empty()) request.headers.emplace_back("Content-Type", std::string(content_type));
    if (!credential.token.empty()) {
      request.headers.emplace_back("Authorization", "Bearer " + credential.token);
    }
    request.certificate_authority_pem = connection_.certificate_authority_pem;
    request.insecure_skip_tls_verify = connection_.insecure_skip_tls_verify;
    request.client_certificate_pem = credential.client_certificate_pem;
    request.client_key_pem = credential.client_key_pem;
    return request;
  }

  Duration backoff(int attempt) const {
    auto d = options_.first_backoff;
    for (int i = 1; i < attempt && d < options_.max_backoff; ++i) d *= 2;
    return std::min(d, options_.max_backoff);
  }

  // The request with credentials, retries and back-off; a non-2xx final answer is an error.
  Result<HttpResponse> send(std::string_view method, const std::string& path, const std::string& body,
                            std::string_view content_type,
                            std::string_view accept = "application/json") {
    const bool read = method == "GET";
    bool refreshed = false;
    for (int attempt = 1;; ++attempt) {
      auto credential = credentials_->current();
      if (!credential) return fail(credential.error());
      auto response =
          options_.transport->perform(makeRequest(method, path, body, content_type, *credential, accept));
      if (!response) {
        // A write that got no answer may have been applied: only reads are repeated.
        if (read && attempt < options_.max_attempts &&
            response.error().code != ErrorCode::PayloadTooLarge) {
          options_.sleep(backoff(attempt));
          continue;
        }
        return fail(response.error());
      }
      if (response->status == 401 && !refreshed && credentials_->invalidate(*credential)) {
        refreshed = true;
        --attempt;  // a new credential is not a retry
        continue;
      }
      if (retryableStatus(response->status) && attempt < options_.max_attempts) {
        const auto wait = retryAfter(*response).value_or(backoff(attempt));
        options_.sleep(std::min(wait, options_.max_backoff));
        continue;
      }
      if (response->status < 200 || response->status >= 300) {
        return fail(statusError(method, path, *response));
      }
      return response;
    }
  }

  Result<Object> object(std::string_view method, const std::string& path, const std::string& body,
                        std::string_view content_type) {
    auto response = send(method, path, body, content_type);
    if (!response) return fail(response.error());
    return parseObject(method, path, response->body);
  }

  Connection connection_;
  ClientOptions options_;
  std::unique_ptr<CredentialSource> credentials_;
};

bool retryable(const Error& error) {
  return error.code == ErrorCode::Unavailable || error.code == ErrorCode::Timeout ||
         error.code == ErrorCode::Internal;
}

std::string resourceVersionOf(const Object& object) {
  if (const auto* metadata = object.if_contains("metadata"); metadata && metadata->is_object()) {
    return std::string(stringOr(metadata->get_object(), "resourceVersion", ""));
  }
  return {};
}

}  // namespace

std::string resourcePath(const Resource& resource, std::string_view ns, std::string_view name) {
  RUNWAY_ASSERT(!resource.namespaced || !ns.empty());
  std::string path = resource.group.empty()
                         ? fmt::format("/api/{}", resource.version)
                         : fmt::format("/apis/{}/{}", resource.group, resource.version);
  if (resource.namespaced) path += fmt::format("/namespaces/{}", http::urlEncode(ns));
  path += '/';
  path += resource.plural;
  if (!name.empty()) {
    path += '/';
    path += http::urlEncode(name);
  }
  return path;
}

std::unique_ptr<Client> makeClient(Connection connection, ClientOptions options) {
  RUNWAY_ASSERT(!connection.server.empty());
  return std::make_unique<ClientImpl>(std::move(connection), std::move(options));
}

Result<void> listAndWatch(Client& client, const Resource& resource, std::string_view ns,
                          const std::string& label_selector, std::string resource_version,
                          const CollectionHandlers& handlers, const Sleep& sleep,
                          std::stop_token stop) {
  constexpr Duration kFirstBackoff{std::chrono::milliseconds(200)};
  constexpr Duration kMaxBackoff{std::chrono::seconds(30)};
  Duration wait = kFirstBackoff;
  const auto backOff = [&] {
    sleep(wait);
    wait = std::min(wait * 2, kMaxBackoff);
  };
  bool need_list = resource_version.empty();
  while (!stop.stop_requested()) {
    if (need_list) {
      auto listed = client.list(resource, ns, ListOptions{label_selector, {}, {}});
      if (!listed) {
        if (!retryable(listed.error())) return fail(listed.error());
        backOff();
        continue;
      }
      resource_version = listed->resource_version;
      need_list = false;
      // The server answers again: a failure after this starts the back-off afresh (after an
      // outage it had grown towards 30 s, and the next blip would have waited that long).
      wait = kFirstBackoff;
      if (handlers.on_list) handlers.on_list(*listed);
    }
    WatchOptions options;
    options.label_selector = label_selector;
    options.resource_version = resource_version;
    auto ended = client.watch(
        resource, ns, options,
        [&](const WatchEvent& event) {
          wait = kFirstBackoff;  // the watch works
          if (auto rv = resourceVersionOf(event.object); !rv.empty()) resource_version = std::move(rv);
          if (handlers.on_event) handlers.on_event(event);
          return true;
        },
        stop);
    if (!ended) {
      if (ended.error().code == ErrorCode::FailedPrecondition) {  // 410 as an HTTP status
        need_list = true;
        continue;
      }
      if (!retryable(ended.error())) return fail(ended.error());
      backOff();
      continue;
    }
    switch (*ended) {
      case WatchEnd::Stopped:
        return {};
      case WatchEnd::Expired:
        need_list = true;
        break;
      case WatchEnd::Closed:
        break;
    }
    wait = kFirstBackoff;
  }
  return {};
}

}  // namespace runway::kube
