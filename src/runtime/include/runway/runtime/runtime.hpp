#pragma once

// The runtime interface the controller drives (ARCHITECTURE.md §2): start a version, split
// traffic between versions, scale, list instances, retire a version, read statistics. Every
// operation is idempotent ("start v2 with 3 instances" twice leaves 3 instances), so that after
// a crash the controller can simply re-execute its last persisted intent.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::runtime {

// Lifecycle of one instance.
//   Starting   spawned, not yet passed a health probe; not routed
//   Ready      passed its last probes; routed
//   Unhealthy  was Ready, then failed `failure_threshold` consecutive probes; not routed
//   Restarting exited unexpectedly; waiting for its back-off before it is spawned again
//   Failed     restarted too often within the restart window; given up
//   Stopping   being removed: out of traffic, draining, then SIGTERM, then SIGKILL
//   Stopped    gone (reported once in events; no longer listed afterwards)
enum class InstanceState { Starting, Ready, Unhealthy, Restarting, Failed, Stopping, Stopped };
std::string_view toString(InstanceState state);

struct InstanceInfo {
  std::string environment;
  std::string service;
  std::string version;
  int index = 0;  // 0-based within the version; stable across restarts
  InstanceState state = InstanceState::Starting;
  int pid = 0;   // 0 while not running (Restarting, Failed, Stopped)
  int pgid = 0;  // the instance's own process group
  int port = 0;  // loopback port it listens on (${PORT})
  int restarts = 0;
  TimePoint started_at{};  // of the current process
  std::string last_exit;   // "exited with status 1", "killed by signal 9", "" = never exited
  std::string log_path;
  // Kubernetes: the pod and the node it runs on ("" locally, and while unscheduled).
  std::string pod;
  std::string node;
  // Why a Failed instance failed, as the platform explains it: on Kubernetes the latest Warning
  // Events of its pod, ReplicaSet and Deployment ("FailedScheduling: 0/1 nodes are available:
  // ..."), "" when there are none or the instance did not fail.
  std::string diagnosis{};
};

// What readInstanceLog() reads.
struct LogOptions {
  int tail_lines = -1;  // the last lines only; negative = all the instance has kept
  bool follow = false;  // then keep reading what the instance writes next
};

// A version as a whole.
//   Progressing  fewer instances Ready than desired, none Failed
//   Ready        all desired instances Ready
//   Failed       at least one instance Failed (too many restarts)
//   Retiring     retireVersion() in progress
enum class VersionState { Progressing, Ready, Failed, Retiring };
std::string_view toString(VersionState state);

struct VersionStatus {
  std::string environment;
  std::string service;
  std::string version;
  VersionState state = VersionState::Progressing;
  int desired = 0;
  int ready = 0;
};

// A header or cookie match that sends matching requests to one version (A/B routing), checked
// before the weighted split.
struct TrafficRoute {
  enum class Match { Exact, Prefix, Regex };
  std::string header;  // exactly one of header / cookie is set
  std::string cookie;
  Match match = Match::Exact;
  std::string value;
  std::string version;

  friend bool operator==(const TrafficRoute&, const TrafficRoute&) = default;
};

// How a service's traffic is split between its versions.
struct TrafficSplit {
  // version -> weight in per-mille (0..1000); the weights sum to 1000, or the map is empty
  // (no traffic routed yet).
  std::map<std::string, int> weights;
  std::vector<TrafficRoute> routes;
  std::string sticky_cookie;  // "" = no sticky sessions
  Duration sticky_max_age{std::chrono::hours(1)};  // the sticky cookie's Max-Age

  friend bool operator==(const TrafficSplit&, const TrafficSplit&) = default;
};

// The client-side timeouts and body limit of a service's router listener (config
// `traffic.listener`); the defaults are the router's.
struct ListenerLimits {
  Duration header_timeout{std::chrono::seconds(10)};
  Duration idle_timeout{std::chrono::seconds(60)};
  Duration request_timeout{std::chrono::seconds(30)};
  std::uint64_t max_request_body = 64ull * 1024 * 1024;

  friend bool operator==(const ListenerLimits&, const ListenerLimits&) = default;
};

// TLS termination on a service's router listener (config `traffic.listener.tls`): absolute
// paths of PEM files the router reads, and reads again when they change.
struct ListenerTlsFiles {
  std::string certificate_file;
  std::string key_file;

