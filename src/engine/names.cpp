#include <string>

#include "runway/engine/actions.hpp"
#include "runway/engine/engine.hpp"
#include "runway/engine/inputs.hpp"
#include "runway/engine/state.hpp"

namespace runway::engine {

std::string_view toString(Phase phase) {
  switch (phase) {
    case Phase::Pending: return "Pending";
    case Phase::AwaitingApproval: return "AwaitingApproval";
    case Phase::WaitingForWindow: return "WaitingForWindow";
    case Phase::PreFlight: return "PreFlight";
    case Phase::Progressing: return "Progressing";
    case Phase::Paused: return "Paused";
    case Phase::Promoting: return "Promoting";
    case Phase::Succeeded: return "Succeeded";
    case Phase::Aborting: return "Aborting";
    case Phase::RolledBack: return "RolledBack";
    case Phase::Failed: return "Failed";
    case Phase::Rejected: return "Rejected";
    case Phase::Superseded: return "Superseded";
    case Phase::Degraded: return "Degraded";
  }
  return "Unknown";
}

std::string_view toString(Colour colour) { return colour == Colour::Blue ? "blue" : "green"; }

std::string_view toString(PauseReason reason) {
  switch (reason) {
    case PauseReason::None: return "none";
    case PauseReason::PauseStep: return "pauseStep";
    case PauseReason::Inconclusive: return "inconclusive";
    case PauseReason::Operator: return "operator";
    case PauseReason::AwaitingPromotion: return "awaitingPromotion";
  }
  return "unknown";
}

std::string_view toString(Outcome outcome) {
  switch (outcome) {
    case Outcome::Successful: return "Successful";
    case Outcome::Failed: return "Failed";
    case Outcome::Inconclusive: return "Inconclusive";
    case Outcome::Error: return "Error";
    case Outcome::NoData: return "NoData";
  }
  return "Unknown";
}

std::string_view toString(RunKind kind) {
  switch (kind) {
    case RunKind::Inline: return "inline";
    case RunKind::Background: return "background";
    case RunKind::PrePromotion: return "pre-promotion";
    case RunKind::PostPromotion: return "post-promotion";
    case RunKind::Watch: return "post-deploy watch";
  }
  return "unknown";
}

std::string_view toString(RunStatus status) {
  switch (status) {
    case RunStatus::Running: return "Running";
    case RunStatus::Successful: return "Successful";
    case RunStatus::Failed: return "Failed";
    case RunStatus::Inconclusive: return "Inconclusive";
    case RunStatus::Error: return "Error";
    case RunStatus::Stopped: return "Stopped";
  }
  return "Unknown";
}

std::string_view toString(CheckKind kind) {
  switch (kind) {
    case CheckKind::PreFlight: return "pre-flight";
    case CheckKind::Step: return "step";
    case CheckKind::PrePromotion: return "pre-promotion";
    case CheckKind::PostPromotion: return "post-promotion";
  }
  return "unknown";
}

std::string_view toString(CheckStatus status) {
  switch (status) {
    case CheckStatus::Running: return "Running";
    case CheckStatus::Passed: return "Passed";
    case CheckStatus::Failed: return "Failed";
    case CheckStatus::Stopped: return "Stopped";
  }
  return "Unknown";
}

std::string_view toString(OperatorCommand::Kind kind) {
  switch (kind) {
    case OperatorCommand::Kind::Promote: return "promote";
    case OperatorCommand::Kind::PromoteFull: return "promote --full";
    case OperatorCommand::Kind::Abort: return "abort";
    case OperatorCommand::Kind::Retry: return "retry";
    case OperatorCommand::Kind::Pause: return "pause";
    case OperatorCommand::Kind::Resume: return "resume";
  }
  return "unknown";
}

std::string_view toString(NotifyEvent event) {
  switch (event) {
    case NotifyEvent::Started: return "deployment.started";
    case NotifyEvent::ApprovalNeeded: return "approval.needed";
    case NotifyEvent::WaitingForWindow: return "deployment.waiting_for_window";
    case NotifyEvent::Paused: return "deployment.paused";
    case NotifyEvent::Promoted: return "deployment.promoted";
    case NotifyEvent::Succeeded: return "deployment.succeeded";
    case NotifyEvent::RolledBack: return "deployment.rolled_back";
    case NotifyEvent::Failed: return "deployment.failed";
    case NotifyEvent::Rejected: return "deployment.rejected";
    case NotifyEvent::Superseded: return "deployment.superseded";
    case NotifyEvent::Degraded: return "deployment.degraded";
    case NotifyEvent::ReleaseQueued: return "release.queued";
    case NotifyEvent::WatchCompleted: return "watch.completed";
  }
  return "unknown";
}

std::string_view toString(Admission admission) {
  switch (admission) {
    case Admission::StartNow: return "startNow";
    case Admission::Queue: return "queue";
    case Admission::Supersede: return "supersede";
    case Admission::Reject: return "reject";
  }
  return "unknown";
}

namespace {

struct Describer {
  std::string operator()(const StartVersion& a) const {
    return "start service=" + a.service + " version=" + a.version +
           " instances=" + std::to_string(a.instances) +
           (a.colour ? " colour=" + std::string(toString(*a.colour)) : std::string());
  }
  std::string operator()(const SetTraffic& a) const {
    std::string out = "set traffic service=" + a.service + " weights {";
    for (std::size_t i = 0; i < a.weights.size(); ++i) {
      out += (i ? ", " : "") + a.weights[i].version + ":" + std::to_string(a.weights[i].weight);
    }
    out += "}";
    for (const auto& r : a.routes) {
      out += " route " + (r.route.header.empty() ? "cookie " + r.route.cookie
                                                 : "header " + r.route.header) +
             "=" + r.route.value + "->" + r.version;
    }
    return out;
  }
  std::string operator()(const SwitchColour& a) const {
    return "switch service=" + a.service + " to " + std::string(toString(a.colour)) + " (" +
           a.version + ")";
  }
  std::string operator()(const RetireVersion& a) const {
    return "retire service=" + a.service + " version=" + a.version + " at " +
           formatTimestamp(a.at);
  }
  std::string operator()(const StartAnalysis& a) const {
    std::string t;
    for (const auto& x : a.templates) t += (t.empty() ? "" : ",") + x;
    return "start " + std::string(toString(a.kind)) + " analysis run=" + std::to_string(a.run) +
           " version=" + a.version + " templates=" + t;
  }
  std::string operator()(const StopAnalysis& a) const {
    return "stop analysis run=" + std::to_string(a.run);
  }
  std::string operator()(const RunChecks& a) const {
    return "run " + std::string(toString(a.kind)) + " checks run=" + std::to_string(a.run) +
           " smoke=" + a.checks.smoke + " health=" + a.checks.health;
  }
  std::string operator()(const RequestApproval& a) const {
    std::string r;
    for (const auto& x : a.roles) r += (r.empty() ? "" : ",") + x;
    return "request approval gate=" + std::to_string(a.gate) + " roles=" + r;
  }
  std::string operator()(const Notify& a) const {
    return "notify " + std::string(toString(a.event)) + ": " + a.reason;
  }
  std::string operator()(const OpenIncident& a) const {
    return "open incident SEV-" + std::to_string(a.severity) + ": " + a.title;
  }
  std::string operator()(const WakeAt& a) const { return "wake at " + formatTimestamp(a.at); }
  std::string operator()(const Audit& a) const {
    return "audit " + a.kind + " by " + a.actor + " (" + std::string(toString(a.from)) + " -> " +
           std::string(toString(a.to)) + "): " + a.reason;
  }
};

}  // namespace

std::string describe(const Action& action) { return std::visit(Describer{}, action); }

}  // namespace runway::engine

