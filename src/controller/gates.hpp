#pragma once

// The gates a request passes before the engine sees it: one deployment drives an environment at
// a time (a new release is started, queued, superseding or refused per the environment's
// concurrency policy; a retry is refused while another deployment is active), and an approval
// counts only for a role its actor holds and the deployment still waits for. Change windows,
// freezes and the approval rules themselves are the engine's (engine::apply).
//
// Pure functions over the deployments in memory; strand only.

#include <optional>
#include <set>
#include <string>

#include "deployment_repository.hpp"
#include "runway/controller/controller.hpp"
#include "runway/engine/engine.hpp"

namespace runway::controller {

// Whether the engine has not started `doc` yet (it is queued: waiting for its environment, its
// checklist, or its backup and start hooks). An abort or a superseding release ends such a
// deployment where it is, without the engine: there is nothing to stop or roll back.
inline bool notStarted(const PersistedDeployment& doc) { return doc.queued; }

// The deployment that holds `environment`: one not queued and not ended, a queued one whose
// start hooks are running (`starting`) or whose checklist is being judged or blocks it
// (checklistHolds), or one whose traffic waits for its down-migration (trafficHeld). nullptr when the environment is free.
const LiveDeployment* activeIn(const DeploymentRepository& deployments,
                               const std::string& environment,
                               const std::set<std::string>& starting);

// What happens to a new release of `environment` given its active deployment (may be null):
// StartNow, Queue or Supersede. Errors: Conflict when the environment is busy and its policy is
// reject (the message names the active deployment).
Result<engine::Admission> admitTo(const std::string& environment, const LiveDeployment* active,
                                  bool rollback, config::ConcurrencyPolicy policy);

// Why deployment `id` may not be retried now: another deployment is active in its environment
// (Conflict). nullopt when it may.
std::optional<Error> retryBlocked(const LiveDeployment& retried, const LiveDeployment* active);

// The role an approval request decides for deployment state `state`: the one it names (the
// actor must hold it) or the first still pending role the actor holds. Errors:
// PermissionDenied.
Result<std::string> approvalRole(const engine::DeploymentState& state, const std::string& id,
                                 const ApprovalRequest& request);

}  // namespace runway::controller
