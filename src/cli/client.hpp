#pragma once

// The API client the CLI verbs use. Where the server is and which token to send:
//   server: --server, $RUNWAY_SERVER, `server = URL` in ~/.config/runway/config, the local
//           server's DATA/server.json, else http://127.0.0.1:7400
//   token:  --token, $RUNWAY_TOKEN, `token = ...` in ~/.config/runway/config, else, for a server
//           on this machine (loopback), DATA/admin.token

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <boost/json/value.hpp>

#include "runway/core/error.hpp"
#include "runway/http/client.hpp"

namespace runway::cli {

struct ClientFlags {
  std::string server;
  std::string token;
  std::string data;  // data directory of a local server
  std::string ca_file;
};

// Adds --server, --token, --data, --ca-file to a command.
std::shared_ptr<ClientFlags> addClientFlags(CLI::App* command);

struct ClientSettings {
  std::string server;  // base URL without trailing slash
  std::string token;   // never printed
  std::string token_source;
  std::string ca_file;
};

// InvalidArgument for an unreadable config file line; never fails for a missing token (the
// server then answers 401, which names how to get one).
Result<ClientSettings> resolveClient(const ClientFlags& flags);

// True when `url`'s host is a loopback address: an IPv4 address in 127.0.0.0/8, [::1], or the
// name "localhost". The host is what the URL parser says it is, never a substring:
// http://127.0.0.1.example.net and http://127.0.0.1@example.net are not loopback. Only for
// such a server does the CLI send the local admin token (DATA/admin.token) by itself.
bool isLoopbackUrl(std::string_view url);

// One server-sent event.
struct SseMessage {
  std::string type;  // "" = message
  std::string data;  // its data lines joined by '\n'
};

class ApiClient {
 public:
  explicit ApiClient(ClientSettings settings);
  // Errors: the server's own error (code from its "code"), Unavailable when it cannot be
  // reached (exit 3), Unauthenticated (exit 3).
  Result<boost::json::value> get(const std::string& path);
  Result<boost::json::value> post(const std::string& path, const boost::json::value& body);
  Result<boost::json::value> del(const std::string& path);
  // GET `path` as a server-sent-event stream, calling `on_event` for each event until the
  // server ends it, `on_event` returns false or `keep_going` (asked about once a second) says
  // false; the last two are not errors. Errors as get().
  Result<void> stream(const std::string& path, const std::function<bool(const SseMessage&)>& on_event,
                      const std::function<bool()>& keep_going);
  const ClientSettings& settings() const { return settings_; }

 private:
  http::Request request(const std::string& method, const std::string& path) const;
  Error unreachable(const Error& error) const;
  Error errorOf(long status, const std::string& response) const;
  Result<boost::json::value> call(const std::string& method, const std::string& path,
                                  const std::string& body);
  ClientSettings settings_;
};

// Prints "runway: <message>" to stderr and returns the exit code for `error`.
int reportError(const Error& error);

}  // namespace runway::cli
