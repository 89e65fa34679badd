// `runway serve`: the store, the router (started or re-adopted), the local runtime, the
// controller and the API in one process. SIGHUP reloads the configuration; SIGTERM/SIGINT stop
// the server and leave the router and the instances running.

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "runway/core/utf8.hpp"
#include "runway/analysis/provider.hpp"
#include "runway/api/dashboard.hpp"
#include "runway/api/http_server.hpp"
#include "runway/api/sessions.hpp"
#include "runway/api/tokens.hpp"
#include "runway/api/v1.hpp"
#include "runway/config/loader.hpp"
#include "runway/controller/controller.hpp"
#include "runway/core/logging.hpp"
#include "runway/core/ids.hpp"
#include "runway/core/redact.hpp"
#include "runway/incident/service.hpp"
#include "runway/notify/outbox.hpp"
#include "runway/router/admin_client.hpp"
#include "runway/runtime/dispatching_runtime.hpp"
#include "runway/runtime/kubernetes_runtime.hpp"
#include "runway/runtime/local_runtime.hpp"
#include "runway/runtime/records.hpp"
#include "runway/runtime/router_backend.hpp"
#include "runway/runtime/simulated_runtime.hpp"
#include "runway/runtime/traffic_statistics.hpp"
#include "runway/core/duration.hpp"
#include "runway/rehearse/simulated_gates.hpp"
#include "runway/report/snapshots.hpp"
#include "runway/web/assets.hpp"
#include "server_files.hpp"
#include "service_manager.hpp"

#include "runway/checks/checklist.hpp"
#include "runway/checks/gate.hpp"
#include "runway/checks/hooks.hpp"

namespace runway::cli {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

struct ServeOptions {
  std::string config = "runway.yaml";
  std::string data;
  std::string listen = "127.0.0.1:7400";
  std::string tls_cert;
  std::string tls_key;
  std::string audit_key_file;  // "" = DATA/audit.key, created on first start
  int router_threads = 1;
  std::string router_metrics;  // HOST:PORT of the router's /metrics for Prometheus; "" = none
  std::string router_access_log;  // file of the router's access log; "" = none
  std::uint64_t router_access_log_max_bytes = 100ull * 1024 * 1024;
  std::uint32_t router_access_log_keep = 5;
  int max_event_streams = 64;
  std::string report_window = "5m";  // traffic snapshots around each deployment (docs/reports.md)
  std::string session_ttl = "8h";    // dashboard sessions (docs/dashboard.md)
};

// The dashboard's files embedded in this binary (web/), as the API serves them.
std::vector<api::StaticAsset> dashboardAssets() {
  std::vector<api::StaticAsset> out;
  for (const auto& f : web::embeddedFiles()) {
    out.push_back(api::StaticAsset{std::string(f.path), std::string(f.content_type), f.body, std::string(f.etag)});
  }
  return out;
}

class GateChecks final : public controller::CheckRunner {
 public:
  GateChecks(std::shared_ptr<runtime::Runtime> rt, std::string router_socket, std::shared_ptr<Clock> clock)
      : runtime_(std::move(rt)), socket_(std::move(router_socket)), clock_(std::move(clock)) {}
  controller::CheckOutcome run(const config::Config& config, const std::string& environment,
                               const engine::RunChecks& checks) override {
    // A simulated environment has no endpoint to probe: its gates judge its instances' states.
    if (const auto* env = config.findEnvironment(environment);
        env != nullptr && env->runtime.kind == config::RuntimeSpec::Kind::Simulated) {
      return rehearse::SimulatedChecks(runtime_).run(config, environment, checks);
    }
    // On Kubernetes, pre-flight first asks the cluster whether the namespace is there and the
    // runtime may do its work (one access review per verb), and stops at what is missing.
    if (checks.kind == engine::CheckKind::PreFlight && kubernetes_ != nullptr) {
      const auto* env = config.findEnvironment(environment);
      if (env != nullptr && env->runtime.kind == config::RuntimeSpec::Kind::Kubernetes) {
        auto pre = kubernetes_->preflight(environment, config.applicationFor(*env));
        if (!pre) return controller::CheckOutcome{false, "kubernetes pre-flight: " + pre.error().message};
        if (!pre->problems.empty()) {
          return controller::CheckOutcome{false, fmt::format("kubernetes pre-flight: {}", fmt::join(pre->problems, "; "))};
        }
      }
    }
    checks::GateRequest req;
    req.config = std::make_shared<const config::Config>(config);
    req.environment = environment;
    req.version = checks.version;
    req.data_dir = data_;
    if (checks.kind == engine::CheckKind::PreFlight) {
      req.preflight = checks.checks.health;  // the environment's preflight.beforeDeploy level
    } else {
      req.smoke = checks.checks.smoke;
      req.health = checks.checks.health;
    }
    auto r = checks::runGate(req, *runtime_, runtime::routerTrafficStatistics(socket_, environment, clock_), *clock_);
    return controller::CheckOutcome{r.passed, secretRedactor().redact(r.detail)};
  }

