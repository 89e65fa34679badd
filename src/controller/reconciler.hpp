#pragma once

// The reconciler: the controller's one decision path. For every input (a request, a timer, an
// analysis or check result, a runtime report):
//   1. engine::apply() on a copy of the deployment's state;
//   2. the new state, its intent (actions folded into the document: intent.hpp), the hook
//      intents the phases it entered call for, the audit events and, when the input made a
//      version serve, the serving record: one CAS transaction (DeploymentRepository::commit);
//   3. only then the actions (ActionExecutor, AnalysisRunner).
// It owns no thread: the server runs it on its strand (loop.hpp); a test calls it directly and
// runs the scheduler's queued work itself, so one input → one commit → its actions can be
// driven and observed step by step, and a "crash" is dropping the Reconciler and building a
// new one on the same store and runtime.
//
// Strand only, except reload(), config() and runtimeEventHandler()'s handler (any thread).

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "action_executor.hpp"
#include "analysis_runner.hpp"
#include "checklist_gate.hpp"
#include "deployment_repository.hpp"
#include "due_index.hpp"
#include "metrics.hpp"
#include "release_book.hpp"
#include "runway/controller/controller.hpp"
#include "runway/core/ids.hpp"
#include "runway/engine/engine.hpp"
#include "scheduler.hpp"

namespace runway::controller {

// The services the runtime said changed (runtime::EventHandler), kept until the strand takes
// them. Any thread. `wake` (on the strand's side: Scheduler::post) is called under the lock when
// the first change of a batch arrives, and never after detach(), so a late event from the
// runtime's thread cannot reach a controller that has stopped.
class RuntimeChanges {
 public:
  explicit RuntimeChanges(std::function<void()> wake) : wake_(std::move(wake)) {}
  void add(const std::string& environment, const std::string& service);
  std::set<std::pair<std::string, std::string>> take();
  void detach();

