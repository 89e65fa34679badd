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
// Strand only, except reload() and config() (any thread).

#include <deque>
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
#include "metrics.hpp"
#include "release_book.hpp"
#include "runway/controller/controller.hpp"
#include "runway/core/ids.hpp"
#include "runway/engine/engine.hpp"
#include "scheduler.hpp"

namespace runway::controller {

class Reconciler {
 public:
  // REQUIRES: options has a store, runtime, clock, config and provider; `scheduler` and
  // `metrics` outlive the Reconciler.
  Reconciler(ControllerOptions options, Scheduler& scheduler, MetricsRecorder& metrics);

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

  // The loop's periodic work: runtime reports and re-execution of intents that failed (when
  // `refresh`), due timers, due measurements, due retirements, the phase gauge.
  void tick(bool refresh);

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
  void reapplyIntents();
  void retireDue();
  void fireTimers();
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
  bool runtime_dirty_ = false;
  // Set by each handle(): whether its input failed at the commit (nothing of it written).
  bool commit_failed_ = false;
  // Results whose commit failed, per deployment, oldest first (deliver()).
  std::map<std::string, std::deque<engine::Input>> undelivered_;
};

}  // namespace runway::controller
