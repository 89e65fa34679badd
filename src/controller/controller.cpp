#include "runway/controller/controller.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runway/analysis/analysis.hpp"
#include "runway/core/ids.hpp"
#include "runway/engine/engine.hpp"
#include "runway/engine/json.hpp"
#include "runway/runtime/local_runtime.hpp"

namespace runway::controller {
namespace {

namespace json = boost::json;
using engine::DeploymentState;
using engine::Phase;

constexpr std::string_view kController = "runway";

const char* phaseName(Phase p) { return engine::toString(p).data(); }

// The engine's per-measurement outcome for an analysis measurement.
std::optional<engine::Outcome> engineOutcome(analysis::MeasurementOutcome o) {
  switch (o) {
    case analysis::MeasurementOutcome::Successful: return engine::Outcome::Successful;
    case analysis::MeasurementOutcome::Failed: return engine::Outcome::Failed;
    case analysis::MeasurementOutcome::Inconclusive: return engine::Outcome::Inconclusive;
    case analysis::MeasurementOutcome::Error: return engine::Outcome::Error;
    case analysis::MeasurementOutcome::Breaching: return std::nullopt;
  }
  return std::nullopt;
}

// The engine's form of the analysis module's verdict on one metric of one service.
engine::RunStatus engineVerdict(analysis::Phase p) {
  switch (p) {
    case analysis::Phase::Pending:
    case analysis::Phase::Running: return engine::RunStatus::Running;
    case analysis::Phase::Successful: return engine::RunStatus::Successful;
    case analysis::Phase::Inconclusive: return engine::RunStatus::Inconclusive;
    case analysis::Phase::Error: return engine::RunStatus::Error;
    case analysis::Phase::Failed: return engine::RunStatus::Failed;
  }
  return engine::RunStatus::Error;
}

// True when a deployment has ended and only its lifecycle hooks keep it live: its runtime intent
// is history and must not be executed again.
bool onlyHooksLeft(const PersistedDeployment& doc) {
  if (doc.hooks.empty()) return false;
  PersistedDeployment without = doc;
  without.hooks.clear();
  return !without.live();
}

// One service's share of an analysis run.
struct ServiceRun {
  std::string service;
  analysis::AnalysisRun run;
  std::set<std::size_t> in_flight;
};

struct RunExec {
  engine::StartAnalysis spec;
  std::vector<ServiceRun> services;
};

struct Live {
  store::DeploymentRecord record;
  PersistedDeployment doc;
  std::map<std::uint32_t, RunExec> runs;
  std::set<std::uint32_t> checks_in_flight;
  std::optional<TimePoint> fired_wake;  // the wake_at value last delivered as a Timer
  TimePoint fired_at{};
};

store::DeploymentFilter filter(std::string environment, std::string phase = {},
                               std::string version = {}, int limit = 100) {
  store::DeploymentFilter f;
  f.environment = std::move(environment);
  f.phase = std::move(phase);
  f.version = std::move(version);
  f.limit = limit;
  return f;
}

bool holds(const Actor& actor, const std::string& role) {
  return std::find(actor.roles.begin(), actor.roles.end(), role) != actor.roles.end();
}

template <typename T, typename Same>
void upsert(std::vector<T>& items, T item, Same same) {
  for (auto& existing : items) {
    if (same(existing, item)) {
      existing = std::move(item);
      return;
    }
  }
  items.push_back(std::move(item));
}

runtime::TrafficSplit toSplit(const engine::SetTraffic& t) {
  runtime::TrafficSplit split;
  for (const auto& w : t.weights) {
    if (w.weight > 0) split.weights[w.version] = w.weight * 10;
  }
  for (const auto& r : t.routes) {
    runtime::TrafficRoute route;
    route.header = r.route.header;
    route.cookie = r.route.cookie;
    route.match = static_cast<runtime::TrafficRoute::Match>(r.route.match);
    route.value = r.route.value;
    route.version = r.version;
    split.routes.push_back(std::move(route));
  }
  return split;
}

class ControllerImpl final : public Controller {
 public:
  explicit ControllerImpl(ControllerOptions options)
      : o_(std::move(options)),
        config_(o_.config),
        ids_(o_.clock, systemRandom()),
        pool_(static_cast<std::size_t>(std::max(1, o_.workers))) {
    metrics_.reconcile_bounds = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 1e300};
    metrics_.reconcile_buckets.assign(metrics_.reconcile_bounds.size(), 0);
  }

  ~ControllerImpl() override { stop(); }

  Result<void> recover() {
    auto records = o_.store->listDeployments(filter({}, {}, {}, 1000));
    if (!records) return fail(records.error());
    std::reverse(records->begin(), records->end());  // oldest first
    for (auto& record : *records) {
      auto doc = parsePersisted(record.state_json);
      if (!doc) {
        spdlog::error("deployment {}: cannot read its stored state: {}", record.id, doc.error().message);
        continue;
      }
      if (!doc->live()) continue;
      Live d;
      d.record = std::move(record);
      d.doc = std::move(*doc);
      const std::string id = d.record.id;
      live_.emplace(id, std::move(d));
    }
    // Re-execute what was committed; clean up what nobody wants.
    std::set<std::string> environments;
    for (const auto& env : config()->environments) environments.insert(env.name);
    for (auto& [id, d] : live_) {
      environments.insert(d.record.environment);
      if (d.doc.queued) continue;
      if (onlyHooksLeft(d.doc)) continue;  // ended; only its hooks are left to run (below)
      spdlog::info("deployment {} ({} {} in {}): resuming, re-executing its intent", id,
                   d.record.environment, d.record.version, phaseName(d.doc.state.phase));
      applyIntent(d);
      for (const auto& a : d.doc.analyses) startAnalysis(d, a);
      for (const auto& c : d.doc.checks) runChecks(d, c);
    }
    // Hooks committed but not confirmed when the server stopped run (again).
    std::vector<std::string> with_hooks;
    for (const auto& [id, d] : live_) {
      if (!d.doc.hooks.empty()) with_hooks.push_back(id);
    }
    for (const auto& id : with_hooks) runHookIntents(id);
    if (auto* local = dynamic_cast<runtime::LocalRuntime*>(o_.runtime.get()); local != nullptr) {
      for (const auto& env : environments) {
        auto keep = wanted(env);
        if (auto r = local->retainOnly(env, keep, o_.retire_grace); !r) {
          spdlog::warn("environment {}: cleaning up unwanted versions: {}", env, r.error().message);
        }
      }
    }
    // A queued deployment was committed before its start hooks ran (or while it waited for the
    // environment, e.g. a rollback admitted as its predecessor was superseded): start it now
    // where nothing else is active; its hooks run again.
    for (const auto& env : environments) startNextQueued(env);
    return {};
  }

  void run() {
    thread_ = std::thread([this] { loop(); });
  }

  // ---- public interface (any thread) -----------------------------------------------------

  Result<Admitted> deploy(DeployRequest request) override {
    return call<Result<Admitted>>([&] { return doDeploy(std::move(request)); });
  }
  Result<Admitted> rollback(RollbackRequest request) override {
    return call<Result<Admitted>>([&] { return doRollback(std::move(request)); });
  }
  Result<std::string> command(CommandRequest request) override {
    return call<Result<std::string>>([&] { return doCommand(std::move(request)); });
  }
  Result<std::string> decide(ApprovalRequest request) override {
    return call<Result<std::string>>([&] { return doDecide(std::move(request)); });
  }

