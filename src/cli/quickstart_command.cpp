// `runway quickstart`: starts a server on the quickstart example, deploys v1.0.0 everywhere,
// takes v1.1.0 through staging (blue-green) and production (canary) under synthetic traffic it
// generates itself, then v1.2.0 — a bad build — which production rolls back by itself. Leaves
// the system running; `runway down` stops it.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "client.hpp"
#include "commands.hpp"
#include "runway/runtime/process.hpp"
#include "server_files.hpp"

namespace runway::cli {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

struct QuickstartOptions {
  std::string config = "examples/quickstart/runway.yaml";
  std::string data;
  std::string listen = "127.0.0.1:7400";
};

std::string clockNow() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&t, &tm);
  return fmt::format("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string str(const json::value& v, const char* key) {
  if (!v.is_object()) return "";
  const auto* f = v.as_object().if_contains(key);
  if (f == nullptr || !f->is_string()) return "";
  return std::string(f->get_string());
}

// Synthetic users: requests to every service address of every environment, ~40 per second per
// address, on keep-alive connections.
class Traffic {
 public:
  explicit Traffic(ApiClient& client) : client_(client) {
    thread_ = std::thread([this] { run(); });
  }
  ~Traffic() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t sent() const { return sent_; }
  std::uint64_t failed() const { return failed_; }

 private:
  void run() {
    std::map<std::string, http::Connection> connections;
    auto last_refresh = std::chrono::steady_clock::time_point{};
    std::vector<std::string> urls;
    while (!stop_) {
      if (std::chrono::steady_clock::now() - last_refresh > 1s) {
        last_refresh = std::chrono::steady_clock::now();
        if (auto envs = client_.get("/api/v1/environments")) {
          urls.clear();
          for (const auto& e : envs->at("environments").as_array()) {
            for (const auto& s : e.at("services").as_array()) {
              if (s.at("address").is_string()) urls.push_back("http://" + std::string(s.at("address").as_string()) + "/api/leads");
            }
          }
        }
      }
      for (const auto& url : urls) {
        http::Request request;
        request.url = url;
        request.timeout = 5s;
        request.headers["Accept"] = "*/*";
        const auto response = connections[url].send(request);
        sent_++;
        if (!response || response->status >= 500) failed_++;
      }
      std::this_thread::sleep_for(25ms);
    }
  }

  ApiClient& client_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sent_{0}, failed_{0};
  std::thread thread_;
};

// One line describing where a deployment is.
std::string deploymentLine(const json::value& d) {
  std::string line = str(d, "phase");
  const auto& steps = d.at("steps").as_array();
  const std::string phase = str(d, "phase");
  const bool ended = phase == "Succeeded" || phase == "RolledBack" || phase == "Failed" ||
                     phase == "Rejected" || phase == "Superseded";
  if (ended) return line;
  if (!steps.empty()) {
    line += fmt::format(", step {}/{}", d.at("stepIndex").to_number<std::int64_t>() + 1, steps.size());
  }
  if (str(d, "strategy") == "canary") {
    line += fmt::format(", {}% of traffic on {}", d.at("canaryWeight").to_number<std::int64_t>(), str(d, "version"));
  }
  for (const auto& run : d.at("analysis").as_array()) {
    if (str(run, "status") != "Running") continue;
    for (const auto& m : run.at("metrics").as_array()) {
      line += fmt::format(", {} {} measured/{} failed", str(m, "metric"), m.at("measurements").to_number<std::int64_t>(),
                          m.at("failed").to_number<std::int64_t>());
    }
  }
  return line;
}

// Deploys and follows the deployment to its end; returns the final document.
Result<json::value> deployAndFollow(ApiClient& client, const std::string& env, const std::string& version) {
  auto created = client.post("/api/v1/deployments",
                             json::object{{"environment", env}, {"version", version}, {"reason", "quickstart"}});
  if (!created) return fail(created.error());
  const std::string id = str(*created, "deployment");
  std::string last;
  const auto deadline = std::chrono::steady_clock::now() + 3min;
  while (std::chrono::steady_clock::now() < deadline) {
    auto d = client.get("/api/v1/deployments/" + id);
    if (!d) return fail(d.error());
    const std::string line = deploymentLine(*d);
    const std::string phase = str(*d, "phase");
    if (line != last) {
      fmt::print("{}  {:<11} {:<7} {}\n", clockNow(), env, version, line);
      std::fflush(stdout);
      last = line;
    }
    if (phase == "Succeeded" || phase == "RolledBack" || phase == "Failed" || phase == "Rejected" ||
        phase == "Superseded") {
      if (phase != "Succeeded") fmt::print("{}  {:<11} {:<7} why: {}\n", clockNow(), env, version, str(*d, "abortReason"));
      return d;
    }
    std::this_thread::sleep_for(250ms);
  }
  return fail(ErrorCode::Timeout, fmt::format("{} of {} did not finish in 3 minutes", version, env));
}

