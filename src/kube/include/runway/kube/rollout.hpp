#pragma once

// Whether a Deployment has rolled out, decided by the rules `kubectl rollout status` uses
// (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go, DeploymentStatusViewer).

#include <string>

#include "runway/kube/client.hpp"

namespace runway::kube {

struct RolloutStatus {
  enum class State {
    Progressing,  // not done yet; `message` says what it waits for
    Complete,     // every replica updated and available, no old ones left
    Failed,       // the Progressing condition says ProgressDeadlineExceeded
  };
  State state = State::Progressing;
  std::string message;  // kubectl's wording
};

// From a Deployment as the API returns it (spec, metadata.generation and status), in kubectl's
// order: the new spec not observed yet -> Progressing; ProgressDeadlineExceeded -> Failed;
// fewer updated replicas than spec.replicas, old replicas still terminating, or fewer updated
// replicas available -> Progressing; otherwise Complete.
RolloutStatus deploymentRolloutStatus(const Object& deployment);

}  // namespace runway::kube