  friend bool operator==(const ListenerTlsFiles&, const ListenerTlsFiles&) = default;
};

// Per-version request statistics over a sliding window, as measured by the router.
struct VersionStatistics {
  std::string version;
  std::uint64_t requests = 0;
  std::uint64_t responses_2xx = 0;
  std::uint64_t responses_3xx = 0;
  std::uint64_t responses_4xx = 0;
  std::uint64_t responses_5xx = 0;
  std::uint64_t upstream_errors = 0;  // connect failures, resets, timeouts
  std::int64_t in_flight = 0;
  double latency_p50_ms = 0;
  double latency_p95_ms = 0;
  double latency_p99_ms = 0;
};

// What the runtime reports as it happens.
struct RuntimeEvent {
  enum class Kind {
    InstanceStarted,    // a process was spawned (first start or restart)
    InstanceReady,      // passed a health probe; now routed
    InstanceUnhealthy,  // failed `failure_threshold` probes; no longer routed
    InstanceExited,     // exited unexpectedly; will be restarted after its back-off
    InstanceFailed,     // restarted too often; given up
    InstanceStopped,    // stopped on request
    VersionReady,       // all desired instances of the version are Ready
    VersionFailed,      // an instance of the version Failed
    VersionRetired,     // all instances stopped; the version is gone
  };
  Kind kind = Kind::InstanceStarted;
  std::string environment;
  std::string service;
  std::string version;
  int index = -1;  // -1 for version events
  std::string message;
  TimePoint at{};
};
std::string_view toString(RuntimeEvent::Kind kind);

// Called on the runtime's supervisor thread (or the thread calling tick() in manual mode),
// never with a runtime lock held: a handler may call back into the runtime.
using EventHandler = std::function<void(const RuntimeEvent&)>;

class Runtime {
 public:
  virtual ~Runtime() = default;

  // Ensures `instances` instances of `version` of `service` run in `environment`. Idempotent:
  // a second call with the same count changes nothing; a different count scales. Returns
  // before the instances are Ready; readiness is reported through events and versionStatus().
  // Errors: InvalidArgument (bad version name, instance count outside 0..1000, command not
  // found, unknown ${...} substitution, service without a local command, environment not on
  // this runtime), FailedPrecondition (the version is being retired).
  //
  // `artifacts` (service -> artifact reference, from the deploy request; a service not named
  // runs the version itself) are what the release ships: the local runtime substitutes the
  // service's own as ${ARTIFACT} in its command and env and passes every one as
  // RUNWAY_ARTIFACT_<SERVICE> (upper case, '-' as '_') plus RUNWAY_ARTIFACT (its own).
  virtual Result<void> startVersion(const config::Environment& environment,
                                    const config::Service& service, std::string_view version,
                                    int instances,
                                    const std::map<std::string, std::string>& artifacts) = 0;
  Result<void> startVersion(const config::Environment& environment, const config::Service& service,
                            std::string_view version, int instances) {
    return startVersion(environment, service, version, instances, {});
  }

  // startVersion() on behalf of the runway deployment `deployment_id` ("dep-..."), which a
  // runtime may record with the version's objects (Kubernetes: the runway.dev/deployment
  // annotation, naming the deployment that last started the version). The default records
  // nothing and starts the version as startVersion() does.
  virtual Result<void> startVersionFor(std::string_view deployment_id,
                                       const config::Environment& environment,
                                       const config::Service& service, std::string_view version,
                                       int instances,
                                       const std::map<std::string, std::string>& artifacts) {
    (void)deployment_id;
    return startVersion(environment, service, version, instances, artifacts);
  }

  // Sets the traffic split of a service and pushes it to the router; returns once the router
  // has it (or the error if it could not be reached: Unavailable). Idempotent.
  // Errors: NotFound (service or a named version not started), InvalidArgument (weights
  // outside 0..1000 or not summing to 1000, route without exactly one of header/cookie).
  virtual Result<void> setTraffic(std::string_view environment, std::string_view service,
                                  const TrafficSplit& split) = 0;

  // The current split (empty when none was set). Errors: NotFound.
  virtual Result<TrafficSplit> traffic(std::string_view environment,
                                       std::string_view service) const = 0;

