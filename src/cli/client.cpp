#include "client.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <curl/curl.h>
#include <fmt/format.h>

#include "commands.hpp"
#include "server_files.hpp"

namespace runway::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

std::shared_ptr<ClientFlags> addClientFlags(CLI::App* command) {
  auto flags = std::make_shared<ClientFlags>();
  command->add_option("--server", flags->server, "Server URL (default: $RUNWAY_SERVER, config file, the local server)");
  command->add_option("--token", flags->token, "Bearer token (default: $RUNWAY_TOKEN, config file, DATA/admin.token)");
  command->add_option("--data", flags->data, "Data directory of a local server (default: " + defaultDataDir() + ")");
  command->add_option("--ca-file", flags->ca_file, "PEM CA bundle to verify an HTTPS server");
  return flags;
}

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n\"");
  const auto e = s.find_last_not_of(" \t\r\n\"");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// ~/.config/runway/config: `key = value` lines, '#' comments.
Result<std::map<std::string, std::string>> readUserConfig() {
  std::map<std::string, std::string> out;
  std::string base = env("XDG_CONFIG_HOME");
  if (base.empty()) {
    const std::string home = env("HOME");
    if (home.empty()) return out;
    base = home + "/.config";
  }
  const fs::path path = fs::path(base) / "runway" / "config";
  std::ifstream in(path);
  if (!in) return out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    if (trim(line).empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      return fail(ErrorCode::InvalidArgument, fmt::format("{}:{}: expected `key = value`", path.string(), n));
    }
    out[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return out;
}

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

bool isLoopbackUrl(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || !parsed->has_authority()) return false;
  // After an authority the path is empty or starts with '/' (RFC 3986 path-abempty). Boost.URL
  // 1.81 accepts "http://127.0.0.1.example.net" as host 127.0.0.1 with the path ".example.net".
  const auto path = parsed->encoded_path();
  if (!path.empty() && path.front() != '/') return false;
  switch (parsed->host_type()) {
    case boost::urls::host_type::ipv4: return parsed->host_ipv4_address().is_loopback();
    case boost::urls::host_type::ipv6: return parsed->host_ipv6_address().is_loopback();
    case boost::urls::host_type::name: {
      std::string host = parsed->host();  // percent-decoded
      for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return host == "localhost" || host == "localhost.";
    }
    default: return false;
  }
}

Result<ClientSettings> resolveClient(const ClientFlags& flags) {
  ClientSettings s;
  auto user = readUserConfig();
  if (!user) return fail(user.error());
  const fs::path data = flags.data.empty() ? fs::path(defaultDataDir()) : fs::path(flags.data);
  s.server = flags.server;
  if (s.server.empty()) s.server = env("RUNWAY_SERVER");
  if (s.server.empty() && user->count("server") != 0) s.server = user->at("server");
  if (s.server.empty()) {
    if (auto f = readServerFile(data)) s.server = f->url;
  }
  if (s.server.empty()) s.server = "http://127.0.0.1:7400";
  while (!s.server.empty() && s.server.back() == '/') s.server.pop_back();
  if (s.server.find("://") == std::string::npos) s.server = "http://" + s.server;
  s.token = flags.token;
  s.token_source = "--token";
  if (s.token.empty()) {
    s.token = env("RUNWAY_TOKEN");
    s.token_source = "RUNWAY_TOKEN";
  }
  if (s.token.empty() && user->count("token") != 0) {
    s.token = user->at("token");
    s.token_source = "~/.config/runway/config";
  }
  if (s.token.empty() && isLoopbackUrl(s.server)) {
    std::ifstream in(data / "admin.token");
    std::string t;
    if (in >> t) {
      s.token = t;
      s.token_source = (data / "admin.token").string();
    }
  }
  s.ca_file = flags.ca_file;
  return s;
}

ApiClient::ApiClient(ClientSettings settings) : settings_(std::move(settings)) {}

Result<json::value> ApiClient::get(const std::string& path) { return call("GET", path, ""); }
Result<json::value> ApiClient::post(const std::string& path, const json::value& body) {
  return call("POST", path, json::serialize(body));
}
Result<json::value> ApiClient::del(const std::string& path) { return call("DELETE", path, ""); }

