// `runway serve`: the store, the router (started or re-adopted), the local runtime, the
// controller and the API in one process. SIGHUP reloads the configuration; SIGTERM/SIGINT stop
// the server and leave the router and the instances running.

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
#include "runway/controller/leader_election.hpp"
#include "runway/core/logging.hpp"
#include "runway/core/ids.hpp"
#include "runway/core/redact.hpp"
#include "runway/core/repeated_failure.hpp"
#include "runway/incident/service.hpp"
#include "runway/notify/outbox.hpp"
#include "runway/router/admin_client.hpp"
#include "runway/runtime/dispatching_runtime.hpp"
#include "runway/runtime/kubernetes_runtime.hpp"
#include "runway/runtime/local_runtime.hpp"
#include "runway/runtime/records.hpp"
#include "runway/runtime/router_backend.hpp"
#include "runway/runtime/simulated_runtime.hpp"
#include "runway/store/postgres_store.hpp"
#include "store_flags.hpp"
#include "runway/runtime/traffic_statistics.hpp"
#include "runway/core/duration.hpp"
#include "runway/rehearse/simulated_gates.hpp"
#include "runway/report/snapshots.hpp"
#include "runway/web/assets.hpp"
#include "leadership.hpp"
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
  StoreFlags store;                  // "" = SQLite in DATA/runway.db
  // Several servers on one PostgreSQL store (docs/operations.md#several-servers).
  std::string server_id;        // "" = HOST:PID
  std::string lease_ttl = "10s";
  std::string advertise;        // the API address followers forward writes to; "" = the listen URL
};

// The store: DATA/runway.db (SQLite), or the PostgreSQL database of --store. The audit
// chain's key lives outside the database: the file named, or DATA/audit.key, made on first start
// (events already in an SQLite store stay verified the old way; audit_key.hpp). A PostgreSQL
// database that already has events and no key file is refused: a new key would not verify them.
Result<std::unique_ptr<store::Store>> openStore(const ServeOptions& opts, const fs::path& data) {
  const fs::path key_file = opts.audit_key_file.empty() ? data / "audit.key" : fs::path(opts.audit_key_file);
  if (opts.store.url.empty()) {
    const std::string db_path = (data / "runway.db").string();
    auto audit_key = opts.audit_key_file.empty() ? store::ensureAuditKey(key_file, db_path)
                                                 : store::readAuditKey(key_file);
    if (!audit_key) return fail(audit_key.error().code, "audit key: " + audit_key.error().message);
    spdlog::info("audit key {} ({})", audit_key->id, audit_key->file);
    spdlog::info("store: SQLite {}", db_path);
    return store::openSqliteStore(db_path, *audit_key);
  }
  auto pg = postgresOptions(opts.store);
  if (!pg) return fail(pg.error());
  auto audit_key = store::readAuditKey(key_file);
  if (!audit_key && audit_key.error().code == ErrorCode::NotFound && opts.audit_key_file.empty()) {
    auto bare = store::openPostgresStore(*pg);
    if (!bare) return fail(bare.error());
    auto first = (*bare)->listEvents(store::EventFilter{0, "", 1});
    if (!first) return fail(first.error());
    if (!first->empty()) {
      return fail(ErrorCode::FailedPrecondition,
                  "the store at " + store::redactStoreUrl(pg->url) + " already has events and " +
                      key_file.string() +
                      " does not exist: give the key its chain is linked with (--audit-key-file)");
    }
    audit_key = store::ensureAuditKey(key_file, std::int64_t{1});
  }
  if (!audit_key) return fail(audit_key.error().code, "audit key: " + audit_key.error().message);
  spdlog::info("audit key {} ({})", audit_key->id, audit_key->file);
  spdlog::info("store: PostgreSQL {}", store::redactStoreUrl(pg->url));
  return store::openPostgresStore(*pg, *audit_key);
}

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
// The simulated runtime's world lives in memory: at start, each simulated environment gets back
// the version its serving record says serves (SimulatedRuntime::restoreServing), as a real
// runtime's instances outlive the server. Without it a canary after a restart waits for a
// stable version that no longer exists.
Result<void> restoreSimulated(runtime::SimulatedRuntime& simulated, store::Store& store,
                              const config::Config& config) {
  for (const auto& env : config.environments) {
    if (env.runtime.kind != config::RuntimeSpec::Kind::Simulated) continue;
    auto serving = store.getServing(env.name);
    if (!serving) return fail(std::move(serving).error());
    const auto* app = config.applicationFor(env);
    if (!*serving || app == nullptr) continue;
    for (const auto& svc : app->services) {
      if (auto r = simulated.restoreServing(env, svc, (*serving)->version, svc.instances); !r) {
        return fail(r.error().code, fmt::format("environment {}: {} {}: {}", env.name, svc.name,
                                                (*serving)->version, r.error().message));
      }
    }
  }
  return {};
}

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

