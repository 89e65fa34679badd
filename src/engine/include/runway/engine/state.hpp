#pragma once

// The state of one deployment: everything the engine needs to decide its next move, and
// nothing else. A plain value: copyable, comparable, serialisable (json.hpp).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runway/core/clock.hpp"
#include "runway/engine/spec.hpp"

namespace runway::engine {

// Version of the JSON form of DeploymentState (json.hpp). Bump on incompatible changes.
inline constexpr int kStateSchemaVersion = 1;

enum class Phase : std::uint8_t {
  Pending,           // created, Start not yet applied
  AwaitingApproval,  // waiting for the required roles (start gate or an approval step)
  WaitingForWindow,  // outside every change window, or inside a freeze
  PreFlight,         // pre-flight checks running; nothing deployed yet
  Progressing,       // rolling out (including timed pauses)
  Paused,            // waiting for a person: indefinite pause, inconclusive analysis, operator
  Promoting,         // new version taking all traffic (blue-green: verification period)
  Succeeded,         // done; a post-deploy watch may still be running
  Aborting,          // traffic going back to stable
  RolledBack,        // aborted; stable serves everything, new version retired
  Failed,            // ended before anything was deployed (pre-flight, approval timeout)
  Rejected,          // refused at start (policy, promotion source) or rejected by an approver
  Superseded,        // ended because a newer release or a rollback took the environment
  Degraded,          // progress deadline passed and the environment says degrade, not abort
};

// Terminal phases end a deployment. Succeeded is terminal even while its watch runs.
bool isTerminal(Phase phase);

enum class Colour : std::uint8_t { Blue, Green };

enum class PauseReason : std::uint8_t {
  None,
  PauseStep,          // an indefinite pause step: needs `promote`
  Inconclusive,       // an analysis run was inconclusive: needs `promote`/`resume` or `abort`
  Operator,           // `runway pause`: needs `resume`
  AwaitingPromotion,  // blue-green with manual promotion: needs `promote`
};

enum class Outcome : std::uint8_t { Successful, Failed, Inconclusive, Error, NoData };

enum class RunKind : std::uint8_t { Inline, Background, PrePromotion, PostPromotion, Watch };
enum class RunStatus : std::uint8_t { Running, Successful, Failed, Inconclusive, Error, Stopped };

enum class CheckKind : std::uint8_t { PreFlight, Step, PrePromotion, PostPromotion };
enum class CheckStatus : std::uint8_t { Running, Passed, Failed, Stopped };

std::string_view toString(Phase phase);
std::string_view toString(Colour colour);
std::string_view toString(PauseReason reason);
std::string_view toString(Outcome outcome);
std::string_view toString(RunKind kind);
std::string_view toString(RunStatus status);
std::string_view toString(CheckKind kind);
std::string_view toString(CheckStatus status);

// One release artifact: which build of a service the release ships.
struct Artifact {
  std::string service;
  std::string ref;  // image:tag or a path
  bool operator==(const Artifact&) const = default;
};

// Per-service rollout progress.
struct ServiceProgress {
  std::string name;
  int desired = 0;       // instances wanted per version (from the spec)
  int new_target = 0;    // instances of the new version requested
  int new_ready = 0;     // as last reported
  int new_failed = 0;
  int stable_target = 0; // instances of the stable version requested (assumed running)
  int stable_ready = 0;
  int applied_weight = -1;  // weight of the new version in effect as last reported; -1 unknown
  int traffic_weight = 0;   // weight of the new version the engine last asked for
  bool on_stable = false;   // Aborting: traffic for this service is back on stable
  int others = 0;           // instances of other versions still running (rolling: count as surge)
  bool operator==(const ServiceProgress&) const = default;
};

// One metric of one service in a run: counts for people, and the analysis module's verdict.
struct MetricTally {
  std::string metric;
  int measurements = 0;
  int successful = 0;
  int failed = 0;
  int inconclusive = 0;
  int errors = 0;
  std::string service;                    // "" = the run as a whole (it could not be set up)
  RunStatus status = RunStatus::Running;  // the latest verdict the analysis module reported
  bool dry_run = false;
  bool open_ended = false;  // measures until stopped (AnalysisResult::open_ended)
  bool operator==(const MetricTally&) const = default;
};

struct AnalysisRun {
  std::uint32_t id = 0;
  RunKind kind = RunKind::Inline;
  int step = -1;  // canary step index for inline runs, -1 otherwise
  RunStatus status = RunStatus::Running;
  bool accepted = false;  // an inconclusive result was accepted by a person
  std::vector<MetricTally> metrics;
  bool operator==(const AnalysisRun&) const = default;
};

struct CheckRun {
  std::uint32_t id = 0;
  CheckKind kind = CheckKind::Step;
  int step = -1;
  CheckStatus status = CheckStatus::Running;
  bool operator==(const CheckRun&) const = default;
};

inline constexpr int kStartGate = -1;  // approval gate before anything starts

struct ApprovalRecord {
  int gate = kStartGate;  // kStartGate or the canary step index
  std::string role;
  std::string actor;
  TimePoint at;
  bool operator==(const ApprovalRecord&) const = default;
};

// Shared, immutable spec snapshot. Copies of a state share it; equality compares values.
struct SpecRef {
  std::shared_ptr<const DeploymentSpec> ptr;
  const DeploymentSpec& operator*() const { return *ptr; }
  const DeploymentSpec* operator->() const { return ptr.get(); }
  explicit operator bool() const { return ptr != nullptr; }
  bool operator==(const SpecRef& other) const {
    if (ptr == other.ptr) return true;
    if (!ptr || !other.ptr) return false;
    return *ptr == *other.ptr;
  }
};

struct DeploymentState {
  int schema_version = kStateSchemaVersion;
  std::string id;
  std::string environment;
  std::string application;
  std::string version;                 // the release being deployed
  std::vector<Artifact> artifacts;     // per service
  std::string stable_version;          // what served before; "" on a first deployment
  std::string started_by;
  std::string reason;
  SpecRef spec;