int quickstart(const QuickstartOptions& o) {
  const fs::path data = fs::absolute(o.data);
  const fs::path config = fs::absolute(o.config);
  if (!fs::exists(config)) {
    fmt::print(stderr, "runway: {} not found (run from the repository root, or pass --config)\n", config.string());
    return kExitUsage;
  }
  if (dataDirLocked(data)) {
    fmt::print(stderr, "runway: a server already runs on {}; `runway down` stops it (or pass --data DIR)\n", data.string());
    return kExitFailed;
  }
  if (fs::exists(data / "runway.db")) {
    fmt::print(stderr,
               "runway: {} already holds a runway store; the quickstart starts from nothing: pass --data with a "
               "new directory, or `runway down` and remove {}\n",
               data.string(), data.string());
    return kExitFailed;
  }
  const auto started_at = std::chrono::steady_clock::now();
  fmt::print("runway quickstart: a three-service shop through development, staging and production\n");
  fmt::print("{}  starting runway serve (data {}, config {})\n", clockNow(), data.string(), config.string());
  std::error_code ec;
  fs::create_directories(data / "logs", ec);
  auto launcher = runtime::posixProcessLauncher();
  runtime::LaunchSpec spec;
  spec.argv = {selfExecutable(), "serve", "--config", config.string(), "--data", data.string(), "--listen", o.listen};
  for (char** e = environ; *e != nullptr; ++e) spec.env.emplace_back(*e);
  spec.log_path = (data / "logs" / "serve.log").string();
  auto server = launcher->launch(spec);
  if (!server) return reportError(server.error());
  std::string url;
  for (int i = 0; i < 300 && url.empty(); ++i) {
    if (auto f = readServerFile(data); f && f->pid == server->pid) url = f->url;
    if (launcher->status(*server).kind != runtime::ProcessStatus::Kind::Running) break;
    std::this_thread::sleep_for(100ms);
  }
  if (url.empty()) {
    fmt::print(stderr, "runway: the server did not start; see {}\n", spec.log_path);
    return kExitFailed;
  }
  ClientFlags flags;
  flags.server = url;
  flags.data = data.string();
  auto settings = resolveClient(flags);
  if (!settings) return reportError(settings.error());
  ApiClient client(*settings);
  fmt::print("{}  server on {} (pid {}); sending synthetic traffic to every service\n", clockNow(), url, server->pid);
  fmt::print("{}  dashboard: open {}/ and sign in with the token in {}/admin.token\n", clockNow(), url, data.string());
  Traffic traffic(client);

  const std::vector<std::string> envs{"development", "staging", "production"};
  struct Outcome {
    std::string env, version, phase, why, id;
  };
  std::vector<Outcome> outcomes;
  for (const std::string& version : std::vector<std::string>{"v1.0.0", "v1.1.0", "v1.2.0"}) {
    fmt::print("\n== {} ==\n", version);
    for (const auto& env : envs) {
      auto d = deployAndFollow(client, env, version);
      if (!d) {
        traffic.stop();
        return reportError(d.error());
      }
      outcomes.push_back(Outcome{env, version, str(*d, "phase"), str(*d, "abortReason"), str(*d, "id")});
      if (str(*d, "phase") != "Succeeded") break;  // a release stops where it failed
    }
  }
  traffic.stop();

  fmt::print("\n== summary ({} s) ==\n",
             std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_at).count());
  fmt::print("{:<12} {:<8} {:<11} {}\n", "ENVIRONMENT", "VERSION", "RESULT", "DEPLOYMENT");
  for (const auto& out : outcomes) {
    fmt::print("{:<12} {:<8} {:<11} {}\n", out.env, out.version, out.phase, out.id);
  }
  fmt::print("\nnow serving:\n");
  if (auto all = client.get("/api/v1/environments")) {
    for (const auto& e : all->at("environments").as_array()) {
      std::string addresses;
      for (const auto& s : e.at("services").as_array()) {
        if (s.at("address").is_string()) {
          addresses += fmt::format("{}{} http://{}", addresses.empty() ? "" : ", ", str(s, "name"), str(s, "address"));
        }
      }
      fmt::print("  {:<12} {:<8} {}\n", str(e, "name"), str(e, "currentRelease"), addresses);
    }
  }
  for (const auto& out : outcomes) {
    if (out.phase == "RolledBack") {
      fmt::print("\n{} was rolled back in {} by itself: {}\n", out.version, out.env, out.why);
    }
  }
  fmt::print("\nsynthetic traffic: {} requests, {} answered 5xx or failed (the bad build's errors, while the canary had them)\n",
             traffic.sent(), traffic.failed());
  fmt::print("\nthe data lives in {} (store runway.db, logs/, admin.token); the server keeps running.\n", data.string());
  fmt::print("try next:\n");
  fmt::print("  runway status --data {}\n", data.string());
  fmt::print("  runway history production --data {}\n", data.string());
  fmt::print("  curl -H \"Authorization: Bearer $(cat {}/admin.token)\" {}/api/v1/environments\n", data.string(), url);
  fmt::print("  open {}/ in a browser: the dashboard (sign in with the token in {}/admin.token)\n", url, data.string());
  fmt::print("  runway down --data {}     # stops the server, the instances and the router\n", data.string());
  bool ok = false;
  for (const auto& out : outcomes) {
    if (out.env == "production" && out.version == "v1.2.0" && out.phase == "RolledBack") ok = true;
  }
  return ok ? kExitOk : kExitFailed;
}

}  // namespace

void addQuickstartCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "quickstart",
      "Start a server on the quickstart example and show a canary promoted and a bad release rolled "
      "back by itself (about two minutes; `runway down` stops what it leaves running)");
  auto opts = std::make_shared<QuickstartOptions>();
  opts->data = defaultDataDir();
  cmd->add_option("--config", opts->config, "The quickstart configuration")->capture_default_str();
  cmd->add_option("--data", opts->data, "Data directory for the server it starts (must be new)")->capture_default_str();
  cmd->add_option("--listen", opts->listen, "Address of the server's API")->capture_default_str();
  cmd->callback([&ctx, opts] { ctx.exit_code = quickstart(*opts); });
}

}  // namespace runway::cli
