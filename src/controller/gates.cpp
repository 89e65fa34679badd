#include "gates.hpp"

#include "checklist_gate.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace runway::controller {
namespace {

bool holds(const Actor& actor, const std::string& role) {
  return std::find(actor.roles.begin(), actor.roles.end(), role) != actor.roles.end();
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& r : items) out += (out.empty() ? "" : ", ") + r;
  return out;
}

}  // namespace

const LiveDeployment* activeIn(const DeploymentRepository& deployments,
                               const std::string& environment,
                               const std::set<std::string>& starting) {
  for (const auto& id : deployments.inEnvironment(environment)) {
    const LiveDeployment& d = deployments.all().at(id);
    if ((!d.doc.queued && !engine::isTerminal(d.doc.state.phase)) || starting.count(id) != 0 ||
        trafficHeld(d.doc) || checklistHolds(d.doc)) {
      return &d;
    }
  }
  return nullptr;
}

Result<engine::Admission> admitTo(const std::string& environment, const LiveDeployment* active,
                                  bool rollback, config::ConcurrencyPolicy policy) {
  const auto admission =
      engine::admitRelease(active != nullptr ? &active->doc.state : nullptr, rollback, policy);
  if (admission == engine::Admission::Reject) {
    return fail(ErrorCode::Conflict,
                fmt::format("environment {} is busy: deployment {} of {} is {}; its concurrency "
                            "policy is reject (abort it, or wait)",
                            environment, active->record.id, active->record.version,
                            engine::toString(active->doc.state.phase)));
  }
  return admission;
}

std::optional<Error> retryBlocked(const LiveDeployment& retried, const LiveDeployment* active) {
  if (active == nullptr || active->record.id == retried.record.id) return std::nullopt;
  return Error{ErrorCode::Conflict,
               fmt::format("environment {} is busy: deployment {} of {} is {}; retry {} when it "
                           "has ended",
                           retried.record.environment, active->record.id, active->record.version,
                           engine::toString(active->doc.state.phase), retried.record.id)};
}

Result<std::string> approvalRole(const engine::DeploymentState& s, const std::string& id,
                                 const ApprovalRequest& request) {
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
  if (!request.role.empty()) {
    if (!holds(request.actor, request.role)) {
      return fail(ErrorCode::PermissionDenied,
                  fmt::format("{} does not hold the role {}; an approval counts only for a role its "
                              "token holds",
                              request.actor.name, request.role));
    }
    return request.role;
  }
  for (const auto& r : needed) {
    if (holds(request.actor, r)) return r;
  }
  return fail(ErrorCode::PermissionDenied, fmt::format("{} is waiting for {}; {} holds none of these roles",
                                                       id, joined(needed), request.actor.name));
}

}  // namespace runway::controller