  void reload(std::shared_ptr<const config::Config> config) override {
    std::lock_guard lock(config_mu_);
    config_ = std::move(config);
  }
  std::shared_ptr<const config::Config> config() const override {
    std::lock_guard lock(config_mu_);
    return config_;
  }

  ControllerMetrics metrics() const override {
    std::lock_guard lock(metrics_mu_);
    return metrics_;
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        // fall through to join
      }
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    pool_.stop();
    pool_.join();
  }

 private:
  // ---- the strand ------------------------------------------------------------------------

  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

  template <typename R, typename F>
  R call(F&& f) {
    if (std::this_thread::get_id() == thread_.get_id()) return f();
    std::promise<R> promise;
    auto future = promise.get_future();
    bool accepted = false;
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        tasks_.push_back([&] { promise.set_value(f()); });
        accepted = true;
      }
    }
    if (!accepted) return fail(ErrorCode::Unavailable, "the server is shutting down");
    cv_.notify_one();
    return future.get();
  }

  void loop() {
    auto last_refresh = std::chrono::steady_clock::now();
    while (true) {
      std::deque<std::function<void()>> tasks;
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, o_.poll, [&] { return stopping_ || !tasks_.empty(); });
        if (stopping_) {
          // Answer waiting callers before leaving.
          tasks.swap(tasks_);
          lock.unlock();
          for (auto& t : tasks) t();
          return;
        }
        tasks.swap(tasks_);
      }
      for (auto& t : tasks) t();
      const auto steady = std::chrono::steady_clock::now();
      if (steady - last_refresh >= std::chrono::milliseconds(250)) {
        last_refresh = steady;
        refreshReports();
        if (runtime_dirty_) reapplyIntents();
      }
      fireTimers();
      measureDue();
      retireDue();
      updatePhaseGauge();
    }
  }

  // ---- engine step + commit + execute -----------------------------------------------------

  // Applies one input to a live deployment: engine, one store transaction, then the actions.
  // Returns the engine's refusal or a store error.
  // `approvals` are the decisions behind `input`, recorded in the same transaction as the state
  // they produce (nothing is recorded when the engine changes nothing).
  Result<void> handle(const std::string& id, const engine::Input& input,
                      std::optional<engine::Admission>* admission = nullptr,
                      const std::vector<store::ApprovalRecord>& approvals = {}) {
    auto it = live_.find(id);
    if (it == live_.end()) return fail(ErrorCode::NotFound, "deployment " + id + " is not active");
    Live& d = it->second;
    const auto started = std::chrono::steady_clock::now();
    const TimePoint now = o_.clock->now();
    DeploymentState next = d.doc.state;
    std::vector<engine::Action> actions;
    std::optional<Error> refused = engine::apply(next, input, now, actions, admission);
    if (next == d.doc.state && actions.empty()) {
      if (refused) return fail(*refused);
      return {};
    }
    PersistedDeployment doc = d.doc;
    doc.state = std::move(next);
    doc.queued = false;
    if (const auto* result = std::get_if<engine::AnalysisResult>(&input)) {
      doc.latest[latestKey(result->run, result->service, result->metric)] =
          PersistedDeployment::Measured{result->value, std::string(engine::toString(result->outcome)), now};
    }
    std::vector<store::NewEvent> events;
    for (const auto& action : actions) record(doc, action, id, events);
    // Every phase this input passed through (an abort can reach RolledBack in one step), and the
    // lifecycle hooks they call for: committed with the state, run after it.
    std::vector<Phase> entered;
    for (const auto& action : actions) {
      if (const auto* audit = std::get_if<engine::Audit>(&action); audit != nullptr && audit->from != audit->to) {
        entered.push_back(audit->to);
      }
    }
    for (const auto point : hookPointsFor(d, d.doc.state.phase, entered)) {
      const PersistedDeployment::HookIntent intent{point, doc.state.attempt};
      if (std::find(doc.hooks.begin(), doc.hooks.end(), intent) == doc.hooks.end()) {
        doc.hooks.push_back(intent);
      }
    }
    // Runs the engine has finished no longer need executing.
    std::erase_if(doc.analyses, [&](const engine::StartAnalysis& a) {
      for (const auto& r : doc.state.runs) {
        if (r.id == a.run) return r.status != engine::RunStatus::Running;
      }
      return true;
    });
    std::erase_if(doc.checks, [&](const engine::RunChecks& c) {
      for (const auto& r : doc.state.checks) {
        if (r.id == c.run) return r.status != engine::CheckStatus::Running;
      }
      return true;
    });
    store::DeploymentRecord record = d.record;
    record.phase = engine::toString(doc.state.phase);
    record.state_json = toJson(doc);
    record.updated_at = now;
    auto updated = o_.store->updateDeployment(record, events, approvals);
    if (!updated) {
      countFailure("commit");
      spdlog::error("deployment {}: cannot commit its next state: {}", id, updated.error().message);
      return fail(updated.error());
    }
    const Phase before = d.doc.state.phase;
    d.record = std::move(*updated);
    d.doc = std::move(doc);
    if (before != d.doc.state.phase) {
      spdlog::info("deployment {}: {} -> {} ({} {})", id, phaseName(before),
                   phaseName(d.doc.state.phase), d.record.environment, d.record.version);
    }
    execute(id, actions);
    if (live_.count(id) != 0) runHookIntents(id);
    observeReconcile(std::chrono::steady_clock::now() - started);
    if (o_.on_commit) o_.on_commit();
    afterCommit(id);
    if (refused) return fail(*refused);
    return {};
  }

  // Folds one action into the persisted document (intent) and the events of the transaction.
  void record(PersistedDeployment& doc, const engine::Action& action, const std::string& id,
              std::vector<store::NewEvent>& events) {
    std::visit(
        [&](const auto& a) {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, engine::StartVersion>) {
            upsert(doc.starts, a, [](const auto& x, const auto& y) {
              return x.service == y.service && x.version == y.version;
            });
            std::erase_if(doc.retirements, [&](const engine::RetireVersion& r) {
              return r.service == a.service && r.version == a.version;
            });
          } else if constexpr (std::is_same_v<T, engine::SetTraffic>) {
            upsert(doc.traffic, a, [](const auto& x, const auto& y) { return x.service == y.service; });
          } else if constexpr (std::is_same_v<T, engine::SwitchColour>) {
            engine::SetTraffic t;
            t.service = a.service;
            t.weights = {engine::VersionWeight{a.version, 100}};
            upsert(doc.traffic, t, [](const auto& x, const auto& y) { return x.service == y.service; });
          } else if constexpr (std::is_same_v<T, engine::RetireVersion>) {
            std::erase_if(doc.starts, [&](const engine::StartVersion& s) {
              return s.service == a.service && s.version == a.version;
            });
            upsert(doc.retirements, a, [](const auto& x, const auto& y) {
              return x.service == y.service && x.version == y.version;
            });
          } else if constexpr (std::is_same_v<T, engine::StartAnalysis>) {
            doc.analyses.push_back(a);
          } else if constexpr (std::is_same_v<T, engine::StopAnalysis>) {
            std::erase_if(doc.analyses, [&](const engine::StartAnalysis& s) { return s.run == a.run; });
          } else if constexpr (std::is_same_v<T, engine::RunChecks>) {
            doc.checks.push_back(a);
          } else if constexpr (std::is_same_v<T, engine::Audit>) {
            json::object data{{"from", engine::toString(a.from)},
                              {"to", engine::toString(a.to)},
                              {"version", doc.state.version},
                              {"attempt", doc.state.attempt}};
            if (a.kind.rfind("step.", 0) == 0) {
              // The engine's reasons name the step ("step 2: pause until ..."); one input can
              // pass several steps, so the state's index is only the fallback.
              int step = doc.state.step_index;
              if (a.reason.rfind("step ", 0) == 0) {
                const auto end = a.reason.find_first_not_of("0123456789", 5);
                if (end != 5) step = std::stoi(a.reason.substr(5, end - 5));
              }
              data["step"] = step;
            }
            events.push_back(store::NewEvent{a.at, a.actor, a.kind, id, a.reason,
                                             json::serialize(data)});
          }
        },
        action);
  }

  void execute(const std::string& id, const std::vector<engine::Action>& actions) {
    auto it = live_.find(id);
    if (it == live_.end()) return;
    Live& d = it->second;
    for (const auto& action : actions) {
      std::visit(
          [&](const auto& a) {
            using T = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<T, engine::StartVersion>) {
              startVersion(d, a);
            } else if constexpr (std::is_same_v<T, engine::SetTraffic>) {
              setTraffic(d, a);
            } else if constexpr (std::is_same_v<T, engine::SwitchColour>) {
              engine::SetTraffic t;
              t.service = a.service;
              t.weights = {engine::VersionWeight{a.version, 100}};
              setTraffic(d, t);
            } else if constexpr (std::is_same_v<T, engine::StartAnalysis>) {
              startAnalysis(d, a);
            } else if constexpr (std::is_same_v<T, engine::StopAnalysis>) {
              d.runs.erase(a.run);
            } else if constexpr (std::is_same_v<T, engine::RunChecks>) {
              runChecks(d, a);
            } else if constexpr (std::is_same_v<T, engine::Notify>) {
              spdlog::info("deployment {}: {}: {}", id, engine::toString(a.event), a.reason);
            } else if constexpr (std::is_same_v<T, engine::RequestApproval>) {
              std::string roles;
              for (const auto& r : a.roles) roles += (roles.empty() ? "" : ", ") + r;
              spdlog::info("deployment {}: waiting for approval by {}", id, roles);
            } else if constexpr (std::is_same_v<T, engine::OpenIncident>) {
              spdlog::warn("deployment {}: SEV-{} {}: {}", id, a.severity, a.title, a.reason);
            }
            // RetireVersion runs from retireDue(); WakeAt lives in the state; Audit is committed.
          },
          action);
    }
  }

  // ---- runtime ----------------------------------------------------------------------------

  const config::Environment* environmentOf(const Live& d) const {
    return config()->findEnvironment(d.record.environment);
  }

  const config::Service* serviceOf(const Live& d, const std::string& name) const {
    auto cfg = config();
    const auto* env = cfg->findEnvironment(d.record.environment);
    if (env == nullptr) return nullptr;
    const auto* app = cfg->applicationFor(*env);
    if (app == nullptr) return nullptr;
    for (const auto& s : app->services) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }

  void startVersion(Live& d, const engine::StartVersion& a) {
    auto cfg = config();  // keeps the services alive for this call
    const auto* env = cfg->findEnvironment(d.record.environment);
    const auto* svc = serviceOf(d, a.service);
    if (env == nullptr || svc == nullptr) {
      countFailure("startVersion");
      spdlog::error("deployment {}: service {} of {} is no longer in the configuration", d.record.id,
                    a.service, d.record.environment);
      return;
    }
    // The release's artifacts belong to the deployment's own version; the stable version runs
    // as it was configured.
    std::map<std::string, std::string> artifacts;
    if (a.version == d.doc.state.version) {
      for (const auto& art : d.doc.state.artifacts) artifacts[art.service] = art.ref;
    }
    auto r = o_.runtime->startVersion(*env, *svc, a.version, a.instances, artifacts);
    if (!r) {
      countFailure("startVersion");
      runtime_dirty_ = true;
      spdlog::error("deployment {}: start {} {} x{}: {}", d.record.id, a.service, a.version,
                    a.instances, r.error().message);
    }
  }

  void setTraffic(Live& d, const engine::SetTraffic& a) {
    auto split = toSplit(a);
    if (split.weights.empty()) return;
    auto r = o_.runtime->setTraffic(d.record.environment, a.service, split);
    if (!r) {
      countFailure("setTraffic");
      runtime_dirty_ = true;
      spdlog::error("deployment {}: traffic of {}: {}", d.record.id, a.service, r.error().message);
      return;
    }
    // The router has it: tell the engine which weights are in effect.
    const std::string id = d.record.id;
    post([this, id, a] {
      for (const auto& w : a.weights) report(id, a.service, w.version, w.weight);
    });
  }

  void applyIntent(Live& d) {
    for (const auto& s : d.doc.starts) startVersion(d, s);
    for (const auto& t : d.doc.traffic) setTraffic(d, t);
  }

  void reapplyIntents() {
    runtime_dirty_ = false;
    for (auto& [id, d] : live_) {
      if (!d.doc.queued && !isTerminal(d.doc.state.phase)) applyIntent(d);
    }
  }

  // The (service, version) pairs an environment must keep running.
  std::vector<std::pair<std::string, std::string>> wanted(const std::string& environment) {
    std::vector<std::pair<std::string, std::string>> keep;
    const auto add = [&](const std::string& s, const std::string& v) {
      if (v.empty()) return;
      auto p = std::make_pair(s, v);
      if (std::find(keep.begin(), keep.end(), p) == keep.end()) keep.push_back(std::move(p));
    };
    auto current = currentRelease(*o_.store, environment);
    auto cfg = config();
    if (current && !current->empty()) {
      if (const auto* env = cfg->findEnvironment(environment)) {
        if (const auto* app = cfg->applicationFor(*env)) {
          for (const auto& s : app->services) add(s.name, *current);
        }
      }
    }
    for (const auto& [id, d] : live_) {
      if (d.record.environment != environment || d.doc.queued || onlyHooksLeft(d.doc)) continue;
      for (const auto& s : d.doc.starts) add(s.service, s.version);
      for (const auto& r : d.doc.retirements) add(r.service, r.version);
      for (const auto& t : d.doc.traffic) {
        for (const auto& w : t.weights) add(t.service, w.version);
      }
    }
    return keep;
  }

  // Feeds the engine what the runtime sees for one version of one service.
  void report(const std::string& id, const std::string& service, const std::string& version,
              int traffic_weight) {
    auto it = live_.find(id);
    if (it == live_.end() || isTerminal(it->second.doc.state.phase)) return;
    auto instances = o_.runtime->instances(it->second.record.environment, service);
    if (!instances) return;
    engine::RuntimeReport r;
    r.service = service;
    r.version = version;
    r.traffic_weight = traffic_weight;
    r.others = 0;
    const auto& state = it->second.doc.state;
    for (const auto& i : *instances) {
      if (i.version != state.version && i.version != state.stable_version &&
          i.state != runtime::InstanceState::Stopped) {
        r.others++;
      }
      if (i.version != version) continue;
      if (i.state == runtime::InstanceState::Ready) r.ready++;
      if (i.state == runtime::InstanceState::Failed) r.failed++;
    }
    (void)handle(id, r);
  }

  void refreshReports() {
    std::vector<std::tuple<std::string, std::string, std::string>> todo;
    for (const auto& [id, d] : live_) {
      const auto& s = d.doc.state;
      if (d.doc.queued || isTerminal(s.phase) || s.phase == Phase::Pending) continue;
      for (const auto& sv : s.services) {
        todo.emplace_back(id, sv.name, s.version);
        if (!s.stable_version.empty()) todo.emplace_back(id, sv.name, s.stable_version);
      }
    }
    for (const auto& [id, service, version] : todo) report(id, service, version, -1);
  }

  void retireDue() {
    const TimePoint now = o_.clock->now();
    std::vector<std::string> ids;
    for (const auto& [id, d] : live_) {
      for (const auto& r : d.doc.retirements) {
        if (r.at <= now) {
          ids.push_back(id);
          break;
        }
      }
    }
    for (const auto& id : ids) {
      auto found = live_.find(id);
      if (found == live_.end()) continue;
      Live& d = found->second;
      PersistedDeployment doc = d.doc;
      bool changed = false;
      for (auto it = doc.retirements.begin(); it != doc.retirements.end();) {
        if (it->at > now) {
          ++it;
          continue;
        }
        auto r = o_.runtime->retireVersion(d.record.environment, it->service, it->version,
                                           o_.retire_grace);
        if (!r) {
          // Still routed (e.g. a split not yet applied): try again on a later pass.
          countFailure("retireVersion");
          spdlog::warn("deployment {}: retire {} {}: {}", id, it->service, it->version, r.error().message);
          it->at = now + Duration{1000};
          ++it;
          continue;
        }
        spdlog::info("deployment {}: retiring {} {}", id, it->service, it->version);
        it = doc.retirements.erase(it);
        changed = true;
      }
      if (!changed) {
        d.doc.retirements = doc.retirements;
        continue;
      }
      store::DeploymentRecord record = d.record;
      record.state_json = toJson(doc);
      record.updated_at = now;
      auto updated = o_.store->updateDeployment(record, {});
      if (!updated) {
        countFailure("commit");
        continue;
      }
      d.record = std::move(*updated);
      d.doc = std::move(doc);
      afterCommit(id);
    }
  }

  // ---- timers -----------------------------------------------------------------------------

  void fireTimers() {
    const TimePoint now = o_.clock->now();
    std::vector<std::string> due;
    for (auto& [id, d] : live_) {
      const auto& wake = d.doc.state.wake_at;
      if (!wake || *wake > now || d.doc.queued) continue;
      // The same wake-up is delivered once, then at most once a second while it stays.
      if (d.fired_wake == wake && now - d.fired_at < Duration{1000}) continue;
      d.fired_wake = wake;
      d.fired_at = now;
      due.push_back(id);
    }
    for (const auto& id : due) (void)handle(id, engine::Timer{});
  }

  // ---- analysis ---------------------------------------------------------------------------

  void startAnalysis(Live& d, const engine::StartAnalysis& a) {
    auto cfg = config();
    const auto* env = cfg->findEnvironment(d.record.environment);
    const auto* app = env != nullptr ? cfg->applicationFor(*env) : nullptr;
    // Templates, the per-use interval and the per-use thresholds, resolved once for the run.
    auto metrics = analysis::buildMetrics(*cfg, a.templates, a.interval, a.thresholds);
    const TimePoint now = o_.clock->now();
    RunExec exec;
    exec.spec = a;
    std::vector<std::string> services;
    if (auto named = a.args.find("service"); named != a.args.end()) {
      services.push_back(named->second);
    } else if (app != nullptr) {
      for (const auto& s : app->services) services.push_back(s.name);
    }
    std::string error = metrics ? std::string() : metrics.error().message;
    if (error.empty()) {
      for (const auto& service : services) {
        analysis::MeasureContext ctx;
        ctx.service = service;
        ctx.version = a.version;
        ctx.baseline_version = a.baseline;
        ctx.environment = d.record.environment;
        ctx.args = a.args;
        auto run = analysis::AnalysisRun::create(fmt::format("{}-{}", a.run, service), *metrics, ctx, now);
        if (!run) {
          error = run.error().message;
          break;
        }
        exec.services.push_back(ServiceRun{service, std::move(*run), {}});
      }
    }
    if (!error.empty() || exec.services.empty()) {
      if (error.empty()) error = "the application has no services to analyse";
      // Nothing can be measured, so nothing can be judged: the run's verdict is Error, which
      // fails the step (never a pass).
      spdlog::error("deployment {}: analysis run {}: {}", d.record.id, a.run, error);
      const std::string id = d.record.id;
      engine::AnalysisResult result;
      result.run = a.run;
      result.metric = "analysis";
      result.outcome = engine::Outcome::Error;
      result.verdict = engine::RunStatus::Error;
      result.reason = "analysis could not be set up: " + error;
      result.run_complete = true;
      post([this, id, result] { (void)handle(id, result); });
      return;
    }
    d.runs.insert_or_assign(a.run, std::move(exec));
  }

  void measureDue() {
    const TimePoint now = o_.clock->now();
    for (auto& [id, d] : live_) {
      for (auto& [run_id, exec] : d.runs) {
        for (std::size_t si = 0; si < exec.services.size(); ++si) {
          auto& sr = exec.services[si];
          for (std::size_t mi : sr.run.dueMetrics(now)) {
            if (sr.in_flight.count(mi) != 0) continue;
            sr.in_flight.insert(mi);
            config::MetricSpec metric = sr.run.metrics()[mi].spec();
            analysis::MeasureContext ctx = sr.run.context();
            ctx.now = now;
            boost::asio::post(pool_, [this, id = id, run_id = run_id, si, mi, metric = std::move(metric),
                                      ctx = std::move(ctx)] {
              auto answer = o_.provider->measure(metric, ctx);
              post([this, id, run_id, si, mi, answer = std::move(answer)] {
                recordMeasurement(id, run_id, si, mi, answer);
              });
            });
          }
        }
      }
    }
  }

  void recordMeasurement(const std::string& id, std::uint32_t run_id, std::size_t si, std::size_t mi,
                         const Result<analysis::MetricValue>& answer) {
    auto it = live_.find(id);
    if (it == live_.end()) return;
    auto rit = it->second.runs.find(run_id);
    if (rit == it->second.runs.end() || si >= rit->second.services.size()) return;
    RunExec& exec = rit->second;
    ServiceRun& sr = exec.services[si];
    sr.in_flight.erase(mi);
    const auto& status = sr.run.metrics()[mi].status();
    const std::size_t before = status.measurements.size();
    const TimePoint now = o_.clock->now();
    sr.run.record(mi, now, answer);
    const auto& after = sr.run.metrics()[mi].status();
    if (after.measurements.size() == before) return;  // the metric was already complete
    const analysis::Measurement& m = after.measurements.back();
    {
      std::lock_guard lock(metrics_mu_);
      metrics_.analysis_outcomes[std::string(analysis::toString(m.outcome))]++;
    }
    auto outcome = engineOutcome(m.outcome);
    if (!outcome) return;  // breaching, not yet for its `for` duration
    // Complete when every metric of every service has its final verdict.
    bool complete = true;
    for (const auto& s : exec.services) {
      if (!analysis::isComplete(s.run.phase()) || !s.in_flight.empty()) complete = false;
    }
    engine::AnalysisResult result;
    result.run = run_id;
    result.service = sr.service;
    result.metric = after.name;
    result.outcome = *outcome;
    result.value = m.value.value_or(0);
    result.verdict = engineVerdict(after.phase);
    result.reason = after.message;
    result.dry_run = after.dry_run;
    result.run_complete = complete;
    (void)handle(id, result);
  }

  // ---- checks -----------------------------------------------------------------------------

  void runChecks(Live& d, const engine::RunChecks& c) {
    if (!d.checks_in_flight.insert(c.run).second) return;
    const std::string id = d.record.id;
    const std::string env = d.record.environment;
    auto cfg = config();
    boost::asio::post(pool_, [this, id, env, c, cfg] {
      CheckOutcome out;
      if (o_.checks) {
        out = o_.checks->run(*cfg, env, c);
      } else {
        out.detail = "no check runner is configured";
      }
      post([this, id, c, out] {
        auto it = live_.find(id);
        if (it == live_.end()) return;
        it->second.checks_in_flight.erase(c.run);
        (void)handle(id, engine::CheckResult{c.run, out.passed, out.detail});
      });
    });
  }

  // ---- after a commit: queue, cleanup ---------------------------------------------------

  void afterCommit(const std::string& id) {
    auto it = live_.find(id);
    if (it == live_.end()) return;
    const std::string env = it->second.record.environment;
    const bool terminal = isTerminal(it->second.doc.state.phase) && !it->second.doc.queued;
    if (!it->second.doc.live()) live_.erase(it);
    if (terminal) startNextQueued(env);
  }

  const Live* activeIn(const std::string& environment) const {
    for (const auto& [id, d] : live_) {
      if (d.record.environment != environment) continue;
      // A queued deployment whose start hooks are running holds the environment too.
      if ((!d.doc.queued && !isTerminal(d.doc.state.phase)) || starting_.count(id) != 0) return &d;
    }
    return nullptr;
  }

  void startNextQueued(const std::string& environment) {
    if (activeIn(environment) != nullptr) return;
    std::vector<engine::QueuedRelease> queue;
    std::map<std::string, std::string> ids;  // version+rollback -> id (first queued)
    std::vector<std::string> order;
    for (const auto& [id, d] : live_) {
      if (d.record.environment == environment && d.doc.queued) order.push_back(id);
    }
    // Oldest first by creation time (ids sort by creation).
    std::sort(order.begin(), order.end());
    std::string chosen;
    for (const auto& id : order) {
      if (live_.at(id).doc.rollback) {
        chosen = id;
        break;
      }
    }
    if (chosen.empty() && !order.empty()) chosen = order.front();
    if (chosen.empty()) return;
    if (auto r = startDeployment(chosen); !r) {
      spdlog::warn("deployment {}: queued start refused: {}", chosen, r.error().message);
    }
  }

  // ---- requests ---------------------------------------------------------------------------

  Result<engine::DeploymentSpec> specFor(const std::string& environment) {
    auto cfg = config();
    const auto* env = cfg->findEnvironment(environment);
    if (env == nullptr) {
      return fail(ErrorCode::NotFound, "no environment named \"" + environment + "\" in the configuration");
    }
    const auto* app = cfg->applicationFor(*env);
    if (app == nullptr) return fail(ErrorCode::InvalidArgument, "environment " + environment + " has no application");
    engine::SpecOptions options;
    options.preflight.health = env->preflight.before_deploy;  // a pre-flight level, or ""
    return engine::buildSpec(*env, *app, cfg->templates, options);
  }

  Result<Admitted> admit(const std::string& environment, const std::string& version, bool rollback,
                         PersistedDeployment doc, std::map<std::string, std::string> artifacts) {
    if (auto v = runtime::validateVersionName(version); !v) return fail(v.error());
    auto spec = specFor(environment);
    if (!spec) return fail(spec.error());
    const Live* active = activeIn(environment);
    const auto admission = engine::admitRelease(active != nullptr ? &active->doc.state : nullptr,
                                                rollback, spec->concurrency);
    if (admission == engine::Admission::Reject) {
      return fail(ErrorCode::Conflict,
                  fmt::format("environment {} is busy: deployment {} of {} is {}; its concurrency "
                              "policy is reject (abort it, or wait)",
                              environment, active->record.id, active->record.version,
                              phaseName(active->doc.state.phase)));
    }
    const TimePoint now = o_.clock->now();
    const std::string id = ids_.next("dep");
    doc.state.id = id;
    doc.state.environment = environment;
    doc.state.application = spec->application;
    doc.state.version = version;
    doc.state.started_by = doc.requested_by;
    doc.state.reason = doc.reason;
    doc.state.created_at = now;
    doc.state.updated_at = now;
    doc.rollback = rollback;
    doc.queued = true;
    for (const auto& [service, ref] : artifacts) {
      const bool known = std::any_of(spec->services.begin(), spec->services.end(),
                                     [&](const auto& s) { return s.name == service; });
      if (!known) {
        return fail(ErrorCode::InvalidArgument,
                    fmt::format("artifacts name service \"{}\", which application {} does not have",
                                service, spec->application));
      }
    }
    for (const auto& s : spec->services) {
      auto a = artifacts.find(s.name);
      doc.state.artifacts.push_back(engine::Artifact{s.name, a != artifacts.end() ? a->second : version});
    }
    store::DeploymentRecord record;
    record.id = id;
    record.environment = environment;
    record.application = spec->application;
    record.version = version;
    record.phase = "Queued";
    record.state_json = toJson(doc);
    record.created_at = now;
    record.updated_at = now;
    json::object data{{"version", version}, {"rollback", rollback}, {"force", doc.force}};
    store::NewEvent event{now, doc.requested_by, rollback ? "rollback.requested" : "deployment.requested",
                          id, doc.reason, json::serialize(data)};
    auto created = o_.store->createDeployment(record, {event});
    if (!created) return fail(created.error());
    Live d;
    d.record = std::move(*created);
    d.doc = std::move(doc);
    live_.emplace(id, std::move(d));
    Admitted out;
    out.deployment_id = id;
    out.to_version = version;
    if (active != nullptr) {
      const std::string active_id = active->record.id;
      if (admission == engine::Admission::Supersede) {
        out.superseded = active_id;
        (void)handle(active_id, engine::NewerRelease{version, rollback, live_.at(id).doc.requested_by});
      }
    }
    const auto stillQueued = [&] { return live_.count(id) != 0 && live_.at(id).doc.queued; };
    if (stillQueued() && activeIn(environment) == nullptr) {
      auto started = startDeployment(id);
      if (!started) return fail(started.error());
    }
    out.status = stillQueued() && starting_.count(id) == 0 ? "queued" : "started";
    return out;
  }

  // Starts a queued deployment: its environment's backup and preDeploy (or, for a rollback,
  // preRollback: the down-migration) hooks first, on the pool, then Start.
  Result<void> startDeployment(const std::string& id) {
    const std::string environment = live_.at(id).record.environment;
    if (runStartHooks(id, [this, id, environment](const HookResult& result, config::HookPoint point) {
          if (result.decision != HookResult::Decision::Continue) {
            abandon(id, std::string(config::toString(point)) + " hooks failed: " + result.summary);
            startNextQueued(environment);
            return;
          }
          if (auto r = applyStart(id); !r) {
            spdlog::warn("deployment {}: start refused: {}", id, r.error().message);
          }
        })) {
      return {};
    }
    return applyStart(id);
  }

  // Runs the hooks that come before a deployment (re)starts: the environment's backup and
  // preDeploy hooks (preRollback, the down-migration, for a rollback) on the pool, then `then`
  // on the strand with their outcome; the deployment holds its environment meanwhile. Returns
  // false, and calls nothing, when no such hook is configured.
  bool runStartHooks(const std::string& id,
                     std::function<void(const HookResult&, config::HookPoint)> then) {
    if (!o_.hooks || starting_.count(id) != 0) return false;
    const Live& d = live_.at(id);
    auto cfg = config();
    const auto* env = cfg->findEnvironment(d.record.environment);
    const auto point = d.doc.rollback ? config::HookPoint::PreRollback : config::HookPoint::PreDeploy;
    const bool backup = env != nullptr && env->backup && env->backup->before_deploy && !d.doc.rollback;
    if (env == nullptr || (!backup && env->hooks.at(point).empty())) return false;
    starting_.insert(id);
    const std::string environment = d.record.environment;
    const std::string version = d.record.version;
    boost::asio::post(pool_, [this, id, cfg, environment, version, point, backup, then = std::move(then)] {
      HookResult result;
      if (backup) result = o_.hooks->backupBeforeDeploy(*cfg, environment, version);
      if (result.decision == HookResult::Decision::Continue) {
        HookResult hooks = o_.hooks->run(*cfg, environment, point, version);
        if (hooks.ran || !result.ran) result = std::move(hooks);
      }
      post([this, id, point, result, then] {
        starting_.erase(id);
        if (live_.count(id) == 0) return;
        recordHooks(id, config::toString(point), result);
        then(result, point);
      });
    });
    return true;
  }

  // The hooks' outcome, kept with the deployment in its event log.
  void recordHooks(const std::string& id, std::string_view point, const HookResult& result) {
    if (!result.ran) return;
    json::error_code ec;
    json::value runs = json::parse(result.runs_json.empty() ? "[]" : result.runs_json, ec);
    if (ec) runs = json::array{};
    json::object data{{"point", point}, {"runs", std::move(runs)}};
    const bool ok = result.decision == HookResult::Decision::Continue;
    (void)o_.store->appendEvent(store::NewEvent{o_.clock->now(), std::string(kController),
                                                ok ? "hooks.ran" : "hooks.failed", id,
                                                std::string(point) + ": " + result.summary,
                                                json::serialize(data)});
    if (o_.on_commit) o_.on_commit();
  }

  // The lifecycle hooks configured for the phases a deployment just entered (from `before`).
  std::vector<config::HookPoint> hookPointsFor(const Live& d, Phase before, const std::vector<Phase>& entered) {
    std::vector<config::HookPoint> points;
    if (!o_.hooks) return points;
    for (const Phase after : entered) {
      if (after == before) continue;
      if (after == Phase::Succeeded) {
        points.push_back(d.doc.rollback ? config::HookPoint::PostRollback : config::HookPoint::PostDeploy);
      }
      if (after == Phase::Aborting) {
        points.push_back(config::HookPoint::OnAbort);
        points.push_back(config::HookPoint::PreRollback);  // the down-migration
      }
      if (after == Phase::RolledBack) points.push_back(config::HookPoint::PostRollback);
    }
    if (points.empty()) return points;
    auto cfg = config();
    const auto* env = cfg->findEnvironment(d.record.environment);
    if (env == nullptr) return {};
    std::erase_if(points, [&](config::HookPoint p) { return env->hooks.at(p).empty(); });
    return points;
  }

  static std::string hookKey(const std::string& id, const PersistedDeployment::HookIntent& h) {
    return fmt::format("{}/{}/{}", id, config::toString(h.point), h.attempt);
  }

  // Runs a deployment's committed hook intents that are not running yet, in order, on the pool;
  // each is removed from the document (a commit) once it has run, whatever its outcome, which
  // is recorded in the event log. A postDeploy hook with policy rollback rolls the environment
  // back.
  void runHookIntents(const std::string& id) {
    auto it = live_.find(id);
    if (it == live_.end() || !o_.hooks) return;
    std::vector<PersistedDeployment::HookIntent> todo;
    for (const auto& h : it->second.doc.hooks) {
      if (hooks_in_flight_.insert(hookKey(id, h)).second) todo.push_back(h);
    }
    if (todo.empty()) return;
    auto cfg = config();
    const std::string environment = it->second.record.environment;
    const std::string version = it->second.record.version;
    boost::asio::post(pool_, [this, id, cfg, environment, version, todo] {
      for (const auto& intent : todo) {
        HookResult result = o_.hooks->run(*cfg, environment, intent.point, version);
        post([this, id, environment, intent, result] {
          hooks_in_flight_.erase(hookKey(id, intent));
          recordHooks(id, config::toString(intent.point), result);
          confirmHook(id, intent);
          if (intent.point == config::HookPoint::PostDeploy &&
              result.decision == HookResult::Decision::Rollback) {
            RollbackRequest r;
            r.environment = environment;
            r.reason = "postDeploy hook failed: " + result.summary;
            r.actor.name = std::string(kController);
            if (auto out = doRollback(std::move(r)); !out) {
              spdlog::error("deployment {}: rollback after a failed postDeploy hook: {}", id, out.error().message);
            }
          }
        });
      }
    });
  }

  // Removes a hook intent that has run from the deployment's document.
  void confirmHook(const std::string& id, const PersistedDeployment::HookIntent& intent) {
    auto it = live_.find(id);
    if (it == live_.end()) return;
    Live& d = it->second;
    PersistedDeployment doc = d.doc;
    const auto erased = std::erase(doc.hooks, intent);
    if (erased == 0) return;
    store::DeploymentRecord record = d.record;
    record.state_json = toJson(doc);
    record.updated_at = o_.clock->now();
    auto updated = o_.store->updateDeployment(record, {});
    if (!updated) {
      countFailure("commit");
      spdlog::error("deployment {}: cannot record that its {} hooks ran: {}", id,
                    config::toString(intent.point), updated.error().message);
      return;
    }
    d.record = std::move(*updated);
    d.doc = std::move(doc);
    afterCommit(id);
  }

  // Applies Start to a queued deployment.
  Result<void> applyStart(const std::string& id) {
    Live& d = live_.at(id);
    const std::string environment = d.record.environment;
    auto spec = specFor(environment);
    if (!spec) {
      abandon(id, spec.error().message);
      return fail(spec.error());
    }
    engine::Start start;
    start.id = id;
    start.version = d.record.version;
    start.artifacts = d.doc.state.artifacts;
    engine::Colour colour = engine::Colour::Blue;
    auto current = currentRelease(*o_.store, environment, &colour);
    if (!current) return fail(current.error());
    // The engine decides what a deployment of the serving version means (stable == version).
    start.stable_version = *current;
    start.active_colour = colour;
    start.spec = std::make_shared<const engine::DeploymentSpec>(std::move(*spec));
    start.strategy = d.doc.strategy;
    start.force = d.doc.force;
    start.actor = d.doc.requested_by;
    start.reason = d.doc.reason;
    start.rollback = d.doc.rollback;
    start.emergency = d.doc.emergency;
    if (!start.spec->promotes_from.empty()) {
      auto found = o_.store->listDeployments(filter(start.spec->promotes_from, "Succeeded", start.version, 1));
      start.succeeded_in_source = found && !found->empty();
    }
    if (d.doc.rollback && start.spec->rollback_window > 0) {
      auto releases = successfulReleases(environment);
      if (releases) {
        for (std::size_t i = 1; i < releases->size() && static_cast<int>(i) <= start.spec->rollback_window; ++i) {
          if ((*releases)[i] == start.version) start.in_rollback_window = true;
        }
      }
    }
    observeRunning(environment, *start.spec, start);
    keepRunning(id, environment, start.version);
    return handle(id, start);
  }

  // What the runtime runs that Start needs to know: whether a rollback's target still runs on
  // every service (kept through a scale-down delay: a fast rollback), and per service how many
  // instances of other versions are still up (a rolling update counts them against its surge).
  void observeRunning(const std::string& environment, const engine::DeploymentSpec& spec,
                      engine::Start& start) {
    bool target_up = !spec.services.empty();
    for (const auto& svc : spec.services) {
      auto instances = o_.runtime->instances(environment, svc.name);
      int ready = 0;
      int others = 0;
      if (instances) {
        for (const auto& i : *instances) {
          if (i.version == start.version) {
            if (i.state == runtime::InstanceState::Ready) ready++;
          } else if (i.version != start.stable_version && i.state != runtime::InstanceState::Stopped) {
            others++;
          }
        }
      }
      if (ready == 0) target_up = false;
      start.other_instances[svc.name] = others;
    }
    start.target_running = start.rollback && target_up;
  }

  // A deployment that runs `version` again takes it over: retirements of it that earlier
  // deployments of the environment still have pending (the old colour or version kept through
  // a scale-down delay) are cancelled, so they cannot stop what now serves.
  void keepRunning(const std::string& by, const std::string& environment, const std::string& version) {
    std::vector<std::string> ids;
    for (const auto& [id, d] : live_) {
      if (id == by || d.record.environment != environment) continue;
      for (const auto& r : d.doc.retirements) {
        if (r.version == version) {
          ids.push_back(id);
          break;
        }
      }
    }
    const TimePoint now = o_.clock->now();
    for (const auto& id : ids) {
      Live& d = live_.at(id);
      PersistedDeployment doc = d.doc;
      std::erase_if(doc.retirements, [&](const engine::RetireVersion& r) { return r.version == version; });
      store::DeploymentRecord record = d.record;
      record.state_json = toJson(doc);
      record.updated_at = now;
      auto updated = o_.store->updateDeployment(
          record, {store::NewEvent{now, std::string(kController), "retirement.cancelled", id,
                                   "deployment " + by + " runs " + version + " again", "{}"}});
      if (!updated) {
        countFailure("commit");
        spdlog::error("deployment {}: cannot cancel the retirement of {}: {}", id, version,
                      updated.error().message);
        continue;
      }
      spdlog::info("deployment {}: retirement of {} cancelled: deployment {} runs it again", id, version, by);
      d.record = std::move(*updated);
      d.doc = std::move(doc);
      if (!d.doc.live()) live_.erase(id);
    }
  }

  // A queued deployment that can no longer start (its environment was removed).
  void abandon(const std::string& id, const std::string& why) {
    Live& d = live_.at(id);
    PersistedDeployment doc = d.doc;
    doc.queued = false;
    doc.state.phase = Phase::Failed;
    doc.state.abort_reason = why;
    store::DeploymentRecord record = d.record;
    record.phase = engine::toString(Phase::Failed);
    record.state_json = toJson(doc);
    const TimePoint now = o_.clock->now();
    auto updated = o_.store->updateDeployment(
        record, {store::NewEvent{now, std::string(kController), "deployment.failed", id, why, "{}"}});
    if (updated) live_.erase(id);
  }

  // Distinct versions that Succeeded in an environment, newest first.
  Result<std::vector<std::string>> successfulReleases(const std::string& environment) {
    auto list = o_.store->listDeployments(
        filter(environment, "Succeeded", {}, 200));
    if (!list) return fail(list.error());
    std::vector<std::string> versions;
    for (const auto& r : *list) {
      if (std::find(versions.begin(), versions.end(), r.version) == versions.end()) versions.push_back(r.version);
    }
    return versions;
  }

  Result<Admitted> doDeploy(DeployRequest request) {
    auto cfg = config();
    if (cfg->findEnvironment(request.environment) == nullptr) {
      return fail(ErrorCode::NotFound, "no environment named \"" + request.environment + "\" in the configuration");
    }
    PersistedDeployment doc;
    doc.requested_by = request.actor.name;
    doc.reason = request.reason;
    doc.force = request.force;
    doc.strategy = request.strategy;
    return admit(request.environment, request.version, false, std::move(doc), request.artifacts);
  }

  Result<Admitted> doRollback(RollbackRequest request) {
    auto cfg = config();
    if (cfg->findEnvironment(request.environment) == nullptr) {
      return fail(ErrorCode::NotFound, "no environment named \"" + request.environment + "\" in the configuration");
    }
    auto releases = successfulReleases(request.environment);
    if (!releases) return fail(releases.error());
    const std::string current = releases->empty() ? std::string() : releases->front();
    std::string target = request.version;
    if (target.empty()) {
      for (const auto& v : *releases) {
        if (v != current) {
          target = v;
          break;
        }
      }
      if (target.empty()) {
        return fail(ErrorCode::FailedPrecondition,
                    "environment " + request.environment + " has no earlier successful release to roll back to");
      }
    } else if (std::find(releases->begin(), releases->end(), target) == releases->end()) {
      return fail(ErrorCode::FailedPrecondition, "version " + target + " never succeeded in " +
                                                     request.environment + "; roll back to one that did");
    }
    PersistedDeployment doc;
    doc.requested_by = request.actor.name;
    doc.reason = request.reason.empty() ? "rollback" : request.reason;
    doc.force = request.force;
    doc.emergency = request.emergency;
    auto out = admit(request.environment, target, true, std::move(doc), {});
    if (out) out->from_version = current;
    return out;
  }

  // The deployment a request names: by id (loaded from the store when not live) or the
  // environment's active one (or, for retry, its latest).
  Result<std::string> resolve(const std::string& id, const std::string& environment, bool latest_if_idle) {
    if (!id.empty()) {
      if (live_.count(id) != 0) return id;
      auto record = o_.store->getDeployment(id);
      if (!record) return fail(record.error());
      auto doc = parsePersisted(record->state_json);
      if (!doc) return fail(doc.error());
      Live d;
      d.record = std::move(*record);
      d.doc = std::move(*doc);
      live_.emplace(id, std::move(d));
      return id;
    }
    if (const Live* active = activeIn(environment)) return active->record.id;
    if (latest_if_idle) {
      auto list = o_.store->listDeployments(filter(environment, {}, {}, 1));
      if (!list) return fail(list.error());
      if (!list->empty()) return resolve(list->front().id, environment, false);
    }
    return fail(ErrorCode::NotFound, "environment " + environment + " has no deployment in progress");
  }

  Result<std::string> doCommand(CommandRequest request) {
    const bool retry = request.kind == engine::OperatorCommand::Kind::Retry;
    auto id = resolve(request.deployment_id, request.environment, retry);
    if (!id) return fail(id.error());
    engine::OperatorCommand cmd{request.kind, request.actor.name, request.reason};
    if (retry) return doRetry(*id, cmd);
    auto r = handle(*id, cmd);
    evictIfIdle(*id);
    if (!r) return fail(r.error());
    return *id;
  }

  // A retry is a new attempt and passes the gates of a deploy: no other deployment may be active
  // in the environment (Conflict), then the backup and preDeploy hooks, then the engine's
  // retry, which passes the start approvals, the change window and pre-flight.
  Result<std::string> doRetry(const std::string& id, const engine::OperatorCommand& cmd) {
    const Live& d = live_.at(id);
    if (d.doc.state.phase != Phase::RolledBack) {
      auto r = handle(id, cmd);  // the engine refuses it, audited
      evictIfIdle(id);
      if (!r) return fail(r.error());
      return id;
    }
    if (const Live* active = activeIn(d.record.environment); active != nullptr && active->record.id != id) {
      const std::string message = fmt::format(
          "environment {} is busy: deployment {} of {} is {}; retry {} when it has ended",
          d.record.environment, active->record.id, active->record.version,
          phaseName(active->doc.state.phase), id);
      (void)o_.store->appendEvent(store::NewEvent{o_.clock->now(), cmd.actor, "command.refused", id,
                                                  "retry refused: " + message, "{}"});
      evictIfIdle(id);
      return fail(ErrorCode::Conflict, message);
    }
    if (runStartHooks(id, [this, id, cmd](const HookResult& result, config::HookPoint point) {
          if (result.decision != HookResult::Decision::Continue) {
            spdlog::warn("deployment {}: retry stopped: {} hooks failed: {}", id,
                         config::toString(point), result.summary);
            evictIfIdle(id);
            return;
          }
          if (auto r = handle(id, cmd); !r) {
            spdlog::warn("deployment {}: retry refused: {}", id, r.error().message);
          }
          evictIfIdle(id);
        })) {
      return id;
    }
    auto r = handle(id, cmd);
    evictIfIdle(id);
    if (!r) return fail(r.error());
    return id;
  }

  void evictIfIdle(const std::string& id) {
    auto it = live_.find(id);
    if (it != live_.end() && !it->second.doc.live()) live_.erase(it);
  }

  Result<std::string> doDecide(ApprovalRequest request) {
    std::string id = request.deployment_id;
    if (id.empty()) {
      for (const auto& [lid, d] : live_) {
        if (d.record.environment == request.environment && d.doc.state.phase == Phase::AwaitingApproval) id = lid;
      }
      if (id.empty()) {
        return fail(ErrorCode::NotFound, "no deployment in " + request.environment + " is awaiting approval");
      }
    }
    auto resolved = resolve(id, request.environment, false);
    if (!resolved) return fail(resolved.error());
    const Live& d = live_.at(id);
    const auto& s = d.doc.state;
    if (s.phase != Phase::AwaitingApproval) {
      evictIfIdle(id);
      return fail(ErrorCode::FailedPrecondition,
                  "deployment " + id + " is " + phaseName(s.phase) + ", not awaiting approval");
    }
    std::vector<std::string> needed;
    if (s.spec) {
      if (s.approval_gate == engine::kStartGate) {
        needed = s.spec->approval_roles;
      } else if (s.approval_gate >= 0 && static_cast<std::size_t>(s.approval_gate) < s.spec->steps.size()) {
        needed = s.spec->steps[static_cast<std::size_t>(s.approval_gate)].approval;
      }
    }
    std::erase_if(needed, [&](const std::string& role) {
      for (const auto& a : s.approvals) {
        if (a.gate == s.approval_gate && a.role == role) return true;
      }
      return false;
    });
    std::string role = request.role;
    if (role.empty()) {
      for (const auto& r : needed) {
        if (holds(request.actor, r)) {
          role = r;
          break;
        }
      }
      if (role.empty()) {
        std::string roles;
        for (const auto& r : needed) roles += (roles.empty() ? "" : ", ") + r;
        return fail(ErrorCode::PermissionDenied,
                    fmt::format("{} is waiting for {}; {} holds none of these roles", id, roles, request.actor.name));
      }
    } else if (!holds(request.actor, role)) {
      return fail(ErrorCode::PermissionDenied,
                  fmt::format("{} does not hold the role {}; an approval counts only for a role its "
                              "token holds",
                              request.actor.name, role));
    }
    engine::ApprovalDecision decision{request.actor.name, role, request.approve, request.comment};
    store::ApprovalRecord approval;
    approval.deployment_id = id;
    approval.actor = request.actor.name;
    approval.role = role;
    approval.approved = request.approve;
    approval.comment = request.comment;
    approval.at = o_.clock->now();
    // The decision and the state it produces are one transaction: both or neither.
    auto r = handle(id, decision, nullptr, {approval});
    if (!r) return fail(r.error());
    return id;
  }

  // ---- metrics ----------------------------------------------------------------------------

  void countFailure(const std::string& action) {
    std::lock_guard lock(metrics_mu_);
    metrics_.action_failures[action]++;
  }

  void observeReconcile(std::chrono::steady_clock::duration took) {
    const double s = std::chrono::duration<double>(took).count();
    std::lock_guard lock(metrics_mu_);
    metrics_.reconcile_count++;
    metrics_.reconcile_sum_seconds += s;
    for (std::size_t i = 0; i < metrics_.reconcile_bounds.size(); ++i) {
      if (s <= metrics_.reconcile_bounds[i]) metrics_.reconcile_buckets[i]++;
    }
  }

  void updatePhaseGauge() {
    std::map<std::string, std::uint64_t> by_phase;
    for (const auto& [id, d] : live_) {
      by_phase[d.doc.queued ? "Queued" : std::string(engine::toString(d.doc.state.phase))]++;
    }
    std::lock_guard lock(metrics_mu_);
    metrics_.live_by_phase = std::move(by_phase);
  }

  ControllerOptions o_;
  mutable std::mutex config_mu_;
  std::shared_ptr<const config::Config> config_;
  IdGenerator ids_;
  boost::asio::thread_pool pool_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;

  // Strand-only.
  std::map<std::string, Live> live_;
  std::set<std::string> starting_;  // queued deployments whose start hooks are running
  std::set<std::string> hooks_in_flight_;  // hookKey() of hook intents running on the pool
  bool runtime_dirty_ = false;

  mutable std::mutex metrics_mu_;
  ControllerMetrics metrics_;
};

}  // namespace

Result<std::string> currentRelease(store::Store& store, const std::string& environment,
                                   engine::Colour* colour) {
  auto list = store.listDeployments(
      filter(environment, "Succeeded", {}, 1));
  if (!list) return fail(list.error());
  if (list->empty()) return std::string();
  if (colour != nullptr) {
    auto doc = parsePersisted(list->front().state_json);
    if (doc) *colour = doc->state.active_colour;
  }
  return list->front().version;
}

Result<std::unique_ptr<Controller>> Controller::start(ControllerOptions options) {
  if (!options.store || !options.runtime || !options.clock || !options.config || !options.provider) {
    return fail(ErrorCode::InvalidArgument, "controller needs a store, runtime, clock, config and provider");
  }
  auto impl = std::make_unique<ControllerImpl>(std::move(options));
  if (auto r = impl->recover(); !r) return fail(r.error());
  impl->run();
  return std::unique_ptr<Controller>(std::move(impl));
}

}  // namespace runway::controller
