#pragma once

// One Runtime in front of several: every operation goes to the runtime of the environment it
// names (each Runtime call names one), so the controller drives local, Kubernetes and simulated
// environments through one interface without knowing which is which.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "runway/runtime/runtime.hpp"

namespace runway::runtime {

class DispatchingRuntime final : public Runtime {
 public:
  // Environments in `kubernetes_environments` go to `kubernetes`, every other one to `local`.
  // REQUIRES: `local` is not null; `kubernetes` is not null when the set is not empty.
  DispatchingRuntime(std::shared_ptr<Runtime> local, std::shared_ptr<Runtime> kubernetes,
                     std::set<std::string> kubernetes_environments);
  // Environments named in `by_environment` go to their runtime, every other one to `fallback`.
  // REQUIRES: `fallback` and every mapped runtime are not null.
  DispatchingRuntime(std::shared_ptr<Runtime> fallback,
                     std::map<std::string, std::shared_ptr<Runtime>> by_environment);

  // The runtime an environment's operations go to.
  Runtime& runtimeOf(std::string_view environment) const;

  // Runtime
  Result<void> startVersion(const config::Environment& environment, const config::Service& service,
                            std::string_view version, int instances,
                            const std::map<std::string, std::string>& artifacts) override;
  Result<void> startVersionFor(std::string_view deployment_id,
                               const config::Environment& environment,
                               const config::Service& service, std::string_view version,
                               int instances,
                               const std::map<std::string, std::string>& artifacts) override;
  Result<void> setTraffic(std::string_view environment, std::string_view service,
                          const TrafficSplit& split) override;
  Result<TrafficSplit> traffic(std::string_view environment,
                               std::string_view service) const override;
  Result<std::string> serviceAddress(std::string_view environment,
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
  std::optional<std::string> instanceLogPath(std::string_view environment,
                                             std::string_view service, std::string_view version,
                                             int index) const override;
  Result<void> readInstanceLog(std::string_view environment, std::string_view service,
                               std::string_view instance, const LogOptions& options,
                               const std::function<bool(std::string_view)>& on_data,
                               std::stop_token stop) override;
  // Stops everything every runtime runs; the first error wins, after all were asked.
  Result<void> stopAll(Duration grace) override;
  void setEventHandler(EventHandler handler) override;

 private:
  // Each distinct runtime once, the fallback first.
  std::vector<std::shared_ptr<Runtime>> runtimes() const;

  std::shared_ptr<Runtime> fallback_;
  std::map<std::string, std::shared_ptr<Runtime>> by_environment_;
};

}  // namespace runway::runtime