Result<json::value> ApiClient::call(const std::string& method, const std::string& path, const std::string& body) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return fail(ErrorCode::Internal, "libcurl could not start");
  std::string response;
  const std::string url = settings_.server + path;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Content-Type: application/json");
  std::string auth;
  if (!settings_.token.empty()) {
    auth = "Authorization: Bearer " + settings_.token;
    headers = curl_slist_append(headers, auth.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!settings_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, settings_.ca_file.c_str());
  if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return fail(ErrorCode::Unavailable, fmt::format("cannot reach the runway server at {}: {} (is `runway serve` "
                                                    "running? set --server or RUNWAY_SERVER)",
                                                    settings_.server, curl_easy_strerror(rc)));
  }
  if (status >= 400) return fail(errorOf(status, response));
  json::error_code ec;
  json::value v = json::parse(response, ec);
  if (ec) return fail(ErrorCode::Internal, "the server's answer is not JSON: " + ec.message());
  return v;
}

Error ApiClient::errorOf(long status, const std::string& response) const {
  json::error_code ec;
  json::value v = json::parse(response, ec);
  if (!ec && v.is_object() && v.as_object().contains("error")) {
    const auto& e = v.at("error");
    std::string message = e.is_object() && e.as_object().contains("message") && e.at("message").is_string()
                              ? std::string(e.at("message").get_string())
                              : response;
    ErrorCode code = codeFromHttpStatus(static_cast<int>(status));
    if (e.is_object() && e.as_object().contains("code") && e.at("code").is_string()) {
      code = codeFromName(e.at("code").get_string());
    }
    if (code == ErrorCode::Unauthenticated) {
      message += settings_.token.empty()
                     ? " (no token: pass --token, set RUNWAY_TOKEN, or run on the server's machine "
                       "where DATA/admin.token is read)"
                     : " (token from " + settings_.token_source + ")";
    }
    return Error(code, message);
  }
  return Error(codeFromHttpStatus(static_cast<int>(status)), fmt::format("server answered {}: {}", status, response));
}

namespace {

// One server-sent-events exchange: the body parsed into events as it arrives.
struct SseExchange {
  CURL* curl = nullptr;
  const std::function<bool(const SseMessage&)>* on_event = nullptr;
  const std::function<bool()>* keep_going = nullptr;
  long status = 0;
  std::string error_body;  // a non-2xx answer (a JSON error)
  std::string pending;     // an unfinished line
  SseMessage message;
  bool stopped = false;
};

size_t onSseData(char* data, size_t size, size_t n, void* p) {
  auto* x = static_cast<SseExchange*>(p);
  if (x->status == 0) curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
  if (x->status >= 300) {
    if (x->error_body.size() < 65536) x->error_body.append(data, size * n);
    return size * n;
  }
  x->pending.append(data, size * n);
  std::size_t start = 0;
  for (auto nl = x->pending.find('\n', start); nl != std::string::npos; nl = x->pending.find('\n', start)) {
    std::string_view line(x->pending.data() + start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {  // the end of one event
      if (!x->message.data.empty() || !x->message.type.empty()) {
        if (!x->message.data.empty() && x->message.data.back() == '\n') x->message.data.pop_back();
        if (!(*x->on_event)(x->message)) {
          x->stopped = true;
          return 0;
        }
      }
      x->message = SseMessage{};
      continue;
    }
    if (line.front() == ':') continue;  // a comment (keep-alive)
    const auto colon = line.find(':');
    const auto field = line.substr(0, colon);
    auto value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "event") x->message.type = std::string(value);
    if (field == "data") {
      x->message.data.append(value);
      x->message.data.push_back('\n');
    }
  }
  x->pending.erase(0, start);
  return size * n;
}

int onSseProgress(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* x = static_cast<SseExchange*>(p);
  if (!(*x->keep_going)()) {
    x->stopped = true;
    return 1;
  }
  return 0;
}

}  // namespace

Result<void> ApiClient::stream(const std::string& path, const std::function<bool(const SseMessage&)>& on_event,
                               const std::function<bool()>& keep_going) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return fail(ErrorCode::Internal, "libcurl could not start");
  const std::string url = settings_.server + path;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: text/event-stream");
  std::string auth;
  if (!settings_.token.empty()) {
    auth = "Authorization: Bearer " + settings_.token;
    headers = curl_slist_append(headers, auth.c_str());
  }
  SseExchange x;
  x.curl = curl;
  x.on_event = &on_event;
  x.keep_going = &keep_going;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onSseData);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, onSseProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &x);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!settings_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, settings_.ca_file.c_str());
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (x.stopped) return {};
  if (rc != CURLE_OK) {
    return fail(ErrorCode::Unavailable, fmt::format("cannot reach the runway server at {}: {} (is `runway serve` "
                                                    "running? set --server or RUNWAY_SERVER)",
                                                    settings_.server, curl_easy_strerror(rc)));
  }
  if (status >= 300) return fail(errorOf(status, x.error_body));
  return {};
}

int reportError(const Error& error) {
  fmt::print(stderr, "runway: {}\n", error.message);
  return exitCode(error.code);
}

}  // namespace runway::cli