  // Where the application's users reach a service ("127.0.0.1:8080": the router's listener in
  // the local runtime). Errors: NotFound (the service runs nothing yet), Unimplemented runtimes
  // answer NotFound.
  virtual Result<std::string> serviceAddress(std::string_view environment,
                                             std::string_view service) const {
    (void)environment;
    (void)service;
    return tl::unexpected<Error>(Error{ErrorCode::NotFound, "this runtime has no service address"});
  }

  // Sets the instance count of a started version (0..1000). Removed instances stop gracefully.
  // Errors: NotFound, InvalidArgument, FailedPrecondition (being retired).
  virtual Result<void> scale(std::string_view environment, std::string_view service,
                             std::string_view version, int instances) = 0;

  // Instances of an environment (all services when `service` is empty), sorted by service,
  // version, index. An unknown environment or service simply has none.
  virtual Result<std::vector<InstanceInfo>> instances(std::string_view environment,
                                                      std::string_view service = {}) const = 0;

  // Errors: NotFound.
  virtual Result<VersionStatus> versionStatus(std::string_view environment,
                                              std::string_view service,
                                              std::string_view version) const = 0;

  // Stops every instance of a version gracefully: out of the router, drained for up to
  // `grace`, SIGTERM, then SIGKILL. Returns at once; VersionRetired is reported when done.
  // Idempotent; retiring a version that does not exist succeeds.
  // Errors: FailedPrecondition (the version still has a weight or a route in the split: move
  // traffic off it first).
  virtual Result<void> retireVersion(std::string_view environment, std::string_view service,
                                     std::string_view version, Duration grace) = 0;

  // Per-version statistics of a service over the last `window`, from the router.
  // Errors: Unavailable (router unreachable), NotFound.
  virtual Result<std::vector<VersionStatistics>> statistics(std::string_view environment,
                                                            std::string_view service,
                                                            Duration window) = 0;

  // Retires (as retireVersion) every version of an environment that is not in `keep`
  // (service, version): what a restarted controller calls after re-executing its intent, to
  // clean up versions no deployment wants. Errors: FailedPrecondition when a leftover still has
  // traffic (the versions before it in order are already retiring).
  virtual Result<void> retainOnly(std::string_view environment,
                                  const std::vector<std::pair<std::string, std::string>>& keep,
                                  Duration grace) = 0;

  // Where an instance's output is kept as a file (`runway logs` reads it); nullopt when this
  // runtime keeps none (Kubernetes: the pods' log API has it).
  virtual std::optional<std::string> instanceLogPath(std::string_view environment,
                                                     std::string_view service,
                                                     std::string_view version, int index) const {
    (void)environment;
    (void)service;
    (void)version;
    (void)index;
    return std::nullopt;
  }

  // The output of one instance of a service, `instance` being its pod name on Kubernetes,
  // handed to `on_data` in pieces as read: the last `tail_lines` lines, then, with `follow`,
  // what it writes next, until the instance ends, `on_data` returns false or `stop` is
  // requested. Blocking; runs on the calling thread.
  // Errors: FailedPrecondition (this runtime keeps logs as files: instanceLogPath(); or the
  // platform cannot serve this instance's log, with its reason), NotFound (no such instance),
  // InvalidArgument (not this runtime's environment), Unavailable (the platform cannot be
  // reached).
  virtual Result<void> readInstanceLog(std::string_view environment, std::string_view service,
                                       std::string_view instance, const LogOptions& options,
                                       const std::function<bool(std::string_view)>& on_data,
                                       std::stop_token stop) {
    (void)service;
    (void)instance;
    (void)options;
    (void)on_data;
    (void)stop;
    return tl::unexpected<Error>(Error{ErrorCode::FailedPrecondition,
                                       "environment " + std::string(environment) +
                                           " keeps its instances' output in files on the "
                                           "server's machine (runway logs reads them)"});
  }

  // Stops everything this runtime runs (`runway down`) and waits until no instance process is
  // left, at most `grace` plus the kill timeout. Errors: Timeout (processes survived SIGKILL).
  virtual Result<void> stopAll(Duration grace) = 0;

  // Replaces the event handler (nullptr = none).
  virtual void setEventHandler(EventHandler handler) = 0;
};

}  // namespace runway::runtime