 private:
  std::shared_ptr<runtime::Runtime> runtime_;
  std::string socket_;
  std::shared_ptr<Clock> clock_;
  std::filesystem::path data_;
  std::shared_ptr<runtime::KubernetesRuntime> kubernetes_;

 public:
  void setDataDir(std::filesystem::path data) { data_ = std::move(data); }
  void setKubernetes(std::shared_ptr<runtime::KubernetesRuntime> kubernetes) { kubernetes_ = std::move(kubernetes); }
};

// The environments' pre-deployment checklists (checks::runChecklist: GitHub for codeReview and
// ciChecks, the evidence for the rest), judged on the controller's pool.
class ConfigChecklist final : public controller::ChecklistRunner {
 public:
  ConfigChecklist(std::shared_ptr<Clock> clock, std::filesystem::path data, std::shared_ptr<store::Store> store)
      : clock_(std::move(clock)), data_(std::move(data)), store_(std::move(store)) {}
  std::vector<controller::ChecklistItemResult> judge(const config::Config& config, const std::string& environment,
                                                     const std::string& version, const std::string& current_release,
                                                     const store::ReleaseEvidence& evidence) override {
    const auto* env = config.findEnvironment(environment);
    if (env == nullptr) return {{"checklist", false, "no environment named " + environment + " in the configuration"}};
    checks::ChecklistInput input;
    input.version = version;
    input.current_release = current_release;
    input.evidence = evidence;
    input.now = clock_->now();
    input.environment = env;
    input.data_dir = data_;
    input.store = store_.get();
    if (const auto* app = config.applicationFor(*env)) input.application = app->name;
    std::vector<controller::ChecklistItemResult> out;
    for (const auto& item : checks::runChecklist(env->checklist, input, *clock_).items) {
      out.push_back({item.name, item.status == checks::ChecklistStatus::Passed, secretRedactor().redact(item.reason)});
    }
    return out;
  }

 private:
  std::shared_ptr<Clock> clock_;
  std::filesystem::path data_;
  std::shared_ptr<store::Store> store_;
};

// How much of a hook's output is kept with its run (the end of it: where errors are).
constexpr std::size_t kHookOutputBytes = 4096;

// The configuration's lifecycle hooks and backups, run by the checks module.
class ConfigHooks final : public controller::LifecycleHooks {
 public:
  ConfigHooks(std::filesystem::path data, std::shared_ptr<Clock> clock) : data_(std::move(data)), clock_(std::move(clock)) {}

  controller::HookResult run(const config::Config& config, const std::string& environment, config::HookPoint point,
                             const std::string& version) override {
    controller::HookResult out;
    const auto* env = config.findEnvironment(environment);
    if (env == nullptr || env->hooks.at(point).empty()) return out;
    checks::HookContext ctx;
    ctx.environment = environment;
    ctx.version = version;
    auto outcome = checks::runHooks(*env, point, ctx);
    out.ran = true;
    out.decision = outcome.decision == checks::HookOutcome::Decision::Continue ? controller::HookResult::Decision::Continue
                   : outcome.decision == checks::HookOutcome::Decision::Rollback ? controller::HookResult::Decision::Rollback
                                                                                  : controller::HookResult::Decision::Fail;
    json::array runs;
    std::string failed;
    for (const auto& r : outcome.runs) {
      runs.push_back(runJson(r));
      if (!r.ok) logFailure(environment, config::toString(point), r);
      if (!r.ok && failed.empty()) failed = fmt::format("{}: {}", r.name, r.reason);
    }
    out.runs_json = json::serialize(runs);
    out.summary = secretRedactor().redact(
        failed.empty() ? fmt::format("{} hook{} ran", outcome.runs.size(), outcome.runs.size() == 1 ? "" : "s")
                       : failed);
    return out;
  }

