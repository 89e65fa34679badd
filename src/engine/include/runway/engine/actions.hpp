#pragma once

// What the engine asks the controller to do. Every action is idempotent and fully specified:
// executing it twice (after a crash) has the effect of executing it once.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "runway/core/clock.hpp"
#include "runway/engine/spec.hpp"
#include "runway/engine/state.hpp"

namespace runway::engine {

// Ensure exactly `instances` instances of `version` of `service` run (0 = none). Cancels a
// pending retirement of the same version.
struct StartVersion {
  std::string service;
  std::string version;
  std::string artifact;
  int instances = 0;
  std::optional<Colour> colour;  // blue-green only
  bool operator==(const StartVersion&) const = default;
};

struct VersionWeight {
  std::string version;
  int weight = 0;
  bool operator==(const VersionWeight&) const = default;
};

// Requests matching `route` go to `version` regardless of weights.
struct RouteRule {
  HeaderRouteSpec route;
  std::string version;
  bool operator==(const RouteRule&) const = default;
};

// Set the traffic split of `service`. Weights sum to 100 and name only ready versions.
struct SetTraffic {
  std::string service;
  std::vector<VersionWeight> weights;
  std::vector<RouteRule> routes;
  bool operator==(const SetTraffic&) const = default;
};

// Blue-green: make `colour` (running `version`) the active colour of `service`, atomically:
// all its traffic goes to `version`.
struct SwitchColour {
  std::string service;
  Colour colour = Colour::Blue;
  std::string version;
  bool operator==(const SwitchColour&) const = default;
};

// Stop every instance of `version` of `service` at or after `at`.
struct RetireVersion {
  std::string service;
  std::string version;
  TimePoint at;
  bool operator==(const RetireVersion&) const = default;
};

// Start analysis run `run` of `version` (against `baseline`). Results come back as
// AnalysisResult inputs naming the run.
struct StartAnalysis {
  std::uint32_t run = 0;
  RunKind kind = RunKind::Inline;
  int step = -1;
  std::string version;
  std::string baseline;
  std::vector<std::string> templates;
  std::map<std::string, std::string> args;
  Duration interval{0};
  std::map<std::string, std::string> thresholds;
  bool operator==(const StartAnalysis&) const = default;
};

struct StopAnalysis {
  std::uint32_t run = 0;
  bool operator==(const StopAnalysis&) const = default;
};

// Run checks (a smoke suite and/or a health level) against `version`; the outcome comes back
// as a CheckResult naming the run.
struct RunChecks {
  std::uint32_t run = 0;
  CheckKind kind = CheckKind::Step;
  int step = -1;
  std::string version;
  CheckSpec checks;
  bool operator==(const RunChecks&) const = default;
};

// Ask the holders of `roles` to approve (or reject) the deployment.
struct RequestApproval {
  int gate = kStartGate;
  std::vector<std::string> roles;  // the roles still missing
  std::optional<TimePoint> deadline;
  bool operator==(const RequestApproval&) const = default;
};

enum class NotifyEvent : std::uint8_t {
  Started,
  ApprovalNeeded,
  WaitingForWindow,
  Paused,
  Promoted,
  Succeeded,
  RolledBack,
  Failed,
  Rejected,
  Superseded,
  Degraded,
  ReleaseQueued,
  WatchCompleted,
};
std::string_view toString(NotifyEvent event);

struct Notify {
  NotifyEvent event = NotifyEvent::Started;
  Phase phase = Phase::Pending;
  std::string version;
  std::string reason;
  bool operator==(const Notify&) const = default;
};

struct OpenIncident {
  int severity = 2;  // SEV-1..3
  std::string title;
  std::string reason;
  bool operator==(const OpenIncident&) const = default;
};

// Call step() with a Timer at or after `at`. Replaces any earlier request.
struct WakeAt {
  TimePoint at;
  bool operator==(const WakeAt&) const = default;
};

// The audit record of one state change.
struct Audit {
  TimePoint at;
  std::string actor;
  std::string kind;  // "deployment.started", "step.completed", "analysis.failed", ...
  std::string reason;
  Phase from = Phase::Pending;
  Phase to = Phase::Pending;
  bool operator==(const Audit&) const = default;
};

using Action = std::variant<StartVersion, SetTraffic, SwitchColour, RetireVersion, StartAnalysis,
                            StopAnalysis, RunChecks, RequestApproval, Notify, OpenIncident,
                            WakeAt, Audit>;

// A one-line human description, e.g. "set traffic service=api weights {v1:90, v2:10}".
std::string describe(const Action& action);

}  // namespace runway::engine
