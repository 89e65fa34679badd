#include "runway/runtime/dispatching_runtime.hpp"

#include <algorithm>

#include "runway/core/error.hpp"

namespace runway::runtime {

DispatchingRuntime::DispatchingRuntime(std::shared_ptr<Runtime> local,
                                       std::shared_ptr<Runtime> kubernetes,
                                       std::set<std::string> kubernetes_environments)
    : fallback_(std::move(local)) {
  RUNWAY_ASSERT(fallback_ != nullptr);
  RUNWAY_ASSERT(kubernetes != nullptr || kubernetes_environments.empty());
  for (const auto& env : kubernetes_environments) by_environment_.emplace(env, kubernetes);
}

DispatchingRuntime::DispatchingRuntime(std::shared_ptr<Runtime> fallback,
                                       std::map<std::string, std::shared_ptr<Runtime>> by_environment)
    : fallback_(std::move(fallback)), by_environment_(std::move(by_environment)) {
  RUNWAY_ASSERT(fallback_ != nullptr);
  for (const auto& [env, rt] : by_environment_) RUNWAY_ASSERT(rt != nullptr);
}

Runtime& DispatchingRuntime::runtimeOf(std::string_view environment) const {
  if (auto it = by_environment_.find(std::string(environment)); it != by_environment_.end()) return *it->second;
  return *fallback_;
}

std::vector<std::shared_ptr<Runtime>> DispatchingRuntime::runtimes() const {
  std::vector<std::shared_ptr<Runtime>> out{fallback_};
  for (const auto& [env, rt] : by_environment_) {
    if (std::find(out.begin(), out.end(), rt) == out.end()) out.push_back(rt);
  }
  return out;
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
  Result<void> first;
  for (const auto& rt : runtimes()) {
    auto r = rt->stopAll(grace);
    if (!r && first) first = r;
  }
  return first;
}

void DispatchingRuntime::setEventHandler(EventHandler handler) {
  for (const auto& rt : runtimes()) rt->setEventHandler(handler);
}

}  // namespace runway::runtime
