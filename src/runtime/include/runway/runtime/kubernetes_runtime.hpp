#pragma once

// The `kubernetes` runtime: runs each service version of an environment as a Deployment in the
// environment's cluster and namespace, and splits traffic with a Gateway API HTTPRoute or the
// stable Service's selector. Everything it knows lives in the cluster (labels, annotations), so
// a new KubernetesRuntime re-adopts what an earlier one left: there is no local state.
//
// Objects per service (docs/kubernetes.md shows each):
//   Deployment <service>-<version>  the version's pods (labels app.kubernetes.io/name,
//                                   runway.dev/version, runway.dev/environment, managed-by)
//   Service <service>-<version>     the version alone: the HTTPRoute's backend, and the
//                                   preview address of a blue-green's new colour
//   Service <service>               the stable address: selects the version with the largest
//                                   weight (one atomic selector patch switches it), or every
//                                   version in `replicas` traffic mode while the split is
//                                   partial; carries the split in an annotation
//   HTTPRoute <service>             (traffic: httproute) backendRef weights per version

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/runtime/runtime.hpp"

namespace runway::kube {
class Client;
}

namespace runway::runtime {

struct KubernetesRuntimeOptions {
  std::shared_ptr<Clock> clock;  // null = the system clock
  // Connects to an environment's cluster. null = from its runtime.kubernetes: the kubeconfig
  // file (and context), or the in-cluster service account when it names none.
  std::function<Result<std::shared_ptr<kube::Client>>(const config::Environment&)> connect;
  // How long a read (instances, versionStatus) waits for the first list of a cluster's
  // Deployments and pods after open() before it answers Unavailable.
  Duration sync_timeout{std::chrono::seconds(15)};
};

// One permission the runtime needs in an environment's namespace, and whether the identity it
// runs as has it (SelfSubjectAccessReview).
struct KubernetesPermission {
  std::string group;     // "" = core
  std::string resource;  // deployments, services, ...
  std::string verb;      // get, list, watch, create, patch, delete
  std::string subresource;  // "" or e.g. "log" (pods/log)
  bool allowed = false;
  std::string reason;  // the authorizer's reason, when it gives one
};

struct KubernetesPreflight {
  std::string environment;
  std::string ns;
  bool namespace_exists = false;
  std::vector<KubernetesPermission> permissions;  // every one the runtime needs
  std::vector<std::string> problems;  // what is wrong, one sentence each; empty = ready
  // What could not be checked because the identity may not read it (a namespaced Role cannot
  // grant reading Nodes), one sentence each; not problems.
  std::vector<std::string> unchecked;
};

class KubernetesRuntime : public Runtime {
 public:
  // Connects to the cluster of every environment of `config` on the kubernetes runtime and
  // starts watching (list + watch, relisting on 410) the Deployments and pods runway labelled
  // for the environment there. Environments on other runtimes are not this runtime's:
  // operations on them are InvalidArgument. Errors: those of `connect` (a kubeconfig that
  // cannot be read: NotFound / InvalidArgument, naming the environment).
  static Result<std::unique_ptr<KubernetesRuntime>> open(const config::Config& config,
                                                         KubernetesRuntimeOptions options);

  // Whether the environment's namespace exists, the runtime's identity may do everything the
  // runtime does there (kubernetesRequiredPermissions()), and, with traffic: httproute, the
  // cluster serves HTTPRoutes and the Gateway the routes attach to exists. With `application`
  // (the environment's, as the deployment will run it) also: the image pull secrets its pod
  // templates name exist in the namespace, and what its services request (per pod, and times
  // their instance counts) fits the allocatable CPU and memory of the Ready nodes. What the
  // identity may not read is listed as unchecked, not as a problem.
  // Errors: InvalidArgument (not a kubernetes environment), Unavailable (the API server cannot
  // be reached).
  virtual Result<KubernetesPreflight> preflight(std::string_view environment,
                                                const config::Application* application) = 0;
  Result<KubernetesPreflight> preflight(std::string_view environment) {
    return preflight(environment, nullptr);
  }

  // Stops the watches (at most about a second). Leaves every object in the cluster.
  ~KubernetesRuntime() override = default;
};

// The verbs the runtime uses per resource (group, resource, verb), what the documented Role
// grants (docs/kubernetes.md, examples/kubernetes/rbac/runway-role.yaml).
std::vector<KubernetesPermission> kubernetesRequiredPermissions(bool http_route);

}  // namespace runway::runtime
