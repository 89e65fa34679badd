#pragma once

// The controller: one reconcile loop on one strand (its own thread) that keeps every deployment
// moving through the engine and executes the engine's actions.
//
// For every input (a request, a timer, an analysis or check result, a runtime report):
//   1. engine::apply() on a copy of the deployment's state;
//   2. the new state, its runtime intent (the desired versions and traffic split), the running
//      analysis and check runs, pending retirements and the audit events are written in ONE
//      store transaction, compare-and-swap on the deployment's revision;
//   3. only then the actions run (runtime, analysis, checks).
// After a crash the controller loads every live deployment and executes its persisted intent
// again (every action is idempotent), restarts its analysis and check runs and re-arms its
// timers: a step is never lost and never repeated (the engine is not re-run for inputs already
// persisted).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runway/analysis/provider.hpp"
#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/engine/actions.hpp"
#include "runway/engine/inputs.hpp"
#include "runway/runtime/runtime.hpp"
#include "runway/store/evidence.hpp"
#include "runway/store/store.hpp"

namespace runway::controller {

// What a gate check reported (health levels, smoke suites).
struct CheckOutcome {
  bool passed = false;
  std::string detail;
};

// Runs an engine RunChecks action against `environment`. Blocking; called on a worker thread.
class CheckRunner {
 public:
  virtual ~CheckRunner() = default;
  virtual CheckOutcome run(const config::Config& config, const std::string& environment,
                           const engine::RunChecks& checks) = 0;
};

// What lifecycle hooks decided (config hooks: preDeploy, postDeploy, preRollback, postRollback,
// onAbort; and the backup a deployment takes first when its environment says so).
struct HookResult {
  enum class Decision { Continue, Fail, Rollback };
  Decision decision = Decision::Continue;
  std::string summary;    // one line: which hook failed and why, or "2 hooks ran"
  std::string runs_json;  // JSON array: name, ok, attempts, reason, output (truncated)
  bool ran = false;       // false when nothing is configured at that point
};

// Runs hooks. Blocking; called on a worker thread.
class LifecycleHooks {
 public:
  virtual ~LifecycleHooks() = default;
  virtual HookResult run(const config::Config& config, const std::string& environment,
                         config::HookPoint point, const std::string& version) = 0;
  // The environment's backup hook, when `backup.beforeDeploy` is set (ran = false otherwise).
  virtual HookResult backupBeforeDeploy(const config::Config& config, const std::string& environment,
                                        const std::string& version) = 0;
};

// One item of a checklist as judged (checks::ChecklistItem, without the module).
struct ChecklistItemResult {
  std::string name;
  bool passed = false;
  std::string reason;
};

// Judges an environment's pre-deployment checklist (docs/checklist.md) for a version and its
// release evidence, against what the environment serves. Blocking; called on a worker thread.
// Whatever could not be judged (a service unreachable, a token missing) is a failed item.
class ChecklistRunner {
 public:
  virtual ~ChecklistRunner() = default;
  virtual std::vector<ChecklistItemResult> judge(const config::Config& config, const std::string& environment,
                                                 const std::string& version, const std::string& current_release,
                                                 const store::ReleaseEvidence& evidence) = 0;
};

// Who asks (from the API's authenticated identity).
struct Actor {
  std::string name;
  std::vector<std::string> roles;
};

struct DeployRequest {
  std::string environment;
  std::string version;
  std::map<std::string, std::string> artifacts;  // service -> ref; "" = derived
  std::optional<config::StrategyKind> strategy;
  bool force = false;
  std::string reason;
  Actor actor;
  // When the change was committed (`runway deploy --commit-time`): the start of its lead time
  // for changes in the delivery report. Stored with the deployment; nullopt = not given.
  std::optional<TimePoint> commit_time;
  // The release evidence (`runway deploy --commit --repo --attach`): stored with the deployment
  // (DeploymentRecord::evidence_json). InvalidArgument when store::validateEvidence refuses it.
  store::ReleaseEvidence evidence;
};

struct RollbackRequest {
  std::string environment;
  std::string version;  // "" = the previous successful release
  std::string reason;
  bool force = false;      // fast: skips steps and analysis, where policy allows
  bool emergency = false;  // bypasses change windows and freezes (audited)
  Actor actor;
};

// The answer to deploy/rollback: the deployment created and what happened to it.
struct Admitted {
  std::string deployment_id;
  std::string status;  // "started" | "queued"
  std::string from_version;  // rollback: what ran before ("" when nothing did)
  std::string to_version;
  std::string superseded;  // id of the deployment a rollback/supersede aborts, or ""
};

struct CommandRequest {
  std::string deployment_id;  // "" = the active deployment of `environment`
  std::string environment;
  engine::OperatorCommand::Kind kind = engine::OperatorCommand::Kind::Promote;
  std::string reason;
  Actor actor;
};

struct ApprovalRequest {
  std::string deployment_id;  // "" = the deployment of `environment` awaiting approval
  std::string environment;
  std::string role;  // "" = the first pending role the actor holds
  bool approve = true;
  std::string comment;
  Actor actor;
};

// Waives a failed item of a deployment's blocked checklist (`runway checklist waive`).
struct WaiverRequest {
  std::string deployment_id;
  std::string item;     // "codeReview", "vulnerabilities", ...
  std::string comment;  // why: required
  Actor actor;
};

// Counters for /metrics.
struct ControllerMetrics {
  std::map<std::string, std::uint64_t> analysis_outcomes;  // outcome -> measurements
  std::map<std::string, std::uint64_t> action_failures;    // action type -> failures
  std::vector<double> reconcile_bounds;                    // seconds, increasing, last = +Inf
  std::vector<std::uint64_t> reconcile_buckets;            // cumulative counts per bound
  double reconcile_sum_seconds = 0;
  std::uint64_t reconcile_count = 0;
  std::map<std::string, std::uint64_t> live_by_phase;  // deployments the controller drives
};

struct ControllerOptions {
  std::shared_ptr<store::Store> store;
  std::shared_ptr<runtime::Runtime> runtime;
  std::shared_ptr<analysis::MetricProvider> provider;  // measures analysis metrics
  std::shared_ptr<CheckRunner> checks;
  std::shared_ptr<LifecycleHooks> hooks;  // may be null: no hooks run
  // Judges checklists; may be null only when no environment configures one (a deployment of an
  // environment with a checklist and no runner is blocked: the checklist could not run).
  std::shared_ptr<ChecklistRunner> checklist;
  std::shared_ptr<Clock> clock;
  std::shared_ptr<const config::Config> config;
  int workers = 4;  // threads for measurements and checks
  // How often the loop looks at timers and due measurements when nothing else happens.
  std::chrono::milliseconds poll{20};
  // Grace period for retiring instances (drain before SIGTERM).
  Duration retire_grace{std::chrono::seconds(5)};
  // Called (on the strand) after every committed transition: the API's event stream uses it.
  std::function<void()> on_commit;
  // Seeds the random part of deployment ids (tests and simulations); nullopt = system randomness.
  std::optional<std::uint64_t> id_seed;
};

// Summary of a deployment the controller drives.
class Controller {
 public:
  // Loads live deployments from the store, executes their persisted intents again, cleans up
  // versions no deployment wants, and starts the loop.
  static Result<std::unique_ptr<Controller>> start(ControllerOptions options);
  virtual ~Controller() = default;