 private:
  std::mutex mu_;
  std::set<std::pair<std::string, std::string>> changed_;
  std::function<void()> wake_;
};

// How long a periodic pass may go on (Reconciler::pass): spent once `until` has passed. A default
// Budget is never spent.
struct Budget {
  std::chrono::steady_clock::time_point until = std::chrono::steady_clock::time_point::max();
  bool spent() const { return std::chrono::steady_clock::now() >= until; }
};

class Reconciler {
 public:
  // REQUIRES: options has a store, runtime, clock, config and provider; `scheduler` and
  // `metrics` outlive the Reconciler.
  Reconciler(ControllerOptions options, Scheduler& scheduler, MetricsRecorder& metrics);
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Loads live deployments, executes their committed intents again (runtime calls, analysis
  // and check runs, hook intents), retires what no deployment and no current release wants, and
  // starts the oldest queued deployment of every free environment.
  Result<void> recover();

  // Requests (see Controller).
  Result<Admitted> deploy(DeployRequest request);
  Result<Admitted> rollback(RollbackRequest request);
  Result<std::string> command(CommandRequest request);
  Result<std::string> decide(ApprovalRequest request);
  Result<std::string> waive(WaiverRequest request);

  // All of the periodic work at once: runtime reports of every live deployment and
  // re-execution of intents that failed (when `refresh`), the services the runtime said changed,
  // every due timer, measurement and retirement, the phase gauge. What a test or a discrete-event
  // driver (stepper.hpp) calls.
  void tick(bool refresh);

  // The server's periodic pass (loop.hpp), whose work does not grow with the number of live
  // deployments: the services the runtime said changed (runtimeEventHandler()), the timers,
  // measurements and retirements due (from schedules ordered by time, not a scan), and when
  // `refresh`, the runtime reports of the next slice of live deployments (a sweep that goes
  // round all of them every few seconds: the safety net for a change no event reported) and the
  // re-execution of intents that failed. Stops once `budget` has passed, between two inputs;
  // returns true when it stopped with work left (the loop then passes again at once, after the
  // requests that wait).
  bool pass(bool refresh, std::chrono::steady_clock::duration budget);

  // What the runtime reports as it happens (runtime::Runtime::setEventHandler): each event
  // marks its service changed for the next pass. Any thread; safe to call after the
  // Reconciler is gone.
  runtime::EventHandler runtimeEventHandler() const;

  // The earliest time tick() has something to do that is not due yet: a deployment's timer
  // (a wake-up already delivered comes again a second later, as fireTimers() repeats it), a
  // measurement, a retirement. nullopt when nothing is scheduled. What a discrete-event driver
  // (stepper.hpp) moves its clock to when nothing is runnable.
  std::optional<TimePoint> nextDue() const;

  void reload(std::shared_ptr<const config::Config> config);
  std::shared_ptr<const config::Config> config() const;

  // For tests and the simulation: the deployments in memory.
  const DeploymentRepository& deployments() const { return deployments_; }

 private:
  Result<void> handle(const std::string& id, const engine::Input& input,
                      std::optional<engine::Admission>* admission = nullptr,
                      const std::vector<store::ApprovalRecord>& approvals = {});
  // handle() for the result of work that ran once (a measurement, a check): when its commit
  // fails (the store unreachable, a conflict), the result is kept and delivered again, in order
  // with the others of its deployment, on each pass until it is committed; never dropped.
  void deliver(const std::string& id, engine::Input input);
  void redeliver();
  void execute(const std::string& id, const std::vector<engine::Action>& actions);
  void setTraffic(const LiveDeployment& d, const engine::SetTraffic& a);
  void reportWeights(const std::string& id, const engine::SetTraffic& applied);
  void report(const std::string& id, const std::string& service, const std::string& version,
              int traffic_weight);
  void applyIntent(const std::string& id);
  void refreshReports();
  void refreshDeployment(const std::string& id, const std::string* only_service);
  void takeRuntimeChanges();
  void refreshChanged(const Budget& budget);
  void sweep(const Budget& budget);
  void scheduled(const std::string& id);
  std::optional<TimePoint> timerDue(const std::string& id, const LiveDeployment& d) const;
  void reapplyIntents();
  void retireDue(const Budget& budget = {});
  void fireTimers(const Budget& budget = {});
  void startAnalysis(const std::string& id, const engine::StartAnalysis& a);
  void runChecks(const std::string& id, const engine::RunChecks& c);
  void afterCommit(const std::string& id);
  void forget(const std::string& id);
  void evictIfIdle(const std::string& id);
  const LiveDeployment* activeIn(const std::string& environment) const;
  void startNextQueued(const std::string& environment);

  Result<engine::DeploymentSpec> specFor(const config::Config& cfg, const std::string& environment);
  Result<Admitted> admit(const std::string& environment, const std::string& version, bool rollback,
                         PersistedDeployment doc, const std::map<std::string, std::string>& artifacts,
                         const store::ReleaseEvidence& evidence = {});
  Result<void> startDeployment(const std::string& id);
  void judgeChecklist(const std::string& id);
  void checklistJudged(const std::string& id, std::vector<ChecklistItemResult> items);
  Result<void> runStartHooksThenStart(const std::string& id);
  void recordHooks(const std::string& id, std::string_view point, const HookResult& result);
  std::vector<config::HookPoint> hookPointsFor(const LiveDeployment& d, engine::Phase before,
                                               const std::vector<engine::Phase>& entered);
  void runHookIntents(const std::string& id);
  void hookRan(const std::string& id, const PersistedDeployment::HookIntent& intent,
               const HookResult& result);
  Result<void> applyStart(const std::string& id);
  void keepRunning(const std::string& by, const std::string& environment, const std::string& version);
  void abandon(const std::string& id, const std::string& why, engine::Phase phase = engine::Phase::Failed,
               const std::string& event = "deployment.failed", const std::string& actor = "runway");
  Result<std::string> resolve(const std::string& id, const std::string& environment, bool latest_if_idle);
  Result<std::string> retry(const std::string& id, const engine::OperatorCommand& cmd);
  void updatePhaseGauge();

  ControllerOptions o_;
  Scheduler& scheduler_;
  MetricsRecorder& metrics_;
  mutable std::mutex config_mu_;
  std::shared_ptr<const config::Config> config_;
  IdGenerator ids_;

  DeploymentRepository deployments_;
  // The configuration admissions were last snapshotted from, and its files shared by every
  // deployment requested under it (PersistedDeployment::spec_sources).
  std::shared_ptr<const config::Config> snapshot_config_;
  std::shared_ptr<const std::vector<config::SourceFile>> snapshot_sources_;
  ReleaseBook releases_;
  ActionExecutor executor_;
  AnalysisRunner analysis_;
  ChecklistJudge checklist_;

  struct Fired {
    std::optional<TimePoint> wake;  // the wake_at value last delivered as a Timer
    TimePoint at{};
  };
  std::map<std::string, Fired> fired_;
  // When each live deployment's timer (timerDue()) and its earliest pending retirement are
  // due, kept by scheduled() after every change of a deployment.
  DueIndex<std::string> timers_;
  DueIndex<std::string> retirements_;
  bool phases_changed_ = true;
  // Services the runtime reported changed (any thread), then taken by the strand.
  std::shared_ptr<RuntimeChanges> changes_;
  std::set<std::pair<std::string, std::string>> runtime_pending_;
  // Where the sweep of runtime reports goes on from (the last id it refreshed).
  std::string sweep_cursor_;
  bool runtime_dirty_ = false;
  // Set by each handle(): whether its input failed at the commit (nothing of it written).
  bool commit_failed_ = false;
  // Results whose commit failed, per deployment, oldest first (deliver()).
  std::map<std::string, std::deque<engine::Input>> undelivered_;
};

}  // namespace runway::controller
