#include "client.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include "commands.hpp"
#include "runway/http/client.hpp"
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

http::Request ApiClient::request(const std::string& method, const std::string& path) const {
  http::Request request;
  request.method = method;
  request.url = settings_.server + path;
  request.bearer_token = settings_.token;
  request.ca_file = settings_.ca_file;
  request.connect_timeout = std::chrono::seconds(5);
  request.timeout = std::chrono::seconds(60);
  return request;
}

Error ApiClient::unreachable(const Error& error) const {
  return Error(ErrorCode::Unavailable, fmt::format("cannot reach the runway server at {}: {} (is `runway serve` "
                                                   "running? set --server or RUNWAY_SERVER)",
                                                   settings_.server, error.message));
}

Result<json::value> ApiClient::call(const std::string& method, const std::string& path, const std::string& body) {
  auto req = request(method, path);
  req.headers["Content-Type"] = "application/json";
  req.body = body;
  auto response = http::send(req);
  if (!response) {
    if (response.error().code == ErrorCode::InvalidArgument) return fail(response.error());
    return fail(unreachable(response.error()));
  }
  if (response->status >= 400) return fail(errorOf(response->status, response->body));
  json::error_code ec;
  json::value v = json::parse(response->body, ec);
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

// Parses a server-sent-event stream as it arrives into events.
class SseParser {
 public:
  explicit SseParser(const std::function<bool(const SseMessage&)>& on_event) : on_event_(on_event) {}

  // Feeds a piece of the body; false once on_event asked to stop.
  bool feed(std::string_view data) {
    pending_.append(data);
    std::size_t start = 0;
    for (auto nl = pending_.find('\n', start); nl != std::string::npos; nl = pending_.find('\n', start)) {
      std::string_view line(pending_.data() + start, nl - start);
      start = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!take(line)) return false;
    }
    pending_.erase(0, start);
    return true;
  }

 private:
  bool take(std::string_view line) {
    if (line.empty()) {  // the end of one event
      bool go_on = true;
      if (!message_.data.empty() || !message_.type.empty()) {
        if (!message_.data.empty() && message_.data.back() == '\n') message_.data.pop_back();
        go_on = on_event_(message_);
      }
      message_ = SseMessage{};
      return go_on;
    }
    if (line.front() == ':') return true;  // a comment (keep-alive)
    const auto colon = line.find(':');
    const auto field = line.substr(0, colon);
    auto value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "event") message_.type = std::string(value);
    if (field == "data") {
      message_.data.append(value);
      message_.data.push_back('\n');
    }
    return true;
  }

  const std::function<bool(const SseMessage&)>& on_event_;
  std::string pending_;  // an unfinished line
  SseMessage message_;
};

}  // namespace

Result<void> ApiClient::stream(const std::string& path, const std::function<bool(const SseMessage&)>& on_event,
                               const std::function<bool()>& keep_going) {
  auto req = request("GET", path);
  req.headers["Accept"] = "text/event-stream";
  req.timeout = Duration::zero();  // until the server ends it or keep_going says no
  SseParser parser(on_event);
  auto response = http::stream(req, [&parser](std::string_view data) { return parser.feed(data); }, keep_going);
  if (!response) {
    if (response.error().code == ErrorCode::InvalidArgument) return fail(response.error());
    return fail(unreachable(response.error()));
  }
  if (response->status >= 300) return fail(errorOf(response->status, response->body));
  return {};
}

int reportError(const Error& error) {
  fmt::print(stderr, "runway: {}\n", error.message);
  return exitCode(error.code);
}

}  // namespace runway::cli
