#pragma once

// A real `runway serve` in a temp dir for integration and e2e tests: started on 127.0.0.1:0,
// driven through its HTTP API with the bootstrap admin token, killed or stopped at will, and
// `runway down` at the end so that no router or instance outlives the test.

#include <signal.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "support/http.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {

class ServeFixture {
 public:
  explicit ServeFixture(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // A server with its own log (dir/LOG_NAME) on a data directory it may share with others
  // (several servers on one PostgreSQL store).
  ServeFixture(std::filesystem::path dir, std::filesystem::path data, std::string log_name)
      : dir_(std::move(dir)), data_(std::move(data)), log_name_(std::move(log_name)) {}
  ~ServeFixture() { down(); }

  std::filesystem::path data() const { return data_.empty() ? dir_ / "data" : data_; }
  std::filesystem::path logPath() const { return dir_ / log_name_; }
  // The destructor leaves everything running (servers sharing a data directory: the test runs
  // `runway down` once, after stopping them all).
  void skipDown() { downed_ = true; }
  // Sends a signal to the server (SIGSTOP, SIGCONT, ...); false when none runs.
  bool signal(int sig) { return server_ && static_cast<bool>(server_->signal(sig)); }
  std::filesystem::path configPath() const { return dir_ / "runway.yaml"; }
  const std::string& url() const { return url_; }
  const std::string& adminToken() const { return admin_; }
  // The server's process id; 0 when it is not running.
  pid_t pid() const { return server_ ? server_->pid() : 0; }
  // More arguments for `runway serve` (set before start()).
  std::vector<std::string> extra_args;

  // Variables set in the server's environment from the next start() on (e.g. channel secrets).
  void setEnv(std::vector<std::pair<std::string, std::string>> env) { env_ = std::move(env); }

  void writeConfig(const std::string& yaml) {
    std::ofstream(configPath()) << yaml;
  }

  // Starts `runway serve` and waits for its "listening on URL" line.
  Result<void> start() {
    SubprocessOptions o;
    o.argv = {binaryPath("runway").string(), "serve", "--config", configPath().string(), "--data",
              data().string(), "--listen", "127.0.0.1:0"};
    o.argv.insert(o.argv.end(), extra_args.begin(), extra_args.end());
    o.stderr_to = Output::file(dir_ / log_name_);
    o.env = env_;
    auto p = Subprocess::start(std::move(o));
    if (!p) return tl::unexpected(p.error());
    server_.emplace(std::move(*p));
    auto line = server_->readLineMatching("listening on (https?://[^ ]+)", deadlineIn(std::chrono::seconds(60)));
    if (!line) return tl::unexpected(line.error());
    url_ = (*line)[1];
    std::ifstream in(data() / "admin.token");
    in >> admin_;
    return {};
  }

  // SIGKILL: the server dies at once; the router and the instances keep running.
  void kill9() {
    if (!server_) return;
    (void)server_->signal(SIGKILL);
    (void)server_->waitExit(deadlineIn(std::chrono::seconds(10)));
    server_.reset();
  }

  // SIGTERM and wait for a clean exit.
  std::optional<ExitStatus> terminate() {
    if (!server_) return std::nullopt;
    (void)server_->signal(SIGTERM);
    auto status = server_->waitExit(deadlineIn(std::chrono::seconds(30)));
    server_.reset();
    if (!status) return std::nullopt;
    return *status;
  }

  // `runway down`: stops the server, the instances and the router. Returns its exit code.
  int down() {
    if (downed_) return 0;
    downed_ = true;
    server_.reset();
    SubprocessOptions o;
    o.argv = {binaryPath("runway").string(), "down", "--data", data().string(), "--grace", "1"};
    o.stdout_to = Output::null();
    auto p = Subprocess::start(std::move(o));
    if (!p) return -1;
    auto status = p->waitExit(deadlineIn(std::chrono::seconds(60)));
    return status && status->exited ? status->code : -1;
  }

  Result<HttpResponse> call(const std::string& method, const std::string& path,
                            const std::string& body = "", std::optional<std::string> token = std::nullopt) {
    HttpHeaders headers{{"Content-Type", "application/json"}};
    const std::string t = token.value_or(admin_);
    if (!t.empty()) headers.emplace_back("Authorization", "Bearer " + t);
    return httpRequest(url_ + path, method, body, headers, std::chrono::seconds(30));
  }

  // GET a JSON document (admin token); null on any failure.
  boost::json::value getJson(const std::string& path) {
    auto r = call("GET", path);
    if (!r || r->status != 200) return nullptr;
    boost::json::error_code ec;
    auto v = boost::json::parse(r->body, ec);
    return ec ? boost::json::value(nullptr) : v;
  }

  // Creates a deployment; returns its id ("" on failure, with the body in `error`).
  std::string deploy(const std::string& env, const std::string& version, std::string* error = nullptr) {
    auto r = call("POST", "/api/v1/deployments",
                  fmt::format(R"({{"environment":"{}","version":"{}"}})", env, version));
    if (!r || r->status != 201) {
      if (error != nullptr) *error = r ? r->body : r.error().message;
      return "";
    }
    return std::string(boost::json::parse(r->body).at("deployment").as_string());
  }

  std::string phase(const std::string& id) {
    auto v = getJson("/api/v1/deployments/" + id);
    if (!v.is_object()) return "";
    return std::string(v.at("phase").as_string());
  }

  // Polls until the deployment reaches a terminal phase; returns it ("" on timeout).
  std::string waitTerminal(const std::string& id, std::chrono::seconds limit) {
    std::string last;
    pollUntil(
        [&] {
          last = phase(id);
          return last == "Succeeded" || last == "RolledBack" || last == "Failed" ||
                 last == "Rejected" || last == "Superseded";
        },
        deadlineIn(limit));
    return last;
  }

  // The router's address of a service in an environment ("127.0.0.1:PORT"), "" when none.
  std::string serviceAddress(const std::string& env, const std::string& service) {
    auto v = getJson("/api/v1/environments/" + env);
    if (!v.is_object()) return "";
    for (const auto& s : v.at("services").as_array()) {
      if (s.at("name").as_string() == service && s.at("address").is_string()) {
        return std::string(s.at("address").as_string());
      }
    }
    return "";
  }

 private:
  std::filesystem::path dir_;
  std::filesystem::path data_;  // "" = dir_/data
  std::string log_name_ = "serve.log";
  std::vector<std::pair<std::string, std::string>> env_;
  std::optional<Subprocess> server_;
  std::string url_;
  std::string admin_;
  bool downed_ = false;
};

// Sends requests to one URL (keep-alive) until stopped, counting what came back: the users of
// the application while a test deploys, kills or restarts things.
class LoadGenerator {
 public:
  // `pause`: between one answer and the next request (the default keeps one connection busy;
  // tests that run several generators at once on a small machine space them out).
  explicit LoadGenerator(std::string url, std::chrono::milliseconds pause = std::chrono::milliseconds(2))
      : url_(std::move(url)) {
    thread_ = std::thread([this, pause] {
      HttpClient client;
      while (!stop_) {
        auto r = client.get(url_, std::chrono::seconds(10));
        if (!r) {
          transport_errors_++;
          noteFailure(r.error().message);
        } else if (r->status >= 500) {
          server_errors_++;
          noteFailure(fmt::format("status {}", r->status));
        } else {
          ok_++;
        }
        std::this_thread::sleep_for(pause);
      }
    });
  }
  ~LoadGenerator() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int ok() const { return ok_; }
  int transportErrors() const { return transport_errors_; }
  int serverErrors() const { return server_errors_; }
  int failed() const { return transport_errors_ + server_errors_; }
  std::string firstFailure() const {
    std::lock_guard lock(mu_);
    return first_failure_;
  }

 private:
  void noteFailure(std::string what) {
    std::lock_guard lock(mu_);
    if (first_failure_.empty()) first_failure_ = std::move(what);
  }
  std::string url_;
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0}, transport_errors_{0}, server_errors_{0};
  mutable std::mutex mu_;
  std::string first_failure_;
  std::thread thread_;
};

}  // namespace runway::test