  // Each call runs on the strand and returns its outcome. Errors: InvalidArgument (unknown
  // environment, bad version), NotFound, Conflict (environment busy and its policy is reject;
  // stale write), FailedPrecondition (the engine refused: policy, phase), PermissionDenied
  // (approval not allowed for this actor).
  virtual Result<Admitted> deploy(DeployRequest request) = 0;
  virtual Result<Admitted> rollback(RollbackRequest request) = 0;
  virtual Result<std::string> command(CommandRequest request) = 0;  // returns the deployment id
  virtual Result<std::string> decide(ApprovalRequest request) = 0;  // returns the deployment id
  // Records a waiver for a failed item of a blocked checklist; the deployment goes on once no
  // failed item is left unwaived. Returns the deployment id. Errors: NotFound, InvalidArgument
  // (no comment, unknown item), FailedPrecondition (its checklist does not block it, the item
  // passed, or was waived already), PermissionDenied (the actor holds no role of the item's
  // waivableBy).
  virtual Result<std::string> waive(WaiverRequest request) = 0;

  // Replaces the configuration for deployments started from now on.
  virtual void reload(std::shared_ptr<const config::Config> config) = 0;
  virtual std::shared_ptr<const config::Config> config() const = 0;

  virtual ControllerMetrics metrics() const = 0;
  // Stops the loop after the current input; in-flight measurements are abandoned (they are
  // re-taken after a restart). Idempotent.
  virtual void stop() = 0;
};

// The version an environment serves now, or "" when none: the serving record written with the
// commit that made it take all traffic (a promotion, a rollback, a fast rollback); for a store
// written before serving records were kept, the newest Succeeded deployment. `colour` receives
// its blue-green active colour.
Result<std::string> currentRelease(store::Store& store, const std::string& environment,
                                   engine::Colour* colour = nullptr);

// The persisted document of a deployment (DeploymentRecord::state_json): the engine state plus
// what the controller needs to resume it.
// The key of PersistedDeployment::latest: "<run>/<metric>", or "<run>/<service>/<metric>" for a
// metric measured for one service.
std::string latestKey(std::uint32_t run, const std::string& service, const std::string& metric);

// A deployment's pre-deployment checklist: committed as Judging before it runs (after a crash
// it runs again: a checklist that did not finish never passes), then Blocked while an item that
// failed is not waived, Passed once every item passed or was waived. Waivers are kept across
// runs: a waived item stays waived when the checklist is judged again.
struct ChecklistState {
  enum class Status { Judging, Blocked, Passed };
  Status status = Status::Judging;
  std::vector<ChecklistItemResult> items;  // of the last run, in the checklist's order
  struct Waiver {
    std::string item;
    std::string actor;
    std::string role;
    std::string comment;
    TimePoint at;
  };
  std::vector<Waiver> waivers;
  int runs = 0;        // how often it was started
  TimePoint judged_at;  // when the last run finished
  const Waiver* waiverFor(std::string_view item) const;
  // The failed items nobody waived.
  std::vector<std::string> unwaivedFailures() const;
};
std::string_view toString(ChecklistState::Status status);  // "judging", "blocked", "passed"

struct PersistedDeployment {
  engine::DeploymentState state;
  // Runtime intent: versions to run per service and the traffic split per service.
  std::vector<engine::StartVersion> starts;
  std::vector<engine::SetTraffic> traffic;
  std::vector<engine::RetireVersion> retirements;  // not yet executed
  std::vector<engine::StartAnalysis> analyses;     // runs still running
  std::vector<engine::RunChecks> checks;           // check runs still running
  // The latest measurement of each metric of each service of each analysis run (latestKey()),
  // for people watching: the engine keeps only tallies.
  struct Measured {
    double value = 0;
    std::string outcome;
    TimePoint at;
  };
  std::map<std::string, Measured> latest;
  // Lifecycle hooks a phase change called for (postDeploy, onAbort, preRollback, postRollback),
  // committed with the state that entered the phase and removed once they have run: after a
  // crash they run again (at least once, so hooks must be idempotent).
  struct HookIntent {
    config::HookPoint point = config::HookPoint::PostDeploy;
    int attempt = 1;
    bool operator==(const HookIntent&) const = default;
  };
  std::vector<HookIntent> hooks;
  // The spec snapshot: the configuration in force when the deployment was requested, as its
  // files read (config::Config::sources). Everything the deployment does (the engine spec,
  // analysis templates, services' commands and env, checks, hooks) comes from it, so a reload
  // reaches only deployments requested after it. Null in documents written before snapshots
  // were kept (and for configurations built in code): those read the live configuration.
  // Shared by every deployment requested under the same configuration (it can be megabytes).
  std::shared_ptr<const std::vector<config::SourceFile>> spec_sources;
  // The snapshot's key in the store (Store::putConfigSnapshot): what the stored document holds
  // instead of the files. "" in documents that carry the files themselves (written before).
  std::string spec_key;
  bool queued = false;  // admitted to a busy environment; starts when it frees up
  bool rollback = false;
  bool emergency = false;
  bool force = false;
  std::optional<config::StrategyKind> strategy;
  std::string requested_by;
  std::string reason;
  std::optional<TimePoint> commit_time;  // DeployRequest::commit_time ("commitTime", Unix ms)
  // The pre-deployment checklist (docs/checklist.md), judged before the start hooks and the
  // approvals. nullopt: the environment has none, or it has not been asked for yet.
  std::optional<ChecklistState> checklist;
  bool live() const;
};
std::string toJson(const PersistedDeployment& doc);
Result<PersistedDeployment> parsePersisted(std::string_view json);

}  // namespace runway::controller
