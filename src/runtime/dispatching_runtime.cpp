#include "runway/runtime/dispatching_runtime.hpp"

#include "runway/core/error.hpp"

namespace runway::runtime {

DispatchingRuntime::DispatchingRuntime(std::shared_ptr<Runtime> local,
                                       std::shared_ptr<Runtime> kubernetes,
                                       std::set<std::string> kubernetes_environments)
    : local_(std::move(local)),
      kubernetes_(std::move(kubernetes)),
      kubernetes_environments_(std::move(kubernetes_environments)) {
  RUNWAY_ASSERT(local_ != nullptr);
  RUNWAY_ASSERT(kubernetes_ != nullptr || kubernetes_environments_.empty());
}

Runtime& DispatchingRuntime::runtimeOf(std::string_view environment) const {
  if (kubernetes_environments_.count(std::string(environment)) != 0) return *kubernetes_;
  return *local_;
}

Result<void> DispatchingRuntime::startVersion(const config::Environment& environment,
                                              const config::Service& service,
                                              std::string_view version, int instances,
                                              const std::map<std::string, std::string>& artifacts) {
  return runtimeOf(environment.name).startVersion(environment, service, version, instances, artifacts);
}

Result<void> DispatchingRuntime::startVersionFor(
    std::string_view deployment_id, const config::Environment& environment,
    const config::Service& service, std::string_view version, int instances,
    const std::map<std::string, std::string>& artifacts) {
  return runtimeOf(environment.name)
      .startVersionFor(deployment_id, environment, service, version, instances, artifacts);
}

Result<void> DispatchingRuntime::setTraffic(std::string_view environment, std::string_view service,
                                            const TrafficSplit& split) {
  return runtimeOf(environment).setTraffic(environment, service, split);
}

Result<TrafficSplit> DispatchingRuntime::traffic(std::string_view environment,
                                                 std::string_view service) const {
  return runtimeOf(environment).traffic(environment, service);
}

Result<std::string> DispatchingRuntime::serviceAddress(std::string_view environment,
                                                       std::string_view service) const {
  return runtimeOf(environment).serviceAddress(environment, service);
}

Result<void> DispatchingRuntime::scale(std::string_view environment, std::string_view service,
                                       std::string_view version, int instances) {
  return runtimeOf(environment).scale(environment, service, version, instances);
}

Result<std::vector<InstanceInfo>> DispatchingRuntime::instances(std::string_view environment,
                                                                std::string_view service) const {
  return runtimeOf(environment).instances(environment, service);
}

Result<VersionStatus> DispatchingRuntime::versionStatus(std::string_view environment,
                                                        std::string_view service,
                                                        std::string_view version) const {
  return runtimeOf(environment).versionStatus(environment, service, version);
}

Result<void> DispatchingRuntime::retireVersion(std::string_view environment,
                                               std::string_view service, std::string_view version,
                                               Duration grace) {
  return runtimeOf(environment).retireVersion(environment, service, version, grace);
}

Result<std::vector<VersionStatistics>> DispatchingRuntime::statistics(std::string_view environment,
                                                                      std::string_view service,
                                                                      Duration window) {
  return runtimeOf(environment).statistics(environment, service, window);
}

Result<void> DispatchingRuntime::retainOnly(
    std::string_view environment, const std::vector<std::pair<std::string, std::string>>& keep,
    Duration grace) {
  return runtimeOf(environment).retainOnly(environment, keep, grace);
}

std::optional<std::string> DispatchingRuntime::instanceLogPath(std::string_view environment,
                                                               std::string_view service,
                                                               std::string_view version,
                                                               int index) const {
  return runtimeOf(environment).instanceLogPath(environment, service, version, index);
}

Result<void> DispatchingRuntime::readInstanceLog(
    std::string_view environment, std::string_view service, std::string_view instance,
    const LogOptions& options, const std::function<bool(std::string_view)>& on_data,
    std::stop_token stop) {
  return runtimeOf(environment)
      .readInstanceLog(environment, service, instance, options, on_data, std::move(stop));
}

Result<void> DispatchingRuntime::stopAll(Duration grace) {
  auto local = local_->stopAll(grace);
  if (kubernetes_) {
    auto kubernetes = kubernetes_->stopAll(grace);
    if (!kubernetes) return kubernetes;
  }
  return local;
}

void DispatchingRuntime::setEventHandler(EventHandler handler) {
  if (kubernetes_) kubernetes_->setEventHandler(handler);
  local_->setEventHandler(std::move(handler));
}

}  // namespace runway::runtime
