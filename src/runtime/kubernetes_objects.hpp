#pragma once

// The kubernetes runtime's pure parts (private to the runtime module): reading fields of API
// objects, the split as the stable Service records it, and building a version's Deployment and
// a service's HTTPRoute from the configuration. No I/O; kubernetes_runtime.cpp applies them.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "runway/config/model.hpp"
#include "runway/core/error.hpp"
#include "runway/kube/client.hpp"
#include "runway/runtime/runtime.hpp"

namespace runway::runtime::kubernetes_runtime_detail {

namespace json = boost::json;
using kube::Object;

// The annotation on the stable Service that records the split runway set (JSON).
inline constexpr std::string_view kTrafficAnnotation = "runway.dev/traffic";

// Fields of API objects; absent (or of another type) = null / "" / `fallback`.
const json::object* objectField(const json::object* o, std::string_view key);
std::string stringField(const json::object* o, std::string_view key);
std::int64_t intField(const json::object* o, std::string_view key, std::int64_t fallback = 0);
const json::object* metadataOf(const Object& o);
std::string objectName(const Object& o);
std::string labelOf(const Object& o, std::string_view label);
std::string annotationOf(const Object& o, std::string_view annotation);
bool beingDeleted(const Object& o);  // metadata.deletionTimestamp is set

// RFC 7386: objects merge member by member, null removes, anything else replaces.
void mergePatchInto(json::value& target, const json::value& patch);
// ${NAME} substituted in every string value (not in keys) of a JSON document.
Result<void> substituteStrings(json::value& v, const std::map<std::string, std::string>& vars);

// A Kubernetes label value: at most 63 characters of [A-Za-z0-9._-], starting and ending with
// a letter or digit. Versions become label values.
bool isLabelValue(std::string_view v);
// The last path component has a ':' (a tag) or the reference has an '@' (a digest).
bool hasTagOrDigest(std::string_view image);
// RUNWAY_ARTIFACT_<SERVICE>: upper case, '-' as '_'.
std::string artifactEnvName(std::string_view service);

// The split as JSON ({"weights": {...}, "routes": [...]}) and back ("" or unreadable = empty).
std::string splitJson(const TrafficSplit& split);
TrafficSplit parseSplit(const std::string& text);
std::string describeSplit(const std::map<std::string, int>& weights);  // "v1=90% v2=10%"
// The versions a split names (weights above 0 and routes).
std::vector<std::string> splitVersions(const TrafficSplit& split);
// InvalidArgument for a split the runtime cannot apply: weights outside 0..1000 or not summing
// to 1000, sticky sessions, a route without exactly one of header/cookie, cookie or prefix
// matches, and any route without an HTTPRoute (`http_route` false).
Result<void> validateSplit(std::string_view environment, bool http_route, const TrafficSplit& split);

// The container port of a service's versions (kubernetes.port, else port, else 8080).
int containerPort(const config::Service& svc);
// "exited with status 1 (Error)" from a pod's status: its containers' last termination.
std::string lastExit(const json::object* status);

// A Kubernetes resource quantity ("500m", "2", "1.5", "256Mi", "1Gi", "1e3", "1k") in base
// units (cores, bytes); nullopt when it is not one.
std::optional<double> parseQuantity(std::string_view text);

// What one pod of a Deployment requests (summed over its containers; 0 where none is set).
struct PodRequests {
  double cpu = 0;     // cores
  double memory = 0;  // bytes
};
PodRequests podRequests(const Object& deployment);
// The image pull secrets its pod template names.
std::vector<std::string> imagePullSecrets(const Object& deployment);

// The HTTPRoute `<service>`: header routes first (each to its version), then the weighted rule.
Object routeFor(std::string_view environment, const std::string& gateway,
                const std::string& gateway_ns, std::string_view service, int port,
                const TrafficSplit& split);

// The Deployment of one version from the service's configuration: the image and env with their
// substitutions (${ARTIFACT} = the service's artifact, else the version), RUNWAY_ARTIFACT*,
// the readiness probe, requests, progress deadline and the pod-template patch (the selector
// labels kept whatever it says). Errors: InvalidArgument (no image, a bad substitution).
Result<Object> deploymentFor(std::string_view environment, const config::Service& service,
                             std::string_view version, int instances,
                             const std::map<std::string, std::string>& artifacts,
                             std::string_view deployment_id);

}  // namespace runway::runtime::kubernetes_runtime_detail