// What every leadership term of this server shares: made once at start.
struct LeaderDeps {
  fs::path data;
  int router_threads = 1;
  std::shared_ptr<runtime::ProcessLauncher> launcher;
  router::ProxySettings proxy_settings;
  std::shared_ptr<Clock> clock;
  std::shared_ptr<store::Store> store;
  std::shared_ptr<LeaderOnlyRuntime> local_slot;  // where the term's local runtime goes
  std::shared_ptr<runtime::Runtime> runtime;      // what the controller drives (local_slot and the others)
  std::shared_ptr<analysis::MetricProvider> provider;
  std::shared_ptr<controller::CheckRunner> checks;
  std::shared_ptr<controller::LifecycleHooks> hooks;
  std::shared_ptr<controller::ChecklistRunner> checklist;
  std::shared_ptr<LeaderOnlyController> controller_slot;  // where the term's controller goes
  std::shared_ptr<runtime::SimulatedRuntime> simulated;
  std::shared_ptr<notify::OutboxWorker> outbox;
  std::shared_ptr<incident::IncidentService> incidents;
  Duration report_window{};
  std::atomic<bool>* ready = nullptr;
};

// One term of leadership: everything only the leader runs. The local runtime (it adopts and
// supervises the instances of DATA/run/ and pushes the router's table), the router's upkeep,
// the controller (recovering every live deployment from the store as a restart does), the
// notification outbox, incident reminders and report snapshots. Made when this server starts
// leading, destroyed when it stops: the router and the instances keep running.
class LeaderTerm {
 public:
  // `runtime_lock`: take DATA/serve.lock first (several servers sharing the data directory:
  // the lock, not only the lease, says who drives the local runtime, so that a leader paused
  // past its lease cannot touch the instances once another one drives them). While waiting
  // for it, `still_leading` is asked every 100 ms; false ends the wait (Cancelled).
  // `url`: written to DATA/server.json for the CLI and `runway down` ("" = the caller does).
  static Result<std::unique_ptr<LeaderTerm>> start(const LeaderDeps& deps, bool runtime_lock,
                                                   const std::function<bool()>& still_leading, std::string url) {
    std::unique_ptr<LeaderTerm> term(new LeaderTerm(deps));
    if (runtime_lock) {
      bool said = false;
      while (true) {
        auto lock = lockDataDir(deps.data);
        if (lock) {
          term->lock_fd_ = *lock;
          break;
        }
        if (!still_leading()) return fail(ErrorCode::Unavailable, "no longer leading");
        if (!said) {
          spdlog::warn("leading, waiting for {} (another runway serve on this data directory still drives the "
                       "local runtime)",
                       (deps.data / "serve.lock").string());
          said = true;
        }
        ::usleep(100'000);
      }
    }
    if (auto r = ensureRouter(deps.data, deps.router_threads, *deps.launcher); !r) {
      return fail(r.error().code, "router: " + r.error().message);
    }
    // The simulated environments' world lives in memory: the version each one's serving record
    // names is put back before the controller recovers (restoreSimulated). A server that led
    // before keeps the world it had (restoreServing leaves a service that runs a version alone).
    if (auto restored = restoreSimulated(*deps.simulated, *deps.store, *deps.controller_slot->config()); !restored) {
      return fail(restored.error().code, "simulated runtime: " + restored.error().message);
    }
    runtime::LocalRuntimeOptions ro;
    ro.data_dir = deps.data;
    ro.clock = deps.clock;
    ro.launcher = deps.launcher;
    ro.traffic = runtime::routerTrafficBackend(routerSocket(deps.data).string(), Duration{5'000}, deps.proxy_settings);
    ro.kill_timeout = Duration{5000};
    ro.scale_down_grace = Duration{5000};
    auto rt = runtime::LocalRuntime::open(std::move(ro));
    if (!rt) return fail(rt.error().code, "runtime: " + rt.error().message);
    term->local_ = std::move(*rt);
    deps.local_slot->set(term->local_);

    controller::ControllerOptions co;
    co.store = deps.store;
    co.runtime = deps.runtime;
    co.provider = deps.provider;
    co.checks = deps.checks;
    co.hooks = deps.hooks;
    co.checklist = deps.checklist;
    co.clock = deps.clock;
    co.config = deps.controller_slot->config();
    auto started = controller::Controller::start(std::move(co));
    if (!started) return fail(started.error().code, "controller: " + started.error().message);
    term->controller_ = std::move(*started);
    deps.controller_slot->set(term->controller_);
    *deps.ready = true;

    // Notifications the controller committed are delivered from the outbox on their own thread.
    term->outbox_runner_ = std::make_unique<notify::OutboxRunner>(deps.outbox, std::chrono::milliseconds(200));
    // Incidents' reminders and escalations, checked every second on their own thread.
    term->reminders_ = std::thread([t = term.get()] {
      t->everyUntilStopped(std::chrono::milliseconds(1000), "incident reminders",
                           [t]() -> Result<void> {
                             if (auto r = t->deps_.incidents->sendReminders(); !r) return fail(r.error());
                             return {};
                           });
    });
    // The simulated environments' instances become Ready as time passes, which no call
    // observes: their events are published every 100 ms, so the controller hears of them as
    // it would from a real runtime (it refreshes only what a runtime says changed).
    term->simulated_events_ = std::thread([t = term.get()] {
      t->everyUntilStopped(std::chrono::milliseconds(100), "simulated runtime events", [t]() -> Result<void> {
        t->deps_.simulated->publish();
        return {};
      });
    });
    // Traffic snapshots around each deployment for the release report (report/snapshots.hpp),
    // on their own thread so that a slow router never delays anything else.
    term->snapshots_ = std::thread([t = term.get()] {
      auto slot = t->deps_.controller_slot;
      report::TrafficSnapshots snapshots(report::SnapshotOptions{t->deps_.store, t->deps_.runtime, t->deps_.clock,
                                                                 [slot] { return slot->config(); },
                                                                 t->deps_.report_window});
      t->everyUntilStopped(std::chrono::milliseconds(250), "report snapshots", [&] { return snapshots.tick(); });
    });
    if (!url.empty()) {
      if (auto w = writeServerFile(deps.data, ServerFile{static_cast<int>(::getpid()), url}); !w) {
        spdlog::warn("cannot write {}: {}", (deps.data / "server.json").string(), w.error().message);
      }
      term->wrote_server_file_ = true;
    }
    return term;
  }

  ~LeaderTerm() {
    *deps_.ready = false;
    deps_.controller_slot->set(nullptr);
    {
      std::lock_guard held(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (snapshots_.joinable()) snapshots_.join();
    if (simulated_events_.joinable()) simulated_events_.join();
    if (reminders_.joinable()) reminders_.join();
    if (outbox_runner_) outbox_runner_->stop();
    if (controller_) controller_->stop();
    // No runtime event may reach the stopped controller.
    deps_.runtime->setEventHandler(nullptr);
    deps_.local_slot->set(nullptr);
    local_.reset();
    if (wrote_server_file_) {
      if (auto file = readServerFile(deps_.data); file && file->pid == static_cast<int>(::getpid())) {
        removeServerFile(deps_.data);
      }
    }
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }
  LeaderTerm(const LeaderTerm&) = delete;
  LeaderTerm& operator=(const LeaderTerm&) = delete;

  // Brings the router back if it died.
  void watchRouter() {
    router::AdminClient client(routerSocket(deps_.data).string(), Duration{1000});
    if (!client.table()) {
      if (auto r = ensureRouter(deps_.data, deps_.router_threads, *deps_.launcher); !r) {
        spdlog::error("router: {}", r.error().message);
      }
    }
  }

 private:
  explicit LeaderTerm(LeaderDeps deps) : deps_(std::move(deps)) {}

  // Runs `pass` every `period` until the term ends; a failure is logged as RepeatedFailure
  // says (once, again when it changes, then once when it works again).
  void everyUntilStopped(std::chrono::milliseconds period, const char* what, const std::function<Result<void>()>& pass) {
    RepeatedFailure failures;
    std::unique_lock held(mutex_);
    while (!stop_) {
      held.unlock();
      if (auto r = pass(); !r) {
        if (auto line = failures.failed(r.error(), RepeatedFailure::Clock::now())) spdlog::warn("{}: {}", what, *line);
      } else if (auto line = failures.succeeded()) {
        spdlog::info("{}: {}", what, *line);
      }
      held.lock();
      cv_.wait_for(held, period, [&] { return stop_; });
    }
  }

  LeaderDeps deps_;
  int lock_fd_ = -1;
  std::shared_ptr<runtime::LocalRuntime> local_;
  std::shared_ptr<controller::Controller> controller_;
  std::unique_ptr<notify::OutboxRunner> outbox_runner_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread reminders_;
  std::thread snapshots_;
  std::thread simulated_events_;
  bool wrote_server_file_ = false;
};

// This process's server id when --server-id is not given: HOST:PID.
std::string defaultServerId() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "localhost");
  return fmt::format("{}:{}", host, ::getpid());
}

int serve(const ServeOptions& opts) {
  const fs::path data = fs::absolute(opts.data);
  std::error_code ec;
  fs::create_directories(data, ec);
  ::chmod(data.c_str(), 0700);
  // SQLite: one server per data directory, for its whole life. PostgreSQL: several servers may
  // share the database (and the data directory); the lock is the leader's (LeaderTerm).
  const bool clustered = !opts.store.url.empty();
  if (!clustered) {
    auto lock = lockDataDir(data);
    if (!lock) {
      fmt::print(stderr, "runway: {}{}\n", lock.error().message,
                 lock.error().code == ErrorCode::FailedPrecondition
                     ? " (several servers need a PostgreSQL store: --store postgres://...)"
                     : "");
      return exitCode(lock.error().code);
    }
  }
  auto listen = parseListen(opts.listen);
  if (!listen) {
    fmt::print(stderr, "runway: {}\n", listen.error().message);
    return kExitUsage;
  }
  const std::string server_id = opts.server_id.empty() ? defaultServerId() : opts.server_id;
  if (server_id.find_first_of(" \t\r\n") != std::string::npos || server_id.size() > 200) {
    fmt::print(stderr, "runway: --server-id must be 1 to 200 characters without spaces\n");
    return kExitUsage;
  }
  auto lease_ttl = parseDuration(opts.lease_ttl);
  if (!lease_ttl || *lease_ttl < std::chrono::seconds(1) || *lease_ttl > std::chrono::minutes(5)) {
    fmt::print(stderr, "runway: --lease-ttl must be a duration from 1s to 5m\n");
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

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto clock = systemClock();
  auto opened = openStore(opts, data);
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
  const std::string socket = routerSocket(data).string();
  // Environments on Kubernetes go to the kubernetes runtime (one cluster connection each), the
  // simulated ones to the simulated runtime, the others to the local one (the leader's: it
  // needs the data directory's lock); the controller sees one Runtime. Which runtime an
  // environment is on is read here, at start: a reload that moves an environment takes a restart.
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
  // Its world is put back from the store's serving records when a term of leadership starts
  // (LeaderTerm::start: at start with SQLite, at each takeover with PostgreSQL).
  auto local_slot = std::make_shared<LeaderOnlyRuntime>();
  std::map<std::string, std::shared_ptr<runtime::Runtime>> by_environment;
  for (const auto& env : kubernetes_environments) by_environment.emplace(env, kubernetes_runtime);
  for (const auto& env : simulated_environments) by_environment.emplace(env, simulated_runtime);
  std::shared_ptr<runtime::Runtime> runtime =
      std::make_shared<runtime::DispatchingRuntime>(local_slot, std::move(by_environment));

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
  auto controller_slot = std::make_shared<LeaderOnlyController>(config);
  auto gate = std::make_shared<GateChecks>(runtime, socket, clock);
  gate->setDataDir(data);
  gate->setKubernetes(kubernetes_runtime);
  auto checklist = std::make_shared<ConfigChecklist>(clock, data, store);

  notify::OutboxOptions oo;
  oo.store = store;
  oo.clock = clock;
  oo.transport = notify::httpTransport();
  oo.config = [controller_slot] { return controller_slot->config(); };
  auto outbox = std::make_shared<notify::OutboxWorker>(std::move(oo));
  auto incidents = std::make_shared<incident::IncidentService>(
      store, clock, [controller_slot] { return controller_slot->config(); }, systemRandom());

  LeaderDeps deps;
  deps.data = data;
  deps.router_threads = opts.router_threads;
  deps.launcher = launcher;
  deps.proxy_settings = proxy_settings;
  deps.clock = clock;
  deps.store = store;
  deps.local_slot = local_slot;
  deps.runtime = runtime;
  deps.provider = provider;
  deps.checks = gate;
  deps.hooks = std::make_shared<ConfigHooks>(data, clock);
  deps.checklist = checklist;
  deps.controller_slot = controller_slot;
  deps.simulated = simulated_runtime;
  deps.outbox = outbox;
  deps.incidents = incidents;
  deps.report_window = *report_window;
  deps.ready = &ready;

  // The current term (nullptr while this server does not lead).
  std::mutex term_mu;
  std::unique_ptr<LeaderTerm> term;
  if (!clustered) {
    // One server: it leads from the start, before the API answers (as it always did).
    auto started = LeaderTerm::start(deps, false, [] { return true; }, "");
    if (!started) {
      fmt::print(stderr, "runway: {}\n", started.error().message);
      return exitCode(started.error().code);
    }
    term = std::move(*started);
  }
  // Set once the election runs (PostgreSQL); read by the API's threads.
  std::atomic<controller::LeaderElection*> election_at{nullptr};
  const auto leading = [&election_at, clustered] {
    if (!clustered) return true;
    auto* e = election_at.load();
    return e != nullptr && e->leading();
  };
  const auto leader_address = [&election_at, clock]() -> std::optional<LeaderAddress> {
    auto* e = election_at.load();
    if (e == nullptr) return std::nullopt;
    const auto status = e->freshStatus();
    if (!status.lease || status.lease->expires_at <= clock->now()) return std::nullopt;
    const auto holder = parseLeaseHolder(status.lease->holder);
    return LeaderAddress{holder.server_id, holder.url};
  };

  auto ctx = std::make_shared<api::ApiContext>();
  ctx->store = store;
  ctx->controller = controller_slot;
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
  // Filled in once the URL is known (below); read by /api/v1/cluster.
  auto advertised = std::make_shared<std::string>();
  ctx->cluster = [&election_at, clustered, server_id, advertised, ttl = *lease_ttl] {
    api::ClusterView view;
    view.store = clustered ? "postgres" : "sqlite";
    view.server_id = server_id;
    view.url = *advertised;
    if (!clustered) {
      view.leading = true;
      view.leader_id = server_id;
      view.leader_url = *advertised;
      return view;
    }
    view.lease_ttl = ttl;
    auto* e = election_at.load();
    if (e == nullptr) return view;
    const auto status = e->status();
    view.leading = e->leading();
    view.leading_since = status.leading_since;
    if (status.lease) {
      const auto holder = parseLeaseHolder(status.lease->holder);
      view.leader_id = holder.server_id;
      view.leader_url = holder.url;
      view.term = status.lease->term;
      view.lease_expires_at = status.lease->expires_at;
    }
    return view;
  };
  api::ServerOptions so;
  so.address = listen->first;
  so.port = listen->second;
  so.tls_cert_file = opts.tls_cert;
  so.tls_key_file = opts.tls_key;
  so.max_event_streams = static_cast<std::size_t>(opts.max_event_streams);
  // Handlers block: a write waits for the controller's strand, a read for the store. Enough of
  // them that reads are not queued behind writes waiting their turn on the strand.
  so.handler_threads = 16;
  // Dashboard sessions live in this process (sessions.hpp says why); each use rechecks its token.
  auto sessions = std::make_shared<api::SessionTable>(
      api::SessionOptions{clock, *session_ttl, 10'000, !opts.tls_cert.empty(), store});
  so.sessions = sessions;
  auto authenticator = api::storeAuthenticator(store, clock);
  auto routes = api::v1Routes(ctx);
  for (auto& r : api::dashboardRoutes(ctx, authenticator, sessions, dashboardAssets())) routes.push_back(std::move(r));
  if (clustered) forwardWritesToLeader(routes, server_id, leading, leader_address);
  auto server = api::startHttpServer(so, std::move(routes), authenticator);
  if (!server) {
    fmt::print(stderr, "runway: {}\n", server.error().message);
    term.reset();
    return exitCode(server.error().code);
  }
  const bool tls = !opts.tls_cert.empty();
  const std::string host = listen->first.find(':') != std::string::npos ? "[" + listen->first + "]" : listen->first;
  const std::string url = fmt::format("{}://{}:{}", tls ? "https" : "http", host, (*server)->port());
  *advertised = opts.advertise.empty() ? url : opts.advertise;
  if (!clustered) {
    if (auto w = writeServerFile(data, ServerFile{static_cast<int>(::getpid()), url}); !w) {
      spdlog::warn("cannot write {}: {}", (data / "server.json").string(), w.error().message);
    }
  }
  // Several servers: this one leads while it holds the lease (controller/leader_election.hpp).
  std::unique_ptr<controller::LeaderElection> election;
  if (clustered) {
    // The lease on a connection of its own: a renewal never waits behind the store's other
    // work (one connection, one statement at a time), which could let the lease lapse.
    auto pg = postgresOptions(opts.store);
    auto lease_store = pg ? store::openPostgresStore(*pg) : Result<std::unique_ptr<store::Store>>(fail(pg.error()));
    if (!lease_store) {
      fmt::print(stderr, "runway: {}\n", lease_store.error().message);
      (*server)->stop(std::chrono::milliseconds(1000));
      return exitCode(lease_store.error().code);
    }
    controller::LeaderElectionOptions eo;
    eo.store = std::move(*lease_store);
    eo.clock = clock;
    eo.holder = formatLeaseHolder(server_id, *advertised, fmt::format("{:016x}", systemRandom()->next()));
    eo.ttl = *lease_ttl;
    eo.follower_poll = std::clamp<Duration>(*lease_ttl / 10, Duration{100}, Duration{1000});
    eo.on_elected = [&](const store::Lease& lease, controller::LeaderElection& self) {
      // Fenced before anything the controller writes: once another server holds the lease,
      // every write of this one is refused (and makes it step down at once).
      store->setFence(self.fence(lease.term));
      auto started = LeaderTerm::start(deps, true, [&self] { return self.leading(); }, url);
      if (!started) {
        if (self.leading()) {
          spdlog::error("cannot lead: {}; giving the lease up", started.error().message);
          self.resign();
        }
        return;
      }
      spdlog::info("leading at term {}: the controller runs", lease.term);
      std::lock_guard held(term_mu);
      term = std::move(*started);
    };
    eo.on_deposed = [&] {
      std::unique_ptr<LeaderTerm> ending;
      {
        std::lock_guard held(term_mu);
        ending = std::move(term);
      }
      ending.reset();
      spdlog::info("following: the controller stopped");
    };
    auto started = controller::LeaderElection::start(std::move(eo));
    if (!started) {
      fmt::print(stderr, "runway: {}\n", started.error().message);
      (*server)->stop(std::chrono::milliseconds(1000));
      return exitCode(started.error().code);
    }
    election = std::move(*started);
    election_at = election.get();
    spdlog::info("server {} on a shared store: lease TTL {} ms; the server holding the lease leads", server_id,
                 lease_ttl->count());
  }
  if (clustered) {
    // Said to be listening once it can take requests: leading with its deployments recovered,
    // or following a live leader (a lease left by a server that died expires first).
    const auto settle_by = std::chrono::steady_clock::now() + 2 * *lease_ttl + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < settle_by) {
      const auto view = ctx->cluster();
      if (view.leading ? ready.load()
                       : !view.leader_id.empty() && view.lease_expires_at && *view.lease_expires_at > clock->now()) {
        break;
      }
      ::usleep(20'000);
    }
  }
  fmt::print("runway serve: listening on {} (data {}, config {})\n", url, data.string(), config_path);
  fmt::print("runway serve: dashboard at {}/ (sign in with an API token)\n", url);
  std::fflush(stdout);
  // systemd (runway.service, Type=notify): started once the API answers.
  notifyServiceManager(fmt::format("READY=1\nMAINPID={}\nSTATUS=listening on {}", ::getpid(), url));

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
        controller_slot->reload(std::make_shared<const config::Config>(std::move(*reloaded.config)));
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
    // The leader watches the router: it brings it back if it died.
    std::lock_guard held(term_mu);
    if (term) term->watchRouter();
  }
  (*server)->stop(std::chrono::milliseconds(5000));
  if (election) {
    // Stops the term, then gives the lease back: a follower takes over at once.
    election->stop();
    election_at = nullptr;
  }
  {
    std::lock_guard held(term_mu);
    term.reset();
  }
  if (!clustered) removeServerFile(data);
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
  addStoreFlags(cmd, opts->store, "--store",
                "The store: a PostgreSQL database, postgres://USER@HOST:PORT/DB (no password in "
                "the URL; see --store-password-file). Default: SQLite in DATA/runway.db");
  cmd->add_option("--server-id", opts->server_id,
                  "This server's name among several on one PostgreSQL store (default HOST:PID)");
  cmd->add_option("--lease-ttl", opts->lease_ttl,
                  "With a PostgreSQL store: how long the leader's lease lasts without renewal (renewed every "
                  "third of it; 1s to 5m). A follower takes over within about this long after the leader dies")
      ->capture_default_str();
  cmd->add_option("--advertise", opts->advertise,
                  "With a PostgreSQL store: the URL other servers forward writes to while this one leads "
                  "(default: the URL it listens on)");
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
