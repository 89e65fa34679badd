#pragma once

// The objects runway keeps in a cluster for one service of one environment: a Deployment and a
// Service per version, and an HTTPRoute whose backendRef weights split the traffic between
// versions. Pure builders: the objects are applied with Client::apply (server-side apply, field
// manager runway), so building the same object again and applying it changes nothing.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runway/kube/client.hpp"

namespace runway::kube {

// Labels on every object (and pod) runway creates; re-adoption after a restart finds them by
// these.
inline constexpr std::string_view kNameLabel = "app.kubernetes.io/name";         // the service
inline constexpr std::string_view kVersionLabel = "runway.dev/version";
inline constexpr std::string_view kEnvironmentLabel = "runway.dev/environment";
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";  // "runway"
// Annotation: the runway deployment (dep-...) that started the version.
inline constexpr std::string_view kDeploymentAnnotation = "runway.dev/deployment";

struct VersionIdentity {
  std::string environment;
  std::string service;
  std::string version;
  std::string deployment_id;  // "" = none recorded
};

struct VersionWorkload {
  std::string image;  // full reference, tag included
  int port = 8080;    // the container's port; the Service and HTTPRoute use it too
  int replicas = 1;
  std::map<std::string, std::string> env;
  std::string readiness_path = "/health";  // HTTP GET readiness probe on `port`; "" = none
  double cpu = 0;                          // cores requested; 0 = none
  std::int64_t memory_mb = 0;              // MiB requested; 0 = none
  int progress_deadline_seconds = 600;
};

// The name of a version's Deployment and Service: "<service>-<version>", lower-cased, every
// character outside [a-z0-9-] replaced by '-', at most 63 characters (a longer one is cut and
// ends with 8 hex digits of a hash of the whole, so distinct versions keep distinct names).
std::string versionObjectName(std::string_view service, std::string_view version);

// The labels selecting the pods of one version.
Object versionSelector(const VersionIdentity& identity);

// apps/v1 Deployment `versionObjectName(service, version)` with the labels above on it and its
// pod template, the annotation when deployment_id is set, and the workload's container.
Object versionDeployment(const VersionIdentity& identity, const VersionWorkload& workload);

// v1 Service of the same name selecting the version's pods, port `port` -> `port`.
Object versionService(const VersionIdentity& identity, int port);

// gateway.networking.k8s.io/v1 HTTPRoute `route_name` attached to Gateway `gateway` (in the
// route's namespace) with one rule sending all paths to the versions' Services, weighted:
// `weights` maps version -> per-mille (runtime::TrafficSplit's unit); a version at 0 stays
// listed with weight 0 (no traffic, but its Service stays referenced).
// REQUIRES: weights is not empty.
Object httpRoute(const std::string& route_name, const std::string& gateway,
                 const VersionIdentity& service, int port,
                 const std::map<std::string, int>& weights);

// Reading back what the cluster has.

// One pod of a version, as `runway status` will show an instance.
struct PodInstance {
  std::string name;
  std::string version;  // its runway.dev/version label
  std::string phase;    // Pending, Running, Succeeded, Failed, Unknown
  bool ready = false;   // the Ready condition is True
  int restarts = 0;     // summed over its containers
  std::string node;     // "" while unscheduled
};
PodInstance podInstance(const Object& pod);

// The weights of `route` (an HTTPRoute as built by httpRoute()): version -> per-mille, found by
// matching each backendRef's name against versionObjectName(service, version) for the
// versions in `candidates`. A backendRef naming no candidate is left out.
std::map<std::string, int> routeWeights(const Object& route, std::string_view service,
                                        const std::vector<std::string>& candidates);

}  // namespace runway::kube
