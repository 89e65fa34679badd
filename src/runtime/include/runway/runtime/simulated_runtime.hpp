#pragma once

// The `simulated` runtime: a Runtime with no processes and no router, for rehearsals
// (`runway rehearse`), demos, tests and the scale benchmark. An environment names it with
// `runtime: {simulated: {...}}` (config::SimulatedRuntime), or `runway rehearse` puts every
// environment on it.
//
// The model, per environment (its config::SimulatedRuntime):
//   - an instance becomes Ready `readyAfter` after it starts (on the injected clock), never
//     fails and never restarts; a retired version is gone at once (nothing to drain);
//   - each service serves `requestsPerSecond`, split between its versions by the traffic split
//     in force at each moment (the history of splits is kept), so a version that took traffic
//     one second ago has one second of requests, and one that has none has no data;
//   - a version's responses are 5xx at the environment's error rate and its P95 latency is the
//     environment's, each varied by up to ±20 % (errors) and ±10 % (latency) per minute of
//     simulated time by a hash of (seed, environment, service, version, minute): the same seed
//     gives the same statistics whatever order they are read in;
//   - a fault (SimulatedFault) replaces the error rate or the latency of one version: a bad build.
//
// Thread-safe. Events (InstanceStarted/Ready/Stopped, VersionReady, VersionRetired) are
// delivered to the handler on the thread of the call that caused or observed them (startVersion,
// scale, retireVersion, publish()), never with the runtime's lock held.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runway/analysis/provider.hpp"
#include "runway/config/model.hpp"
#include "runway/runtime/runtime.hpp"

namespace runway::runtime {

// What makes one version a bad build. Unset fields keep the environment's model.
struct SimulatedFault {
  std::optional<double> error_rate;     // 0..1, replaces the model's error rate
  std::optional<Duration> latency_p95;  // replaces the model's P95 latency
  // Where the version is bad (a bug only production's traffic finds); empty = everywhere.
  std::vector<std::string> environments;
};

struct SimulatedRuntimeOptions {
  std::shared_ptr<Clock> clock;  // REQUIRED
  // The model of environments that do not name the simulated runtime in their configuration
  // (runway rehearse runs every environment on it).
  config::SimulatedRuntime model;
  std::map<std::string, SimulatedFault> faults;  // version -> fault
};

class SimulatedRuntime final : public Runtime {
 public:
  // REQUIRES: options.clock is not null.
  explicit SimulatedRuntime(SimulatedRuntimeOptions options);

  // The model an environment runs with: its configuration's when it names the simulated
  // runtime, else the options' model.
  const config::SimulatedRuntime& modelOf(const config::Environment& environment) const;

  // The earliest time after now at which something changes by itself (an instance becomes
  // Ready); nullopt when nothing will. What a discrete-event driver jumps its clock to.
  std::optional<TimePoint> nextChange() const;

  // Delivers the events of changes that happened by now (instances that became Ready). Looks
  // only at the services with an instance due to become Ready by now (a schedule kept as they
  // start), so that calling it often costs little however many services are modelled.
  void publish();

  // What kept running while no server watched: `instances` Ready instances of `version` taking
  // all of `service`'s traffic, as the serving record of `environment` says. The simulated
  // world is a model of a cluster that outlives its controller; it lives in memory, so a server
  // that starts (a restart, a new leader) puts back what its store says serves before the
  // controller recovers live deployments. Does nothing when the service already runs a version.
  Result<void> restoreServing(const config::Environment& environment,
                              const config::Service& service, std::string_view version,
                              int instances);

  // The traffic `version` of `service` served in [from, to) (to is clipped at now).
  analysis::TrafficSnapshot snapshot(std::string_view environment, std::string_view service,
                                     std::string_view version, TimePoint from, TimePoint to) const;

  // Runtime
  Result<void> startVersion(const config::Environment& environment, const config::Service& service,
                            std::string_view version, int instances,
                            const std::map<std::string, std::string>& artifacts) override;
  Result<void> setTraffic(std::string_view environment, std::string_view service,
                          const TrafficSplit& split) override;
  Result<TrafficSplit> traffic(std::string_view environment,
                               std::string_view service) const override;
  Result<void> scale(std::string_view environment, std::string_view service,
                     std::string_view version, int instances) override;
  Result<std::vector<InstanceInfo>> instances(std::string_view environment,
                                              std::string_view service) const override;
  Result<VersionStatus> versionStatus(std::string_view environment, std::string_view service,
                                      std::string_view version) const override;
  Result<void> retireVersion(std::string_view environment, std::string_view service,
                             std::string_view version, Duration grace) override;
  Result<std::vector<VersionStatistics>> statistics(std::string_view environment,
                                                    std::string_view service,
                                                    Duration window) override;
  Result<void> retainOnly(std::string_view environment,
                          const std::vector<std::pair<std::string, std::string>>& keep,
                          Duration grace) override;
  Result<void> stopAll(Duration grace) override;
  void setEventHandler(EventHandler handler) override;

 private:
  struct Version {
    std::vector<TimePoint> started;  // per instance
    std::vector<bool> announced;     // InstanceReady delivered
    bool ready_announced = false;    // VersionReady delivered
  };
  struct Split {
    TimePoint from;
    std::map<std::string, int> weights;  // per-mille
  };
  struct ServiceWorld {
    config::SimulatedRuntime model;
    std::map<std::string, Version, std::less<>> versions;
    TrafficSplit split;
    std::vector<Split> history;  // every split in force, oldest first
  };
  using Key = std::pair<std::string, std::string>;  // environment, service

  Result<void> resize(ServiceWorld& world, const Key& key, const std::string& version,
                      int instances, TimePoint now, std::vector<RuntimeEvent>& events);
  void collectReady(TimePoint now, std::vector<RuntimeEvent>& events);  // every service
  // `next_ready` receives the earliest time an instance of the service is still to become Ready.
  void collectReady(const Key& key, ServiceWorld& world, TimePoint now,
                    std::vector<RuntimeEvent>& events,
                    std::optional<TimePoint>* next_ready = nullptr);
  void deliver(const std::vector<RuntimeEvent>& events) const;
  double requests(const ServiceWorld& world, const std::string& version, TimePoint from,
                  TimePoint to) const;

  SimulatedRuntimeOptions options_;
  mutable std::mutex mu_;
  std::map<Key, ServiceWorld> world_;
  // When services have an instance due to become Ready (publish()); an entry may be stale (the
  // version retired meanwhile): publish() then finds nothing to announce.
  std::multimap<TimePoint, Key> pending_ready_;
  EventHandler handler_;
};

// The statistics analysis reads (the builtin provider) for `environment`: the model's.
std::shared_ptr<analysis::TrafficStatistics> simulatedTrafficStatistics(
    std::shared_ptr<const SimulatedRuntime> runtime, std::string environment);

}  // namespace runway::runtime
