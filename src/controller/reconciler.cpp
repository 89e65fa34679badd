#include "reconciler.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "checklist_gate.hpp"
#include "gates.hpp"
#include "intent.hpp"
#include "notifications.hpp"
#include "runway/engine/runtime_report.hpp"
#include "runway/runtime/local_runtime.hpp"

namespace runway::controller {
namespace {

namespace json = boost::json;
using engine::DeploymentState;
using engine::Phase;

constexpr std::string_view kController = "runway";

// The sweep of runtime reports (Reconciler::pass): each refresh looks at 1/kSweepSlices of the
// live deployments, at least kSweepMinimum of them. With refreshes every 250 ms, up to 64 live
// deployments are all looked at on each refresh, as before the sweep was sliced; 2,560 or more
// are all looked at every 10 s.
constexpr std::size_t kSweepSlices = 40;
constexpr std::size_t kSweepMinimum = 64;

const char* phaseName(Phase p) { return engine::toString(p).data(); }

std::unique_ptr<Random> randomFor(const ControllerOptions& o) {
  return o.id_seed ? seededRandom(*o.id_seed) : systemRandom();
}

}  // namespace

Reconciler::Reconciler(ControllerOptions options, Scheduler& scheduler, MetricsRecorder& metrics)
    : o_(std::move(options)),
      scheduler_(scheduler),
      metrics_(metrics),
      config_(o_.config),
      ids_(o_.clock, randomFor(o_)),
      deployments_(o_.store),
      releases_(*o_.store),
      executor_(o_.runtime, o_.hooks, o_.checks, scheduler, metrics, o_.retire_grace),
      analysis_(o_.provider, o_.clock, scheduler, metrics,
                [this](const std::string& id, const engine::AnalysisResult& r) { deliver(id, r); }),
      checklist_(o_.checklist, scheduler),
      changes_(std::make_shared<RuntimeChanges>([this] { scheduler_.post([this] { takeRuntimeChanges(); }); })) {
  deployments_.observe([this](const std::string& id) { scheduled(id); });
}

Reconciler::~Reconciler() { changes_->detach(); }

void RuntimeChanges::add(const std::string& environment, const std::string& service) {
  std::lock_guard lock(mu_);
  const bool first = changed_.empty();
  changed_.emplace(environment, service);
  if (first && wake_) wake_();
}

std::set<std::pair<std::string, std::string>> RuntimeChanges::take() {
  std::lock_guard lock(mu_);
  return std::exchange(changed_, {});
}

void RuntimeChanges::detach() {
  std::lock_guard lock(mu_);
  wake_ = nullptr;
}

runtime::EventHandler Reconciler::runtimeEventHandler() const {
  return [changes = changes_](const runtime::RuntimeEvent& e) { changes->add(e.environment, e.service); };
}

void Reconciler::reload(std::shared_ptr<const config::Config> config) {
  std::lock_guard lock(config_mu_);
  config_ = std::move(config);
}

std::shared_ptr<const config::Config> Reconciler::config() const {
  std::lock_guard lock(config_mu_);
  return config_;
}

// ---- recovery ---------------------------------------------------------------------------------

Result<void> Reconciler::recover() {
  if (auto r = deployments_.loadLive(config()); !r) return r;
  // A deployment whose spec snapshot no longer loads cannot go on: what it would do next is not
  // what it was requested with. It is stopped with the reason (rolled back where it had begun),
  // under the live configuration, before any intent is executed again.
  std::vector<std::pair<std::string, std::string>> unloadable;
  for (const auto& [id, d] : deployments_.all()) {
    if (!d.snapshot_error.empty() && !engine::isTerminal(d.doc.state.phase) &&
        d.doc.state.phase != Phase::Aborting) {
      unloadable.emplace_back(id, d.snapshot_error);
    }
  }
  for (const auto& [id, why] : unloadable) {
    engine::OperatorCommand stop{engine::OperatorCommand::Kind::Abort, "runway", why};
    if (auto r = handle(id, stop); !r) {
      spdlog::error("deployment {}: could not stop it ({}): {}", id, why, r.error().message);
    }
  }
  // Re-execute what was committed; clean up what nobody wants.
  std::set<std::string> environments;
  for (const auto& env : config()->environments) environments.insert(env.name);
  std::vector<std::string> ids;
  // Per environment, the deployment whose runtime intent is what the environment must look
  // like: the active one, or else the one whose state changed last (also when it has ended: its
  // last split may not have reached the runtime). Other intents are history a later deployment
  // replaced; executing them again would put back a split or a version that one took away.
  std::map<std::string, std::string> newest;
  const auto rank = [](const LiveDeployment& d) {
    return std::make_pair(!engine::isTerminal(d.doc.state.phase), d.doc.state.updated_at);
  };
  for (const auto& [id, d] : deployments_.all()) {
    ids.push_back(id);
    if (d.doc.queued) continue;
    auto& best = newest[d.record.environment];
    if (best.empty() || !(rank(d) < rank(deployments_.at(best)))) best = id;
  }
  for (const auto& id : ids) {
    auto* d = deployments_.find(id);
    if (d == nullptr) continue;
    environments.insert(d->record.environment);
    if (d->doc.queued) continue;
    if (newest[d->record.environment] == id) {
      spdlog::info("deployment {} ({} {} in {}): resuming, re-executing its intent", id,
                   d->record.environment, d->record.version, phaseName(d->doc.state.phase));
      applyIntent(id);
    }
    if ((d = deployments_.find(id)) == nullptr) continue;
    const auto analyses = d->doc.analyses;
    const auto checks = d->doc.checks;
    for (const auto& a : analyses) startAnalysis(id, a);
    for (const auto& c : checks) runChecks(id, c);
  }
  // Hooks committed but not confirmed when the server stopped run (again).
  for (const auto& id : ids) {
    if (const auto* d = deployments_.find(id); d != nullptr && !d->doc.hooks.empty()) runHookIntents(id);
  }
  for (const auto& env : environments) {
    executor_.retainOnly(env, releases_.keepList(env, deployments_, *config()));
  }
  // A queued deployment was committed before its start hooks ran (or while it waited for the
  // environment, e.g. a rollback admitted as its predecessor was superseded): start it now
  // where nothing else is active; its hooks run again.
  // A checklist that was being judged, or blocked, when the server stopped is judged again
  // (what could not be judged then may be judged now; waivers stay).
  for (const auto& id : ids) {
    if (const auto* d = deployments_.find(id); d != nullptr && checklistHolds(d->doc)) judgeChecklist(id);
  }
  for (const auto& env : environments) startNextQueued(env);
  return {};
}

// ---- engine step + commit + execute -------------------------------------------------------------

Result<void> Reconciler::handle(const std::string& id, const engine::Input& input,
                                std::optional<engine::Admission>* admission,
                                const std::vector<store::ApprovalRecord>& approvals) {
  commit_failed_ = false;
  auto* d = deployments_.find(id);
  if (d == nullptr) return fail(ErrorCode::NotFound, "deployment " + id + " is not active");
  const auto started = std::chrono::steady_clock::now();
  const TimePoint now = o_.clock->now();
  DeploymentState next = d->doc.state;
  std::vector<engine::Action> actions;
  std::optional<Error> refused = engine::apply(next, input, now, actions, admission);
  if (next == d->doc.state && actions.empty()) {
    if (refused) return fail(*refused);
    return {};
  }
  PersistedDeployment doc = d->doc;
  doc.state = std::move(next);
  doc.queued = false;
  if (const auto* result = std::get_if<engine::AnalysisResult>(&input)) {
    doc.latest[latestKey(result->run, result->service, result->metric)] =
        PersistedDeployment::Measured{result->value, std::string(engine::toString(result->outcome)), now};
  }
  std::vector<store::NewEvent> events;
  for (const auto& action : actions) foldAction(doc, action, id, events);
  if (const auto* result = std::get_if<engine::AnalysisResult>(&input)) recordMeasurement(*result, events);
  // Every phase this input passed through (an abort can reach RolledBack in one step), and the
  // lifecycle hooks they call for: committed with the state, run after it.
  std::vector<Phase> entered;
  for (const auto& action : actions) {
    if (const auto* audit = std::get_if<engine::Audit>(&action); audit != nullptr && audit->from != audit->to) {
      entered.push_back(audit->to);
    }
  }
  for (const auto point : hookPointsFor(*d, d->doc.state.phase, entered)) {
    const PersistedDeployment::HookIntent intent{point, doc.state.attempt};
    if (std::find(doc.hooks.begin(), doc.hooks.end(), intent) == doc.hooks.end()) {
      doc.hooks.push_back(intent);
    }
  }
  dropFinishedRuns(doc);
  const auto serving = ReleaseBook::servingAfter(doc.state, entered, now);
  const Phase before = d->doc.state.phase;
  std::vector<store::NewEvent> incident_events;
  const auto notifications = notificationsFor(*config(), d->record, doc, input, actions, now,
                                              [this] { return ids_.next("inc"); }, incident_events);
  events.insert(events.end(), incident_events.begin(), incident_events.end());
  if (auto committed = deployments_.commit(id, std::move(doc), now, events, approvals, serving, notifications);
      !committed) {
    commit_failed_ = true;
    metrics_.countFailure("commit");
    spdlog::error("deployment {}: cannot commit its next state: {}", id, committed.error().message);
    return committed;
  }
  d = &deployments_.at(id);
  if (before != d->doc.state.phase) {
    spdlog::info("deployment {}: {} -> {} ({} {})", id, phaseName(before),
                 phaseName(d->doc.state.phase), d->record.environment, d->record.version);
  }
  execute(id, actions);
  if (deployments_.contains(id)) runHookIntents(id);
  metrics_.observeReconcile(std::chrono::steady_clock::now() - started);
  if (o_.on_commit) o_.on_commit();
  afterCommit(id);
  if (refused) return fail(*refused);
  return {};
}

// handle() can end a deployment (afterCommit → forget), which erases its queue: look it up
// again after each call instead of holding a reference or an iterator.
void Reconciler::deliver(const std::string& id, engine::Input input) {
  if (auto it = undelivered_.find(id); it != undelivered_.end() && !it->second.empty()) {
    it->second.push_back(std::move(input));  // after those before it
    return;
  }
  (void)handle(id, input);
  if (commit_failed_ && deployments_.contains(id)) undelivered_[id].push_back(std::move(input));
}

void Reconciler::redeliver() {
  std::vector<std::string> ids;
  for (const auto& [id, inputs] : undelivered_) ids.push_back(id);
  for (const auto& id : ids) {
    for (;;) {
      auto it = undelivered_.find(id);
      if (it == undelivered_.end()) break;
      if (it->second.empty() || !deployments_.contains(id)) {
        undelivered_.erase(it);
        break;
      }
      const engine::Input input = it->second.front();
      (void)handle(id, input);
      if (commit_failed_) break;  // still not written: the next pass tries again
      if (it = undelivered_.find(id); it != undelivered_.end()) it->second.pop_front();
    }
  }
}

void Reconciler::execute(const std::string& id, const std::vector<engine::Action>& actions) {
  for (const auto& action : actions) {
    auto* d = deployments_.find(id);
    if (d == nullptr) return;
    std::visit(
        [&](const auto& a) {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, engine::StartVersion>) {
            if (!executor_.startVersion(*d, a)) runtime_dirty_ = true;
          } else if constexpr (std::is_same_v<T, engine::SetTraffic>) {
            // Held until the down-migration is confirmed: hookRan() applies the intent then.
            if (!trafficHeld(d->doc)) setTraffic(*d, a);
          } else if constexpr (std::is_same_v<T, engine::SwitchColour>) {
            if (trafficHeld(d->doc)) return;
            engine::SetTraffic t;
            t.service = a.service;
            t.weights = {engine::VersionWeight{a.version, 100}};
            setTraffic(*d, t);
          } else if constexpr (std::is_same_v<T, engine::StartAnalysis>) {
            startAnalysis(id, a);
          } else if constexpr (std::is_same_v<T, engine::StopAnalysis>) {
            analysis_.stop(id, a.run);
          } else if constexpr (std::is_same_v<T, engine::RunChecks>) {
            runChecks(id, a);
          } else if constexpr (std::is_same_v<T, engine::Notify>) {
            // Delivered from the outbox (committed with the state; notify::OutboxWorker).
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

void Reconciler::setTraffic(const LiveDeployment& d, const engine::SetTraffic& a) {
  switch (executor_.setTraffic(d, a)) {
    case ActionExecutor::Traffic::Applied: reportWeights(d.record.id, a); break;
    case ActionExecutor::Traffic::Failed: runtime_dirty_ = true; break;
    case ActionExecutor::Traffic::Nothing: break;
  }
}

// The router has the split: tell the engine which weights are in effect (after this input).
void Reconciler::reportWeights(const std::string& id, const engine::SetTraffic& applied) {
  scheduler_.post([this, id, applied] {
    for (const auto& w : applied.weights) report(id, applied.service, w.version, w.weight);
  });
}

// ---- runtime ----------------------------------------------------------------------------------

void Reconciler::report(const std::string& id, const std::string& service,
                        const std::string& version, int traffic_weight) {
  const auto* d = deployments_.find(id);
  if (d == nullptr || engine::isTerminal(d->doc.state.phase)) return;
  // Most reports change nothing (the sweep, a change of another version): no engine step then.
  if (auto r = executor_.observe(*d, service, version, traffic_weight); r && engine::reportChanges(d->doc.state, *r)) {
    (void)handle(id, *r);
  }
}

void Reconciler::applyIntent(const std::string& id) {
  const auto* d = deployments_.find(id);
  if (d == nullptr) return;
  bool ok = true;
  // A start the runtime refused is reported by the next look at its service (observe()); no
  // runtime event will name that service, so it is named here.
  const std::string environment = d->record.environment;
  std::vector<std::string> started;
  for (const auto& s : d->doc.starts) started.push_back(s.service);
  for (const auto& applied : executor_.applyIntent(*d, ok)) reportWeights(id, applied);
  if (!ok) {
    runtime_dirty_ = true;
    for (const auto& service : started) changes_->add(environment, service);
  }
}

void Reconciler::reapplyIntents() {
  runtime_dirty_ = false;
  std::vector<std::string> ids;
  for (const auto& [id, d] : deployments_.all()) {
    if (!d.doc.queued && !engine::isTerminal(d.doc.state.phase)) ids.push_back(id);
  }
  for (const auto& id : ids) applyIntent(id);
}

void Reconciler::refreshReports() {
  std::vector<std::string> ids;
  for (const auto& [id, d] : deployments_.all()) ids.push_back(id);
  for (const auto& id : ids) refreshDeployment(id, nullptr);
}

// What the runtime runs for a deployment's versions (of one service, or all), as reports.
void Reconciler::refreshDeployment(const std::string& id, const std::string* only_service) {
  const auto* d = deployments_.find(id);
  if (d == nullptr) return;
  const auto& s = d->doc.state;
  if (d->doc.queued || engine::isTerminal(s.phase) || s.phase == Phase::Pending) return;
  std::vector<std::pair<std::string, std::string>> todo;
  for (const auto& sv : s.services) {
    if (only_service != nullptr && sv.name != *only_service) continue;
    todo.emplace_back(sv.name, s.version);
    if (!s.stable_version.empty()) todo.emplace_back(sv.name, s.stable_version);
  }
  for (const auto& [service, version] : todo) report(id, service, version, -1);
}

void Reconciler::takeRuntimeChanges() {
  for (auto& change : changes_->take()) runtime_pending_.insert(std::move(change));
}

// The live deployments of each environment whose service the runtime said changed.
void Reconciler::refreshChanged(const Budget& budget) {
  while (!runtime_pending_.empty() && !budget.spent()) {
    const auto [environment, service] = *runtime_pending_.begin();
    runtime_pending_.erase(runtime_pending_.begin());
    const auto& in = deployments_.inEnvironment(environment);
    const std::vector<std::string> ids(in.begin(), in.end());  // a report can end one
    for (const auto& id : ids) refreshDeployment(id, &service);
  }
}

// The next slice of live deployments, round all of them.
void Reconciler::sweep(const Budget& budget) {
  const auto& all = deployments_.all();
  const std::size_t slice =
      std::min(all.size(), std::max(kSweepMinimum, (all.size() + kSweepSlices - 1) / kSweepSlices));
  std::vector<std::string> ids;
  auto it = all.upper_bound(sweep_cursor_);
  for (std::size_t n = 0; n < slice; ++n, ++it) {
    if (it == all.end()) it = all.begin();
    ids.push_back(it->first);
  }
  for (const auto& id : ids) {
    if (budget.spent()) return;
    sweep_cursor_ = id;
    refreshDeployment(id, nullptr);
  }
}

void Reconciler::retireDue(const Budget& budget) {
  const TimePoint now = o_.clock->now();
  for (const auto& id : retirements_.due(now)) {
    if (budget.spent()) return;
    auto* d = deployments_.find(id);
    if (d == nullptr) continue;
    PersistedDeployment doc = d->doc;
    bool changed = false;
    for (auto it = doc.retirements.begin(); it != doc.retirements.end();) {
      if (it->at > now) {
        ++it;
        continue;
      }
      if (!executor_.retire(*d, *it)) {
        // Still routed (e.g. a split not yet applied): try again on a later pass.
        it->at = now + Duration{1000};
        ++it;
        continue;
      }
      it = doc.retirements.erase(it);
      changed = true;
    }
    if (!changed) {
      deployments_.retimeRetirements(id, std::move(doc.retirements));
      continue;
    }
    if (auto r = deployments_.commit(id, std::move(doc), now, {}); !r) {
      metrics_.countFailure("commit");
      continue;
    }
    afterCommit(id);
  }
}

// ---- timers -----------------------------------------------------------------------------------

// When a deployment's timer is due: its wake_at; the same wake-up is delivered once, then at
// most once a second while it stays. nullopt while queued or without a wake-up.
std::optional<TimePoint> Reconciler::timerDue(const std::string& id, const LiveDeployment& d) const {
  const auto& wake = d.doc.state.wake_at;
  if (!wake || d.doc.queued) return std::nullopt;
  const auto fired = fired_.find(id);
  if (fired != fired_.end() && fired->second.wake == wake) return std::max(*wake, fired->second.at + Duration{1000});
  return *wake;
}

// After any change of a kept deployment (DeploymentRepository::observe) and of its fired_
// entry: its place in the schedules.
void Reconciler::scheduled(const std::string& id) {
  phases_changed_ = true;
  const auto* d = deployments_.find(id);
  if (d == nullptr) {
    timers_.erase(id);
    retirements_.erase(id);
    return;
  }
  timers_.set(id, timerDue(id, *d));
  std::optional<TimePoint> retire;
  for (const auto& r : d->doc.retirements) {
    if (!retire || r.at < *retire) retire = r.at;
  }
  retirements_.set(id, retire);
}

void Reconciler::fireTimers(const Budget& budget) {
  const TimePoint now = o_.clock->now();
  for (const auto& id : timers_.due(now)) {
    if (budget.spent()) return;
    const auto* d = deployments_.find(id);
    if (d == nullptr) continue;
    Fired& fired = fired_[id];
    fired.wake = d->doc.state.wake_at;
    fired.at = now;
    scheduled(id);
    (void)handle(id, engine::Timer{});
  }
}

std::optional<TimePoint> Reconciler::nextDue() const {
  std::optional<TimePoint> next = analysis_.nextWakeup();
  for (const auto& t : {timers_.earliest(), retirements_.earliest()}) {
    if (t && (!next || *t < *next)) next = t;
  }
  return next;
}

void Reconciler::tick(bool refresh) {
  if (refresh) {
    refreshReports();
    if (runtime_dirty_) reapplyIntents();
  }
  takeRuntimeChanges();
  refreshChanged({});
  redeliver();
  fireTimers();
  analysis_.measureDue();
  retireDue();
  updatePhaseGauge();
}

bool Reconciler::pass(bool refresh, std::chrono::steady_clock::duration budget_time) {
  const Budget budget{std::chrono::steady_clock::now() + budget_time};
  takeRuntimeChanges();
  redeliver();
  fireTimers(budget);
  analysis_.measureDue();
  retireDue(budget);
  refreshChanged(budget);
  if (refresh && !budget.spent()) {
    sweep(budget);
    if (runtime_dirty_) reapplyIntents();
  }
  updatePhaseGauge();
  return budget.spent();
}

// ---- analysis and checks ----------------------------------------------------------------------

void Reconciler::startAnalysis(const std::string& id, const engine::StartAnalysis& a) {
  const auto* d = deployments_.find(id);
  if (d == nullptr) return;
  if (auto failed = analysis_.start(*d, a)) {
    scheduler_.post([this, id, result = *failed] { deliver(id, result); });
  }
}

void Reconciler::runChecks(const std::string& id, const engine::RunChecks& c) {
  const auto* d = deployments_.find(id);
  if (d == nullptr) return;
  executor_.runChecks(*d, c, [this, id](const engine::CheckResult& result) {
    if (deployments_.contains(id)) deliver(id, result);
  });
}

// ---- after a commit: queue, cleanup -------------------------------------------------------------

void Reconciler::forget(const std::string& id) {
  deployments_.erase(id);
  analysis_.forget(id);
  executor_.forget(id);
  fired_.erase(id);
  undelivered_.erase(id);
}

void Reconciler::evictIfIdle(const std::string& id) {
  const auto* d = deployments_.find(id);
  if (d != nullptr && !d->doc.live()) forget(id);
}

void Reconciler::afterCommit(const std::string& id) {
  const auto* d = deployments_.find(id);
  if (d == nullptr) return;
  const std::string env = d->record.environment;
  const bool terminal = engine::isTerminal(d->doc.state.phase) && !d->doc.queued;
  evictIfIdle(id);
  if (terminal) startNextQueued(env);
}

const LiveDeployment* Reconciler::activeIn(const std::string& environment) const {
  return controller::activeIn(deployments_, environment, executor_.starting());
}

void Reconciler::startNextQueued(const std::string& environment) {
  if (activeIn(environment) != nullptr) return;
  // Oldest first by creation time (ids sort by creation); a rollback jumps ahead.
  std::string chosen;
  for (const auto& id : deployments_.inEnvironment(environment)) {
    const LiveDeployment& d = deployments_.at(id);
    if (!d.doc.queued) continue;
    if (chosen.empty()) chosen = id;
    if (d.doc.rollback) {
      chosen = id;
      break;
    }
  }
  if (chosen.empty()) return;
  if (auto r = startDeployment(chosen); !r) {
    spdlog::warn("deployment {}: queued start refused: {}", chosen, r.error().message);
  }
}

// ---- requests ---------------------------------------------------------------------------------

Result<engine::DeploymentSpec> Reconciler::specFor(const config::Config& cfg,
                                                   const std::string& environment) {
  const auto* env = cfg.findEnvironment(environment);
  if (env == nullptr) {
    return fail(ErrorCode::NotFound, "no environment named \"" + environment + "\" in the configuration");
  }
  const auto* app = cfg.applicationFor(*env);
  if (app == nullptr) return fail(ErrorCode::InvalidArgument, "environment " + environment + " has no application");
  engine::SpecOptions options;
  options.preflight.health = env->preflight.before_deploy;  // a pre-flight level, or ""
  return engine::buildSpec(*env, *app, cfg.templates, options);
}

Result<Admitted> Reconciler::admit(const std::string& environment, const std::string& version,
                                   bool rollback, PersistedDeployment doc,
                                   const std::map<std::string, std::string>& artifacts,
                                   const store::ReleaseEvidence& evidence) {
  if (auto v = runtime::validateVersionName(version); !v) return fail(v.error());
  if (auto v = store::validateEvidence(evidence); !v) return fail(v.error());
  // The deployment's spec snapshot: the configuration in force now, whatever reloads follow.
  auto cfg = config();
  auto spec = specFor(*cfg, environment);
  if (!spec) return fail(spec.error());
  const LiveDeployment* active = activeIn(environment);
  auto admission = admitTo(environment, active, rollback, spec->concurrency);
  if (!admission) return fail(admission.error());
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
  if (snapshot_config_ != cfg) {
    snapshot_config_ = cfg;
    snapshot_sources_ = std::make_shared<const std::vector<config::SourceFile>>(cfg->sources);
  }
  doc.spec_sources = snapshot_sources_;
  auto snapshot = deployments_.storeSnapshot(doc.spec_sources);
  if (!snapshot) return fail(snapshot.error());
  doc.spec_key = *snapshot;
  for (const auto& artifact : artifacts) {
    // Not a structured binding: clang 14 (the fuzz build's) cannot capture one in a lambda.
    const auto& service = artifact.first;
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
  record.evidence_json = store::toJson(evidence);
  record.created_at = now;
  record.updated_at = now;
  json::object data{{"version", version}, {"rollback", rollback}, {"force", doc.force}};
  // The audit record names the evidence (not the attachments' contents: they stay with the
  // deployment).
  if (!evidence.commit.empty()) data["commit"] = evidence.commit;
  if (!evidence.repository.empty()) data["repository"] = evidence.repository;
  if (!evidence.attachments.empty()) {
    json::object attached;
    for (const auto& a : evidence.attachments) attached[a.kind] = a.name;
    data["attachments"] = std::move(attached);
  }
  store::NewEvent event{now, doc.requested_by, rollback ? "rollback.requested" : "deployment.requested",
                        id, doc.reason, json::serialize(data)};
  const std::string requested_by = doc.requested_by;
  auto created = deployments_.create(record, std::move(doc), {event}, cfg);
  if (!created) return fail(created.error());
  Admitted out;
  out.deployment_id = id;
  out.to_version = version;
  if (active != nullptr && *admission == engine::Admission::Supersede) {
    const std::string active_id = active->record.id;
    out.superseded = active_id;
    if (notStarted(active->doc)) {
      // Not started (its checklist holds it, or its start hooks run): the engine has nothing to
      // stop.
      abandon(active_id, "superseded by " + std::string(rollback ? "rollback to " : "release ") + version + " (" +
                             requested_by + ")",
              Phase::Superseded, "deployment.superseded", requested_by);
    } else {
      (void)handle(active_id, engine::NewerRelease{version, rollback, requested_by});
    }
  }
  const auto stillQueued = [&] {
    const auto* d = deployments_.find(id);
    return d != nullptr && d->doc.queued;
  };
  if (stillQueued() && activeIn(environment) == nullptr) {
    auto started = startDeployment(id);
    if (!started) return fail(started.error());
  }
  out.status = stillQueued() && executor_.starting().count(id) == 0 ? "queued" : "started";
  return out;
}

// Starts a queued deployment: its pre-deployment checklist first (a release of an environment
// with one), then its environment's backup and preDeploy (or, for a rollback, preRollback: the
// down-migration) hooks, off the strand, then Start (which asks for approvals).
Result<void> Reconciler::startDeployment(const std::string& id) {
  if (needsChecklist(deployments_.at(id))) {
    judgeChecklist(id);
    return {};
  }
  return runStartHooksThenStart(id);
}

// Commits a run of the checklist as Judging, then judges it on the pool. A run that does not
// finish (the server stops) is judged again by recover(): a checklist never passes unjudged.
void Reconciler::judgeChecklist(const std::string& id) {
  if (checklist_.judging(id)) return;
  const LiveDeployment& d = deployments_.at(id);
  const TimePoint now = o_.clock->now();
  std::vector<store::NewEvent> events;
  PersistedDeployment doc = withChecklistStarted(d.doc, id, now, events);
  if (auto r = deployments_.commit(id, std::move(doc), now, events); !r) {
    metrics_.countFailure("commit");
    spdlog::error("deployment {}: cannot commit its checklist run: {}", id, r.error().message);
    return;
  }
  if (o_.on_commit) o_.on_commit();
  const LiveDeployment& live = deployments_.at(id);
  auto current = releases_.current(live.record.environment);
  const Result<std::string> serving = current ? Result<std::string>(current->version) : fail(current.error());
  checklist_.judge(live, serving, [this, id](std::vector<ChecklistItemResult> items) { checklistJudged(id, std::move(items)); });
}

// A checklist run finished: recorded with its items; the deployment goes on when nothing
// failed that is not waived, and stays Blocked (holding its environment) otherwise.
void Reconciler::checklistJudged(const std::string& id, std::vector<ChecklistItemResult> items) {
  const auto* d = deployments_.find(id);
  if (d == nullptr || !checklistHolds(d->doc)) return;  // aborted or superseded meanwhile
  const TimePoint now = o_.clock->now();
  std::vector<store::NewEvent> events;
  PersistedDeployment doc = withChecklistJudged(d->doc, id, std::move(items), now, events);
  const std::string summary = checklistSummary(*doc.checklist);
  const bool passed = doc.checklist->status == ChecklistState::Status::Passed;
  if (auto r = deployments_.commit(id, std::move(doc), now, events); !r) {
    metrics_.countFailure("commit");
    spdlog::error("deployment {}: cannot commit its checklist: {}", id, r.error().message);
    return;
  }
  if (o_.on_commit) o_.on_commit();
  if (!passed) {
    spdlog::warn("deployment {}: {}", id, summary);
    return;
  }
  spdlog::info("deployment {}: {}", id, summary);
  if (auto r = runStartHooksThenStart(id); !r) spdlog::warn("deployment {}: start refused: {}", id, r.error().message);
}

Result<std::string> Reconciler::waive(WaiverRequest request) {
  auto loaded = deployments_.load(request.deployment_id, config());
  if (!loaded) return fail(loaded.error());
  const std::string id = request.deployment_id;
  const TimePoint now = o_.clock->now();
  std::vector<store::NewEvent> events;
  auto doc = withChecklistWaiver(deployments_.at(id), request, now, events);
  if (!doc) {
    evictIfIdle(id);
    return fail(doc.error());
  }
  const bool passed = doc->checklist->status == ChecklistState::Status::Passed;
  if (auto r = deployments_.commit(id, std::move(*doc), now, events); !r) {
    metrics_.countFailure("commit");
    return fail(r.error());
  }
  spdlog::info("deployment {}: {} waived by {}", id, request.item, request.actor.name);
  if (o_.on_commit) o_.on_commit();
  if (passed) {
    if (auto r = runStartHooksThenStart(id); !r) spdlog::warn("deployment {}: start refused: {}", id, r.error().message);
  }
  return id;
}

Result<void> Reconciler::runStartHooksThenStart(const std::string& id) {
  const std::string environment = deployments_.at(id).record.environment;
  const bool running = executor_.runStartHooks(
      deployments_.at(id), [this, id, environment](const HookResult& result, config::HookPoint point) {
        if (!deployments_.contains(id)) return;
        recordHooks(id, config::toString(point), result);
        if (!deployments_.at(id).doc.queued) {
          // Aborted or superseded while its hooks ran: it ends here, and the environment is free.
          evictIfIdle(id);
          startNextQueued(environment);
          return;
        }
        if (result.decision != HookResult::Decision::Continue) {
          abandon(id, std::string(config::toString(point)) + " hooks failed: " + result.summary);
          startNextQueued(environment);
          return;
        }
        if (auto r = applyStart(id); !r) {
          spdlog::warn("deployment {}: start refused: {}", id, r.error().message);
        }
      });
  if (running) return {};
  return applyStart(id);
}

// The hooks' outcome, kept with the deployment in its event log.
void Reconciler::recordHooks(const std::string& id, std::string_view point, const HookResult& result) {
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
std::vector<config::HookPoint> Reconciler::hookPointsFor(const LiveDeployment& d, Phase before,
                                                         const std::vector<Phase>& entered) {
  std::vector<config::HookPoint> points;
  if (!executor_.hooksConfigured()) return points;
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
  const auto* env = d.config->findEnvironment(d.record.environment);
  if (env == nullptr) return {};
  std::erase_if(points, [&](config::HookPoint p) { return env->hooks.at(p).empty(); });
  return points;
}

// Runs a deployment's committed hook intents that are not running yet; each is removed from
// the document (a commit) once it has run, whatever its outcome, which is recorded in the event
// log. A postDeploy hook with policy rollback rolls the environment back.
void Reconciler::runHookIntents(const std::string& id) {
  const auto* d = deployments_.find(id);
  if (d == nullptr) return;
  executor_.runHookIntents(*d, [this, id](const PersistedDeployment::HookIntent& intent, const HookResult& result) {
    hookRan(id, intent, result);
  });
}

void Reconciler::hookRan(const std::string& id, const PersistedDeployment::HookIntent& intent,
                         const HookResult& result) {
  recordHooks(id, config::toString(intent.point), result);
  const auto* d = deployments_.find(id);
  const std::string environment = d != nullptr ? d->record.environment : std::string();
  PersistedDeployment doc = d != nullptr ? d->doc : PersistedDeployment{};
  if (d != nullptr && std::erase(doc.hooks, intent) != 0) {
    const bool was_held = trafficHeld(d->doc);
    if (auto r = deployments_.commit(id, std::move(doc), o_.clock->now(), {}); !r) {
      metrics_.countFailure("commit");
      spdlog::error("deployment {}: cannot record that its {} hooks ran: {}", id,
                    config::toString(intent.point), r.error().message);
    } else {
      // The down-migration has run: the old version takes its traffic back now (whatever the
      // hook's outcome, which the event log has), before anything else may start.
      if (was_held && !trafficHeld(deployments_.at(id).doc)) applyIntent(id);
      afterCommit(id);
    }
  }
  if (intent.point == config::HookPoint::PostDeploy && result.decision == HookResult::Decision::Rollback &&
      !environment.empty()) {
    RollbackRequest r;
    r.environment = environment;
    r.reason = "postDeploy hook failed: " + result.summary;
    r.actor.name = std::string(kController);
    if (auto out = rollback(std::move(r)); !out) {
      spdlog::error("deployment {}: rollback after a failed postDeploy hook: {}", id, out.error().message);
    }
  }
}

// Applies Start to a queued deployment.
Result<void> Reconciler::applyStart(const std::string& id) {
  LiveDeployment& d = deployments_.at(id);
  const std::string environment = d.record.environment;
  auto spec = specFor(*d.config, environment);
  if (!spec) {
    abandon(id, spec.error().message);
    return fail(spec.error());
  }
  engine::Start start;
  start.id = id;
  start.version = d.record.version;
  start.artifacts = d.doc.state.artifacts;
  auto current = releases_.current(environment);
  if (!current) return fail(current.error());
  // The engine decides what a deployment of the serving version means (stable == version).
  start.stable_version = current->version;
  start.active_colour = current->colour;
  start.spec = std::make_shared<const engine::DeploymentSpec>(std::move(*spec));
  start.strategy = d.doc.strategy;
  start.force = d.doc.force;
  start.actor = d.doc.requested_by;
  start.reason = d.doc.reason;
  start.rollback = d.doc.rollback;
  start.emergency = d.doc.emergency;
  if (!start.spec->promotes_from.empty()) {
    store::DeploymentFilter f;
    f.environment = start.spec->promotes_from;
    f.phase = "Succeeded";
    f.version = start.version;
    f.limit = 1;
    auto found = o_.store->listDeployments(f);
    start.succeeded_in_source = found && !found->empty();
  }
  if (d.doc.rollback && start.spec->rollback_window > 0) {
    if (auto releases = releases_.successfulReleases(environment)) {
      for (std::size_t i = 1; i < releases->size() && static_cast<int>(i) <= start.spec->rollback_window; ++i) {
        if ((*releases)[i] == start.version) start.in_rollback_window = true;
      }
    }
  }
  executor_.observeRunning(environment, *start.spec, start);
  keepRunning(id, environment, start.version);
  return handle(id, start);
}

// A deployment that runs `version` again takes it over: retirements of it that earlier
// deployments of the environment still have pending (the old colour or version kept through
// a scale-down delay) are cancelled, so they cannot stop what now serves.
void Reconciler::keepRunning(const std::string& by, const std::string& environment,
                             const std::string& version) {
  std::vector<std::string> ids;
  for (const auto& id : deployments_.inEnvironment(environment)) {
    if (id == by) continue;
    const LiveDeployment& d = deployments_.at(id);
    for (const auto& r : d.doc.retirements) {
      if (r.version == version) {
        ids.push_back(id);
        break;
      }
    }
  }
  const TimePoint now = o_.clock->now();
  for (const auto& id : ids) {
    PersistedDeployment doc = deployments_.at(id).doc;
    std::erase_if(doc.retirements, [&](const engine::RetireVersion& r) { return r.version == version; });
    auto r = deployments_.commit(id, std::move(doc), now,
                                 {store::NewEvent{now, std::string(kController), "retirement.cancelled", id,
                                                  "deployment " + by + " runs " + version + " again", "{}"}});
    if (!r) {
      metrics_.countFailure("commit");
      spdlog::error("deployment {}: cannot cancel the retirement of {}: {}", id, version, r.error().message);
      continue;
    }
    spdlog::info("deployment {}: retirement of {} cancelled: deployment {} runs it again", id, version, by);
    evictIfIdle(id);
  }
}

// A queued deployment that can no longer start (its environment was removed, its start hooks
// failed, it was aborted or superseded before it started).
void Reconciler::abandon(const std::string& id, const std::string& why, Phase phase, const std::string& event,
                         const std::string& actor) {
  PersistedDeployment doc = deployments_.at(id).doc;
  doc.queued = false;
  doc.state.phase = phase;
  doc.state.abort_reason = why;
  const TimePoint now = o_.clock->now();
  auto r = deployments_.commit(id, std::move(doc), now, {store::NewEvent{now, actor, event, id, why, "{}"}});
  // One whose start hooks are still running stays live, and holds its environment, until they
  // finish (runStartHooksThenStart's callback): the next queued release's hooks must not run
  // beside them.
  if (r && executor_.starting().count(id) == 0) forget(id);
  if (r && o_.on_commit) o_.on_commit();
}

Result<Admitted> Reconciler::deploy(DeployRequest request) {
  if (config()->findEnvironment(request.environment) == nullptr) {
    return fail(ErrorCode::NotFound, "no environment named \"" + request.environment + "\" in the configuration");
  }
  PersistedDeployment doc;
  doc.requested_by = request.actor.name;
  doc.reason = request.reason;
  doc.force = request.force;
  doc.strategy = request.strategy;
  doc.commit_time = request.commit_time;
  return admit(request.environment, request.version, false, std::move(doc), request.artifacts,
               request.evidence);
}

Result<Admitted> Reconciler::rollback(RollbackRequest request) {
  if (config()->findEnvironment(request.environment) == nullptr) {
    return fail(ErrorCode::NotFound, "no environment named \"" + request.environment + "\" in the configuration");
  }
  auto releases = releases_.successfulReleases(request.environment);
  if (!releases) return fail(releases.error());
  auto serving = releases_.current(request.environment);
  if (!serving) return fail(serving.error());
  const std::string current = serving->version;
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
Result<std::string> Reconciler::resolve(const std::string& id, const std::string& environment,
                                        bool latest_if_idle) {
  if (!id.empty()) {
    auto d = deployments_.load(id, config());
    if (!d) return fail(d.error());
    return id;
  }
  if (const auto* active = activeIn(environment)) return active->record.id;
  if (latest_if_idle) {
    store::DeploymentFilter f;
    f.environment = environment;
    f.limit = 1;
    auto list = o_.store->listDeployments(f);
    if (!list) return fail(list.error());
    if (!list->empty()) return resolve(list->front().id, environment, false);
  }
  return fail(ErrorCode::NotFound, "environment " + environment + " has no deployment in progress");
}

Result<std::string> Reconciler::command(CommandRequest request) {
  const bool is_retry = request.kind == engine::OperatorCommand::Kind::Retry;
  auto id = resolve(request.deployment_id, request.environment, is_retry);
  if (!id) return fail(id.error());
  engine::OperatorCommand cmd{request.kind, request.actor.name, request.reason};
  if (is_retry) return retry(*id, cmd);
  // A deployment that has not started (queued, held by its checklist, or running its backup and
  // preDeploy hooks) has nothing for the engine to stop: an abort ends it where it is and frees
  // its environment (a checklist run still being judged is ignored when it comes back; hooks
  // still running are recorded when they finish, and hold the environment until then).
  if (const auto& d = deployments_.at(*id);
      request.kind == engine::OperatorCommand::Kind::Abort && notStarted(d.doc)) {
    const std::string environment = d.record.environment;
    const bool hooks_running = executor_.starting().count(*id) != 0;
    abandon(*id, "aborted by " + request.actor.name + (request.reason.empty() ? "" : ": " + request.reason) +
                     (hooks_running ? " (its start hooks were running; nothing was deployed)"
                                    : " (nothing was deployed)"),
            Phase::Failed, "deployment.aborted", request.actor.name);
    startNextQueued(environment);
    return *id;
  }
  auto r = handle(*id, cmd);
  evictIfIdle(*id);
  if (!r) return fail(r.error());
  return *id;
}

// A retry is a new attempt and passes the gates of a deploy: no other deployment may be active
// in the environment (Conflict), then the backup and preDeploy hooks, then the engine's
// retry, which passes the start approvals, the change window and pre-flight.
Result<std::string> Reconciler::retry(const std::string& id, const engine::OperatorCommand& cmd) {
  const LiveDeployment& d = deployments_.at(id);
  if (!d.snapshot_error.empty()) {
    const std::string why = d.snapshot_error;
    evictIfIdle(id);
    return fail(ErrorCode::FailedPrecondition,
                "deployment " + id + " cannot be retried: " + why + "; deploy its version again");
  }
  if (d.doc.state.phase != Phase::RolledBack) {
    auto r = handle(id, cmd);  // the engine refuses it, audited
    evictIfIdle(id);
    if (!r) return fail(r.error());
    return id;
  }
  if (auto blocked = retryBlocked(d, activeIn(d.record.environment))) {
    (void)o_.store->appendEvent(store::NewEvent{o_.clock->now(), cmd.actor, "command.refused", id,
                                                "retry refused: " + blocked->message, "{}"});
    evictIfIdle(id);
    return fail(*blocked);
  }
  const bool running = executor_.runStartHooks(d, [this, id, cmd](const HookResult& result, config::HookPoint point) {
    if (!deployments_.contains(id)) return;
    recordHooks(id, config::toString(point), result);
    if (result.decision != HookResult::Decision::Continue) {
      spdlog::warn("deployment {}: retry stopped: {} hooks failed: {}", id, config::toString(point), result.summary);
      evictIfIdle(id);
      return;
    }
    if (auto r = handle(id, cmd); !r) spdlog::warn("deployment {}: retry refused: {}", id, r.error().message);
    evictIfIdle(id);
  });
  if (running) return id;
  auto r = handle(id, cmd);
  evictIfIdle(id);
  if (!r) return fail(r.error());
  return id;
}

Result<std::string> Reconciler::decide(ApprovalRequest request) {
  std::string id = request.deployment_id;
  if (id.empty()) {
    for (const auto& lid : deployments_.inEnvironment(request.environment)) {
      if (deployments_.at(lid).doc.state.phase == Phase::AwaitingApproval) id = lid;
    }
    if (id.empty()) {
      return fail(ErrorCode::NotFound, "no deployment in " + request.environment + " is awaiting approval");
    }
  }
  auto resolved = resolve(id, request.environment, false);
  if (!resolved) return fail(resolved.error());
  const auto& s = deployments_.at(id).doc.state;
  if (s.phase != Phase::AwaitingApproval) {
    evictIfIdle(id);
    return fail(ErrorCode::FailedPrecondition,
                "deployment " + id + " is " + phaseName(s.phase) + ", not awaiting approval");
  }
  auto role = approvalRole(s, id, request);
  if (!role) return fail(role.error());
  engine::ApprovalDecision decision{request.actor.name, *role, request.approve, request.comment};
  store::ApprovalRecord approval;
  approval.deployment_id = id;
  approval.actor = request.actor.name;
  approval.role = *role;
  approval.approved = request.approve;
  approval.comment = request.comment;
  approval.at = o_.clock->now();
  // The decision and the state it produces are one transaction: both or neither.
  auto r = handle(id, decision, nullptr, {approval});
  if (!r) return fail(r.error());
  return id;
}

void Reconciler::updatePhaseGauge() {
  if (!phases_changed_) return;
  phases_changed_ = false;
  metrics_.setLiveByPhase(deployments_.countByPhase());
}

}  // namespace runway::controller