  controller::HookResult backupBeforeDeploy(const config::Config& config, const std::string& environment,
                                            const std::string& version) override {
    controller::HookResult out;
    const auto* env = config.findEnvironment(environment);
    if (env == nullptr || !env->backup || !env->backup->before_deploy) return out;
    out.ran = true;
    auto backup = checks::runBackup(*env, data_, version, *clock_);
    if (!backup) {
      out.decision = controller::HookResult::Decision::Fail;
      out.summary = "backup: " + backup.error().message;
      out.runs_json = "[]";
      return out;
    }
    json::array runs{runJson(backup->run)};
    out.runs_json = json::serialize(runs);
    if (!backup->run.ok) {
      logFailure(environment, "backup", backup->run);
      out.decision = controller::HookResult::Decision::Fail;
      out.summary = secretRedactor().redact("backup: " + backup->run.reason);
    } else {
      out.summary = "backup written to " + backup->file;
    }
    return out;
  }

 private:
  static json::object runJson(const checks::HookRun& r) {
    // Secrets out first (the whole output, so none is cut in half and missed), then the last
    // 4 KiB, cut on a character boundary; bytes that are not UTF-8 are kept, escaped, so the
    // runs always serialize to JSON that parses again. The event log is append-only and any
    // viewer reads it: what goes in stays.
    const std::string redacted = secretRedactor().redact(r.output);
    std::string output = escapeInvalidUtf8(utf8Tail(redacted, kHookOutputBytes));
    return json::object{{"name", r.name},
                        {"ok", r.ok},
                        {"attempts", r.attempts},
                        {"reason", secretRedactor().redact(r.reason)},
                        {"output", output},
                        {"durationMs", r.duration_ms}};
  }
  // The server log says which hook failed and the last line of what it printed (where the
  // error is); the log formatter redacts secrets (core/logging.hpp).
  static void logFailure(const std::string& environment, std::string_view point, const checks::HookRun& r) {
    std::string_view output = r.output;
    while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.remove_suffix(1);
    const auto newline = output.rfind('\n');
    std::string last(newline == std::string_view::npos ? output : output.substr(newline + 1));
    last = escapeInvalidUtf8(utf8Tail(last, 512));
    spdlog::warn("environment {}: {} hook {} failed: {}; its last line: {}", environment, point, r.name, r.reason,
                 last.empty() ? "(no output)" : last);
  }
  std::filesystem::path data_;
  std::shared_ptr<Clock> clock_;
};

// What the server keeps out of events, logs and notifications (core/redact.hpp): the values of
// the variables the configuration names as holding secrets, the alert receiver's key and a
// token given to the CLI by variable. API tokens are redacted by their shape. A reload adds to
// them and never removes one: deployments started under the old configuration still run.
void declareSecrets(const config::Config& config) {
  auto names = config::secretVariableNames(config);
  names.emplace_back("RUNWAY_ALERTS_HMAC_KEY");
  names.emplace_back("RUNWAY_TOKEN");
  for (const auto& name : names) {
    if (const char* value = std::getenv(name.c_str()); value != nullptr && *value != '\0') {
      secretRedactor().addValue(value);
    }
  }
}

// Splits "host:port"; the host may be "[::1]".
Result<std::pair<std::string, std::uint16_t>> parseListen(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return fail(ErrorCode::InvalidArgument, "--listen must be HOST:PORT, e.g. 127.0.0.1:7400");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) port = -1;
  } catch (...) {
    port = -1;
  }
  if (host.empty() || port < 0 || port > 65535) {
    return fail(ErrorCode::InvalidArgument, "--listen must be HOST:PORT with a port 0..65535, e.g. 127.0.0.1:7400");
  }
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}

