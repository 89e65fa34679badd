#pragma once

// What the engine reacts to. The controller gathers these (API calls, analysis and check
// results, runtime reports, timers) and feeds them to engine::step() one at a time.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "runway/engine/spec.hpp"
#include "runway/engine/state.hpp"

namespace runway::engine {

// Start a deployment. Applies to a state in phase Pending.
struct Start {
  std::string id;
  std::string version;
  std::vector<Artifact> artifacts;
  // What the environment runs now; "" = nothing yet. Equal to `version` when the version
  // already serves (a redeploy, or a rollback to the serving version): nothing to shift between.
  std::string stable_version;
  Colour active_colour = Colour::Blue;  // blue-green: the colour the stable version runs as
  std::shared_ptr<const DeploymentSpec> spec;
  std::optional<StrategyKind> strategy;  // override of the environment's strategy
  bool force = false;                    // skip pre-flight, checks, analysis; policy permitting
  std::string actor;
  std::string reason;
  // Facts the controller looks up (the engine does no I/O):
  bool succeeded_in_source = false;  // the version Succeeded in spec.promotes_from
  bool rollback = false;             // a rollback to a previously successful release
  bool in_rollback_window = false;   // the target is among the last spec.rollback_window releases
  // Rollback only: the target still runs on every service (its colour or old version is kept
  // through a scale-down delay), so going back is a fast rollback whatever the window says.
  bool target_running = false;
  // Per service: instances of versions other than `version` and `stable_version` still running
  // (being retired, e.g. a superseded release). A rolling update counts them against maxSurge.
  std::map<std::string, int> other_instances;
  bool emergency = false;            // rollback only: bypass change windows and freezes (audited)
};

// A wake-up: the time passed to step() has reached (or passed) a requested WakeAt. Early or
// extra timers are harmless.
struct Timer {};

// The analysis module's word on one metric of one service after one measurement.
//
// The analysis module is the one verdict authority for a metric: it applies the limits, `for`
// and the no-data policy and reports the metric's verdict for that service. The engine only
// combines verdicts, worst wins (Failed > Error > Inconclusive > Successful) across every
// metric of every service of the run; it never upgrades an Error ("could not measure") to a
// pass, and a run is Successful only when it is complete and every non-dry-run metric of every
// service reported Successful.
//
// An analysis run that cannot be set up (a template missing, two metrics with one name, a
// condition that does not parse) is reported as service "" with verdict Error and the reason:
// it fails the step.
struct AnalysisResult {
  std::uint32_t run = 0;
  std::string metric;
  Outcome outcome = Outcome::Successful;  // this measurement's outcome, for the audit trail
  double value = 0;                       // for the audit trail only
  bool run_complete = false;  // every metric of every service of the run has a final verdict
  std::string service;        // "" = the run as a whole
  RunStatus verdict = RunStatus::Running;  // the metric's verdict for `service` (never Stopped)
  std::string reason;                      // why, from the analysis module
  bool dry_run = false;                    // recorded, never decides
  // The metric measures until stopped (no count, an interval): only a verification period
  // bounds it, so it can pass without a final verdict (see Machine's Promoting rule).
  bool open_ended = false;
};

struct CheckResult {
  std::uint32_t run = 0;
  bool passed = false;
  std::string detail;
};

// What the runtime sees for one version of one service.
struct RuntimeReport {
  std::string service;
  std::string version;
  int ready = 0;
  int failed = 0;
  int traffic_weight = -1;  // weight of `version` now in effect at the router; -1 = not reported
  // Instances of the service's other versions (neither this deployment's new nor its stable
  // version) still running, e.g. being retired; -1 = not reported.
  int others = -1;
  // Why instances failed, as the runtime explains it (on Kubernetes the pods' latest Warning
  // Events); "" = no explanation. Carried into the abort reason of a failed rollout.
  std::string failure_detail{};
};

struct ApprovalDecision {
  std::string actor;
  std::string role;  // the role the API verified the actor holds
  bool approve = true;  // false = reject
  std::string comment;
};

struct OperatorCommand {
  enum class Kind : std::uint8_t { Promote, PromoteFull, Abort, Retry, Pause, Resume };
  Kind kind = Kind::Promote;
  std::string actor;
  std::string reason;
};

// A newer release (or a rollback) wants this deployment's environment.
struct NewerRelease {
  std::string version;
  bool rollback = false;
  std::string actor;
};

using Input = std::variant<Start, Timer, AnalysisResult, CheckResult, RuntimeReport,
                           ApprovalDecision, OperatorCommand, NewerRelease>;

std::string_view toString(OperatorCommand::Kind kind);

}  // namespace runway::engine