  Phase phase = Phase::Pending;
  StrategyKind strategy = StrategyKind::Rolling;
  PauseReason pause_reason = PauseReason::None;
  Phase paused_from = Phase::Progressing;  // where Paused / Degraded return to
  int attempt = 0;  // 1 on the first run, +1 per retry

  // How it was started.
  bool force = false;
  bool rollback = false;
  bool fast = false;       // fast rollback: skips steps and analysis
  bool emergency = false;  // emergency rollback: bypasses windows and freezes

  // Progress.
  int step_index = 0;         // canary: current step; steps.size() = all done
  bool step_entered = false;  // the current step's entry actions were emitted
  bool pause_skipped = false; // `promote` skipped the current pause
  int canary_weight = 0;      // canary: weight of the new version
  std::vector<HeaderRouteSpec> routes;  // active header/cookie routes to the new version
  Colour active_colour = Colour::Blue;  // blue-green: colour serving traffic
  bool switched = false;                // blue-green: traffic switched to the new colour
  bool pre_gates_started = false;       // blue-green: pre-promotion gates started
  bool background_started = false;
  bool promoted_full = false;
  bool awaiting_readiness = false;
  bool watching = false;  // post-deploy watch running (phase Succeeded)
  std::vector<ServiceProgress> services;
  std::vector<AnalysisRun> runs;
  std::vector<CheckRun> checks;
  std::uint32_t next_run_id = 1;
  std::vector<ApprovalRecord> approvals;
  int approval_gate = kStartGate;  // the gate AwaitingApproval waits for

  // Deadlines; nullopt = not armed.
  std::optional<TimePoint> pause_until;
  std::optional<Duration> paused_remaining;  // a timed pause frozen by `runway pause`
  std::optional<TimePoint> progress_deadline_at;
  std::optional<TimePoint> approval_deadline;
  std::optional<TimePoint> window_opens_at;
  std::optional<TimePoint> auto_promote_at;
  std::optional<TimePoint> verification_until;
  std::optional<TimePoint> watch_until;
  std::optional<TimePoint> stable_retire_at;  // when the old version is retired (after success)
  std::optional<TimePoint> wake_at;           // the wake-up last requested

  // How it ended.
  std::string abort_reason;
  Phase abort_target = Phase::RolledBack;  // RolledBack or Superseded
  bool incident_opened = false;

  TimePoint created_at;
  TimePoint updated_at;

  bool operator==(const DeploymentState&) const = default;
};

}  // namespace runway::engine