// The router for this data directory: the running one when its admin socket answers, else a
// new `runway router` process in its own process group (it outlives this server).
Result<void> ensureRouter(const fs::path& data, int threads, runtime::ProcessLauncher& launcher) {
  const auto socket = routerSocket(data);
  router::AdminClient client(socket.string(), Duration{1000});
  if (client.table()) return {};
  if (auto pid = readRouterPid(data)) {
    // A router that runs but does not answer is stuck: replace it.
    if (auto id = launcher.identify(pid->pid); id && id->start_ticks == pid->start_ticks) {
      spdlog::warn("router pid {} does not answer on {}; replacing it", pid->pid, socket.string());
      launcher.signalGroup(*id, SIGKILL);
    }
  }
  std::error_code ec;
  fs::create_directories(data / "router", ec);
  fs::create_directories(data / "logs", ec);
  fs::remove(socket, ec);
  runtime::LaunchSpec spec;
  spec.argv = {selfExecutable(), "router", "--admin-socket", socket.string(), "--state-dir",
               (data / "router").string(), "--threads", std::to_string(threads)};
  for (char** e = environ; *e != nullptr; ++e) spec.env.emplace_back(*e);
  spec.log_path = (data / "logs" / "router.log").string();
  auto launched = launcher.launch(spec);
  if (!launched) return fail(launched.error());
  if (auto w = writeRouterPid(data, *launched); !w) return fail(w.error());
  for (int i = 0; i < 200; ++i) {
    if (client.table()) {
      spdlog::info("router started (pid {}), admin socket {}", launched->pid, socket.string());
      return {};
    }
    if (launcher.status(*launched).kind != runtime::ProcessStatus::Kind::Running) break;
    ::usleep(50'000);
  }
  return fail(ErrorCode::Unavailable, "the router did not come up; see " + spec.log_path);
}

int serve(const ServeOptions& opts) {
  const fs::path data = fs::absolute(opts.data);
  std::error_code ec;
  fs::create_directories(data, ec);
  ::chmod(data.c_str(), 0700);
  auto lock = lockDataDir(data);
  if (!lock) {
    fmt::print(stderr, "runway: {}\n", lock.error().message);
    return exitCode(lock.error().code);
  }
  auto listen = parseListen(opts.listen);
  if (!listen) {
    fmt::print(stderr, "runway: {}\n", listen.error().message);
    return kExitUsage;
  }
  const std::string config_path = fs::absolute(opts.config).string();
  auto loaded = config::loadConfig(config_path);
  if (!loaded.ok()) {
    for (const auto& d : loaded.diagnostics) fmt::print(stderr, "{}\n", d.format());
    fmt::print(stderr, "runway: {} has {} error(s); not starting\n", opts.config, loaded.diagnostics.size());
    return kExitUsage;
  }
  auto config = std::make_shared<const config::Config>(std::move(*loaded.config));
  declareSecrets(*config);
  auto report_window = parseDuration(opts.report_window);
  if (!report_window || *report_window < std::chrono::seconds(1) || *report_window > std::chrono::minutes(15)) {
    fmt::print(stderr, "runway: --report-window must be a duration from 1s to 15m\n");
    return kExitUsage;
  }

  auto session_ttl = parseDuration(opts.session_ttl);
  if (!session_ttl || *session_ttl < api::kMinSessionTtl || *session_ttl > api::kMaxSessionTtl) {
    fmt::print(stderr, "runway: --session-ttl must be a duration from 1s to 30d\n");
    return kExitUsage;
  }

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto clock = systemClock();
  // The audit chain's key lives outside the database: the file named, or DATA/audit.key, made
  // on first start (events already in the store stay verified the old way; audit_key.hpp).
  const std::string db_path = (data / "runway.db").string();
  auto audit_key = opts.audit_key_file.empty() ? store::ensureAuditKey(data / "audit.key", db_path)
                                               : store::readAuditKey(opts.audit_key_file);
  if (!audit_key) {
    fmt::print(stderr, "runway: audit key: {}\n", audit_key.error().message);
    return exitCode(audit_key.error().code);
  }
  spdlog::info("audit key {} ({})", audit_key->id, audit_key->file);
  auto opened = store::openSqliteStore(db_path, *audit_key);
  if (!opened) {
    fmt::print(stderr, "runway: {}\n", opened.error().message);
    return exitCode(opened.error().code);
  }
  std::shared_ptr<store::Store> store = std::move(*opened);
  auto bootstrapped = api::ensureBootstrapToken(*store, data, clock->now());
  if (!bootstrapped) {
    fmt::print(stderr, "runway: admin token: {}\n", bootstrapped.error().message);
    return exitCode(bootstrapped.error().code);
  }
  if (*bootstrapped) spdlog::info("wrote the bootstrap admin token to {}", (data / "admin.token").string());

  std::shared_ptr<runtime::ProcessLauncher> launcher = runtime::posixProcessLauncher();
  if (auto r = ensureRouter(data, opts.router_threads, *launcher); !r) {
    fmt::print(stderr, "runway: router: {}\n", r.error().message);
    return exitCode(r.error().code);
  }
  const std::string socket = routerSocket(data).string();
  runtime::LocalRuntimeOptions ro;
  ro.data_dir = data;
  ro.clock = clock;
  ro.launcher = launcher;
  router::ProxySettings proxy_settings;
  if (!opts.router_metrics.empty()) {
    // A port alone is a loopback address.
    proxy_settings.metrics_address = opts.router_metrics.find(':') == std::string::npos
                                         ? "127.0.0.1:" + opts.router_metrics
                                         : opts.router_metrics;
    if (auto hp = router::parseHostPort(proxy_settings.metrics_address); !hp) {
      fmt::print(stderr, "runway: --router-metrics: {}\n", hp.error().message);
      return kExitUsage;
    }
  }
  if (!opts.router_access_log.empty()) {
    std::error_code absolute_error;
    const auto path = std::filesystem::absolute(opts.router_access_log, absolute_error);
    proxy_settings.access_log.path =
        absolute_error ? opts.router_access_log : path.lexically_normal().string();
    proxy_settings.access_log.max_bytes = opts.router_access_log_max_bytes;
    proxy_settings.access_log.keep = opts.router_access_log_keep;
  }
  ro.traffic = runtime::routerTrafficBackend(socket, Duration{5'000}, proxy_settings);
  ro.kill_timeout = Duration{5000};
  ro.scale_down_grace = Duration{5000};
  auto rt = runtime::LocalRuntime::open(std::move(ro));
  if (!rt) {
    fmt::print(stderr, "runway: runtime: {}\n", rt.error().message);
    return exitCode(rt.error().code);
  }
  std::shared_ptr<runtime::LocalRuntime> local_runtime = std::move(*rt);
  // Environments on Kubernetes go to the kubernetes runtime (one cluster connection each), the
  // others to the local one; the controller sees one Runtime. Which runtime an environment is
  // on is read here, at start: a reload that moves an environment takes a restart.
  std::set<std::string> kubernetes_environments;
  std::set<std::string> simulated_environments;
  for (const auto& env : config->environments) {
    if (env.runtime.kind == config::RuntimeSpec::Kind::Kubernetes) kubernetes_environments.insert(env.name);
    if (env.runtime.kind == config::RuntimeSpec::Kind::Simulated) simulated_environments.insert(env.name);
  }
  std::shared_ptr<runtime::KubernetesRuntime> kubernetes_runtime;
  if (!kubernetes_environments.empty()) {
    runtime::KubernetesRuntimeOptions ko;
    ko.clock = clock;
    auto opened_kube = runtime::KubernetesRuntime::open(*config, std::move(ko));
    if (!opened_kube) {
      fmt::print(stderr, "runway: kubernetes runtime: {}\n", opened_kube.error().message);
      return exitCode(opened_kube.error().code);
    }
    kubernetes_runtime = std::move(*opened_kube);
  }
  // Simulated environments run on one simulated runtime (instances and statistics from its
  // seeded model, on the server's clock).
  runtime::SimulatedRuntimeOptions so_sim;
  so_sim.clock = clock;
  auto simulated_runtime = std::make_shared<runtime::SimulatedRuntime>(std::move(so_sim));
  std::map<std::string, std::shared_ptr<runtime::Runtime>> by_environment;
  for (const auto& env : kubernetes_environments) by_environment.emplace(env, kubernetes_runtime);
  for (const auto& env : simulated_environments) by_environment.emplace(env, simulated_runtime);
  std::shared_ptr<runtime::Runtime> runtime =
      std::make_shared<runtime::DispatchingRuntime>(local_runtime, std::move(by_environment));

  // Analysis reads the statistics of the environment measured: the router's, or the simulated
  // runtime's model.
  const std::string stats_socket = socket;
  auto provider = analysis::environmentScopedProvider(
      [stats_socket, clock, simulated_runtime, simulated_environments](const std::string& environment)
          -> std::shared_ptr<const analysis::TrafficStatistics> {
        if (simulated_environments.count(environment) != 0) {
          return runtime::simulatedTrafficStatistics(simulated_runtime, environment);
        }
        return runtime::routerTrafficStatistics(stats_socket, environment, clock);
      },
      std::make_shared<analysis::ProviderSet>(analysis::ProviderSet::standard(nullptr)));

  std::atomic<bool> ready{false};
  controller::ControllerOptions co;
  co.store = store;
  co.runtime = runtime;
  co.provider = provider;
  auto gate = std::make_shared<GateChecks>(runtime, socket, clock);
  gate->setDataDir(data);
  gate->setKubernetes(kubernetes_runtime);
  co.checks = gate;
  co.hooks = std::make_shared<ConfigHooks>(data, clock);
  auto checklist = std::make_shared<ConfigChecklist>(clock, data, store);
  co.checklist = checklist;
  co.clock = clock;
  co.config = config;
  auto started = controller::Controller::start(std::move(co));
  if (!started) {
    fmt::print(stderr, "runway: controller: {}\n", started.error().message);
    return exitCode(started.error().code);
  }
  std::shared_ptr<controller::Controller> ctrl = std::move(*started);
  ready = true;

  // Notifications the controller committed are delivered from the outbox on their own thread.
  notify::OutboxOptions oo;
  oo.store = store;
  oo.clock = clock;
  oo.transport = notify::httpTransport();
  oo.config = [ctrl] { return ctrl->config(); };
  auto outbox = std::make_shared<notify::OutboxWorker>(std::move(oo));
  notify::OutboxRunner outbox_runner(outbox, std::chrono::milliseconds(200));

  // Incidents, and their reminders and escalations (checked every second on their own thread).
  auto incidents = std::make_shared<incident::IncidentService>(store, clock, [ctrl] { return ctrl->config(); },
                                                               systemRandom());
  std::mutex reminders_mu;
  std::condition_variable reminders_cv;
  bool reminders_stop = false;
  std::thread reminders([&] {
    std::unique_lock wait_lock(reminders_mu);
    while (!reminders_cv.wait_for(wait_lock, std::chrono::seconds(1), [&] { return reminders_stop; })) {
      wait_lock.unlock();
      if (auto r = incidents->sendReminders(); !r) spdlog::error("incident reminders: {}", r.error().message);
      wait_lock.lock();
    }
  });
  const auto stopReminders = [&] {
    {
      std::lock_guard stop_lock(reminders_mu);
      reminders_stop = true;
    }
    reminders_cv.notify_one();
    if (reminders.joinable()) reminders.join();
  };

  auto ctx = std::make_shared<api::ApiContext>();
  ctx->store = store;
  ctx->controller = ctrl;
  ctx->runtime = runtime;
  ctx->clock = clock;
  ctx->load_config = [config_path] {
    auto reloaded = config::loadConfig(config_path);
    if (reloaded.ok()) declareSecrets(*reloaded.config);
    return reloaded;
  };
  ctx->ready = [&ready] { return ready.load(); };
  ctx->version = RUNWAY_VERSION;
  ctx->outbox = outbox;
  ctx->incidents = incidents;
  ctx->checklist = checklist;
  if (const char* key = std::getenv("RUNWAY_ALERTS_HMAC_KEY"); key != nullptr) ctx->alerts_hmac_key = key;
  // The router's request counters and latency histograms, for Prometheus (builtin AlertRules).
  ctx->extra_metrics = [socket] {
    router::AdminClient client(socket, Duration{1000});
    auto text = client.metrics();
    return text ? *text : std::string();
  };
  api::ServerOptions so;
  so.address = listen->first;
  so.port = listen->second;
  so.tls_cert_file = opts.tls_cert;
  so.tls_key_file = opts.tls_key;
  so.max_event_streams = static_cast<std::size_t>(opts.max_event_streams);
  // Dashboard sessions live in this process (sessions.hpp says why); each use rechecks its token.
  auto sessions = std::make_shared<api::SessionTable>(
      api::SessionOptions{clock, *session_ttl, 10'000, !opts.tls_cert.empty(), store});
  so.sessions = sessions;
  auto authenticator = api::storeAuthenticator(store, clock);
  auto routes = api::v1Routes(ctx);
  for (auto& r : api::dashboardRoutes(ctx, authenticator, sessions, dashboardAssets())) routes.push_back(std::move(r));
  auto server = api::startHttpServer(so, std::move(routes), authenticator);
  if (!server) {
    fmt::print(stderr, "runway: {}\n", server.error().message);
    stopReminders();
    ctrl->stop();
    return exitCode(server.error().code);
  }
  const bool tls = !opts.tls_cert.empty();
  const std::string host = listen->first.find(':') != std::string::npos ? "[" + listen->first + "]" : listen->first;
  const std::string url = fmt::format("{}://{}:{}", tls ? "https" : "http", host, (*server)->port());
  if (auto w = writeServerFile(data, ServerFile{static_cast<int>(::getpid()), url}); !w) {
    spdlog::warn("cannot write {}: {}", (data / "server.json").string(), w.error().message);
  }
  fmt::print("runway serve: listening on {} (data {}, config {})\n", url, data.string(), config_path);
  fmt::print("runway serve: dashboard at {}/ (sign in with an API token)\n", url);
  std::fflush(stdout);
  // systemd (runway.service, Type=notify): started once the API answers.
  notifyServiceManager(fmt::format("READY=1\nMAINPID={}\nSTATUS=listening on {}", ::getpid(), url));

  // Traffic snapshots around each deployment for the release report (report/snapshots.hpp),
  // taken on their own thread so that a slow router never delays the signal loop.
  std::mutex snapshot_mu;
  std::condition_variable snapshot_cv;
  bool snapshot_stop = false;
  std::thread snapshot_thread([&] {
    report::TrafficSnapshots snapshots(report::SnapshotOptions{
        store, runtime, clock, [ctrl] { return ctrl->config(); }, *report_window});
    std::unique_lock held(snapshot_mu);
    while (!snapshot_stop) {
      held.unlock();
      if (auto r = snapshots.tick(); !r) spdlog::warn("report snapshots: {}", r.error().message);
      held.lock();
      snapshot_cv.wait_for(held, std::chrono::milliseconds(250), [&] { return snapshot_stop; });
    }
  });

  int exit_code = kExitOk;
  while (true) {
    timespec wait{1, 0};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGHUP) {
      notifyServiceManager("RELOADING=1\nSTATUS=reloading the configuration");
      auto reloaded = config::loadConfig(config_path);
      if (!reloaded.ok()) {
        for (const auto& d : reloaded.diagnostics) spdlog::error("reload: {}", d.format());
        spdlog::error("SIGHUP: the new configuration has {} error(s); keeping the old one",
                      reloaded.diagnostics.size());
        notifyServiceManager(fmt::format(
            "READY=1\nSTATUS=listening on {}; the last reload failed ({} error(s)), the old configuration is kept",
            url, reloaded.diagnostics.size()));
      } else {
        declareSecrets(*reloaded.config);
        ctrl->reload(std::make_shared<const config::Config>(std::move(*reloaded.config)));
        spdlog::info("SIGHUP: configuration reloaded from {}", config_path);
        notifyServiceManager(fmt::format("READY=1\nSTATUS=listening on {}; configuration reloaded", url));
      }
      continue;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      notifyServiceManager("STOPPING=1\nSTATUS=stopping; the router and the instances keep running");
      spdlog::info("{}: stopping; the router and the instances keep running", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    // Watch the router: bring it back if it died.
    router::AdminClient client(socket, Duration{1000});
    if (!client.table()) {
      if (auto r = ensureRouter(data, opts.router_threads, *launcher); !r) {
        spdlog::error("router: {}", r.error().message);
      }
    }
  }
  {
    std::lock_guard held(snapshot_mu);
    snapshot_stop = true;
  }
  snapshot_cv.notify_all();
  snapshot_thread.join();
  (*server)->stop(std::chrono::milliseconds(5000));
  outbox_runner.stop();
  stopReminders();
  ctrl->stop();
  removeServerFile(data);
  return exit_code;
}

}  // namespace

void addServeCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "serve",
      "Run the runway server: the controller, the API, the router and the application instances "
      "(SIGHUP reloads the configuration; SIGTERM stops the server and leaves the router and the "
      "instances serving; `runway down` stops everything)");
  auto opts = std::make_shared<ServeOptions>();
  opts->data = defaultDataDir();
  cmd->add_option("--config,-c", opts->config, "Configuration file or directory")->capture_default_str();
  cmd->add_option("--data", opts->data, "Data directory (store, tokens, logs, router state)")->capture_default_str();
  cmd->add_option("--listen", opts->listen, "Address of the API, HOST:PORT (port 0 = any free port)")
      ->capture_default_str();
  cmd->add_option("--tls-cert", opts->tls_cert, "PEM certificate: serve HTTPS (with --tls-key)");
  cmd->add_option("--tls-key", opts->tls_key, "PEM private key for --tls-cert");
  cmd->add_option("--audit-key-file", opts->audit_key_file,
                  "The audit chain's HMAC key (hex; kept outside the database). Default: DATA/audit.key, "
                  "created 0600 on first start");
  cmd->add_option("--router-threads", opts->router_threads, "Worker threads of the router it starts")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--router-metrics", opts->router_metrics,
                  "Serve the router's per-version statistics for Prometheus at "
                  "http://HOST:PORT/metrics (a port alone: 127.0.0.1:PORT); default: none (they "
                  "stay on the router's admin socket and runway serve's /metrics)");
  cmd->add_option("--router-access-log", opts->router_access_log,
                  "Write the router's access log (a JSON line per request) to this file; "
                  "default: none");
  cmd->add_option("--router-access-log-max-bytes", opts->router_access_log_max_bytes,
                  "Rotate the access log when it would pass this size")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{1} << 40));
  cmd->add_option("--router-access-log-keep", opts->router_access_log_keep,
                  "Rotated access logs kept (FILE.1 the newest)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_option("--max-event-streams", opts->max_event_streams,
                  "Concurrent server-sent-event streams (runway watch, status -w); one more is "
                  "answered 503 with Retry-After")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--report-window", opts->report_window,
                  "Length of the traffic windows before and after each deployment that `runway report "
                  "deployment` compares (1s to 15m)")
      ->capture_default_str();
  cmd->add_option("--session-ttl", opts->session_ttl,
                  "How long a dashboard sign-in lasts (1s to 30d; never past the token's own expiry)")
      ->capture_default_str();
  cmd->callback([&ctx, opts] {
    if (opts->tls_cert.empty() != opts->tls_key.empty()) {
      fmt::print(stderr, "runway: --tls-cert and --tls-key go together\n");
      ctx.exit_code = kExitUsage;
      return;
    }
    if (auto r = initLogging(ctx.log_format == "json" ? LogFormat::Json : LogFormat::Human, ctx.log_level); !r) {
      fmt::print(stderr, "runway: {}\n", r.error().message);
    }
    ctx.exit_code = serve(*opts);
  });
}

}  // namespace runway::cli