namespace runway::engine {

std::string_view strategyName(StrategyKind kind) {
  switch (kind) {
    case StrategyKind::Rolling: return "rolling";
    case StrategyKind::BlueGreen: return "blueGreen";
    case StrategyKind::Canary: return "canary";
  }
  return "unknown";
}

std::string_view stepKindName(config::CanaryStep::Kind kind) {
  using K = config::CanaryStep::Kind;
  switch (kind) {
    case K::SetWeight: return "setWeight";
    case K::Pause: return "pause";
    case K::Analysis: return "analysis";
    case K::Approval: return "approval";
    case K::Checks: return "checks";
    case K::SetHeaderRoute: return "setHeaderRoute";
  }
  return "unknown";
}

std::string_view matchName(config::HeaderRoute::Match match) {
  using M = config::HeaderRoute::Match;
  switch (match) {
    case M::Exact: return "exact";
    case M::Prefix: return "prefix";
    case M::Regex: return "regex";
  }
  return "unknown";
}

std::string_view noDataName(NoDataPolicy policy) {
  switch (policy) {
    case NoDataPolicy::Pass: return "pass";
    case NoDataPolicy::Fail: return "fail";
    case NoDataPolicy::Inconclusive: return "inconclusive";
    case NoDataPolicy::Error: return "error";
  }
  return "unknown";
}

std::string_view deadlineActionName(ProgressDeadlineAction action) {
  return action == ProgressDeadlineAction::Abort ? "abort" : "degrade";
}

std::string_view concurrencyName(ConcurrencyPolicy policy) {
  switch (policy) {
    case ConcurrencyPolicy::Reject: return "reject";
    case ConcurrencyPolicy::Queue: return "queue";
    case ConcurrencyPolicy::Supersede: return "supersede";
  }
  return "unknown";
}

}  // namespace runway::engine
