#pragma once

// An in-memory runtime::Runtime: a simulated world of versions and traffic splits per
// (environment, service). Every instance is Ready as soon as its version starts (unless the
// version is listed in `never_ready`). It outlives the controllers a test builds on it, as real
// processes outlive `runway serve`. Every effect (start, scale, split, retire) is appended to
// `journal()`, and `on_effect` (if set) is called before it takes effect: a test can count
// effects, check an order, or throw to "crash" the controller at that point (the effect is
// then not applied). Thread-safe.

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "runway/runtime/runtime.hpp"

namespace runway::testing {

class FakeRuntime final : public runtime::Runtime {
 public:
  struct Effect {
    std::string kind;  // "start", "traffic", "retire"
    std::string environment;
    std::string service;
    std::string detail;  // start: "v2 x2"; traffic: "v1=900,v2=100"; retire: "v2"
  };

  // Called before every effect, with the effect; may throw (the effect is not applied).
  std::function<void(const Effect&)> on_effect;
  // Versions whose instances never become ready (a build that does not start).
  std::set<std::string> never_ready;
  // The same for one service's instances only: {service, version}.
  std::set<std::pair<std::string, std::string>> never_ready_in;
  // From now on, starts of `version` are refused with `error` (an unusable TLS pair, a command
  // the runtime cannot find: InvalidArgument; a runtime that cannot be reached: Unavailable).
  void refuseStart(const std::string& version, Error error) {
    std::lock_guard lock(mu_);
    refuse_start_[version] = std::move(error);
  }
  void allowStart(const std::string& version) {
    std::lock_guard lock(mu_);
    refuse_start_.erase(version);
  }
  // What statistics() answers (none when unset).
  std::function<Result<std::vector<runtime::VersionStatistics>>(std::string_view, std::string_view, Duration)>
      on_statistics;

  // runtime::Runtime
  Result<void> startVersion(const config::Environment& environment, const config::Service& service,
                            std::string_view version, int instances,
                            const std::map<std::string, std::string>& artifacts) override {
    Effect e{"start", environment.name, service.name, fmt::format("{} x{}", version, instances)};
    effect(e);
    std::lock_guard lock(mu_);
    if (const auto refused = refuse_start_.find(std::string(version)); refused != refuse_start_.end()) {
      return tl::unexpected(refused->second);
    }
    auto& svc = world_[{environment.name, service.name}];
    svc.versions[std::string(version)] = instances;
    svc.artifacts[std::string(version)] = artifacts;
    svc.commands[std::string(version)] = service.local ? service.local->command : std::vector<std::string>{};
    journal_.push_back(std::move(e));
    return {};
  }

  Result<void> setTraffic(std::string_view environment, std::string_view service,
                          const runtime::TrafficSplit& split) override {
    std::string detail;
    for (const auto& [v, w] : split.weights) detail += fmt::format("{}{}={}", detail.empty() ? "" : ",", v, w);
    Effect e{"traffic", std::string(environment), std::string(service), detail};
    {
      std::lock_guard lock(mu_);
      auto it = world_.find({std::string(environment), std::string(service)});
      int sum = 0;
      for (const auto& [v, w] : split.weights) {
        if (it == world_.end() || it->second.versions.count(v) == 0) {
          return fail(ErrorCode::NotFound, fmt::format("{} {} is not started", service, v));
        }
        sum += w;
      }
      if (!split.weights.empty() && sum != 1000) return fail(ErrorCode::InvalidArgument, "weights do not sum to 1000");
    }
    effect(e);
    std::lock_guard lock(mu_);
    world_[{std::string(environment), std::string(service)}].split = split;
    journal_.push_back(std::move(e));
    return {};
  }

  Result<runtime::TrafficSplit> traffic(std::string_view environment, std::string_view service) const override {
    std::lock_guard lock(mu_);
    auto it = world_.find({std::string(environment), std::string(service)});
    if (it == world_.end()) return fail(ErrorCode::NotFound, "no such service");
    return it->second.split;
  }

  Result<void> scale(std::string_view environment, std::string_view service, std::string_view version,
                     int instances) override {
    std::lock_guard lock(mu_);
    auto it = world_.find({std::string(environment), std::string(service)});
    if (it == world_.end() || it->second.versions.count(std::string(version)) == 0) {
      return fail(ErrorCode::NotFound, "not started");
    }
    it->second.versions[std::string(version)] = instances;
    return {};
  }

  Result<std::vector<runtime::InstanceInfo>> instances(std::string_view environment,
                                                       std::string_view service) const override {
    std::lock_guard lock(mu_);
    std::vector<runtime::InstanceInfo> out;
    for (const auto& [key, svc] : world_) {
      if (key.first != environment || (!service.empty() && key.second != service)) continue;
      for (const auto& [version, count] : svc.versions) {
        for (int i = 0; i < count; ++i) {
          runtime::InstanceInfo info;
          info.environment = key.first;
          info.service = key.second;
          info.version = version;
          info.index = i;
          info.state = neverReady(key.second, version) ? runtime::InstanceState::Starting
                                                       : runtime::InstanceState::Ready;
          out.push_back(std::move(info));
        }
      }
    }
    return out;
  }

  Result<runtime::VersionStatus> versionStatus(std::string_view environment, std::string_view service,
                                               std::string_view version) const override {
    std::lock_guard lock(mu_);
    auto it = world_.find({std::string(environment), std::string(service)});
    if (it == world_.end() || it->second.versions.count(std::string(version)) == 0) {
      return fail(ErrorCode::NotFound, "not started");
    }
    runtime::VersionStatus s;
    s.environment = std::string(environment);
    s.service = std::string(service);
    s.version = std::string(version);
    s.desired = it->second.versions.at(std::string(version));
    s.ready = neverReady(s.service, s.version) ? 0 : s.desired;
    s.state = s.ready == s.desired ? runtime::VersionState::Ready : runtime::VersionState::Progressing;
    return s;
  }

  Result<void> retireVersion(std::string_view environment, std::string_view service, std::string_view version,
                             Duration) override {
    Effect e{"retire", std::string(environment), std::string(service), std::string(version)};
    {
      std::lock_guard lock(mu_);
      auto it = world_.find({std::string(environment), std::string(service)});
      if (it == world_.end() || it->second.versions.count(std::string(version)) == 0) return {};
      if (it->second.split.weights.count(std::string(version)) != 0) {
        return fail(ErrorCode::FailedPrecondition, fmt::format("{} {} still takes traffic", service, version));
      }
    }
    effect(e);
    std::lock_guard lock(mu_);
    world_[{std::string(environment), std::string(service)}].versions.erase(std::string(version));
    journal_.push_back(std::move(e));
    return {};
  }

  Result<void> retainOnly(std::string_view environment,
                          const std::vector<std::pair<std::string, std::string>>& keep,
                          Duration grace) override {
    std::vector<std::pair<std::string, std::string>> leftovers;
    {
      std::lock_guard lock(mu_);
      for (const auto& [key, world] : world_) {
        if (key.first != environment) continue;
        for (const auto& [version, count] : world.versions) {
          (void)count;
          const std::pair<std::string, std::string> sv{key.second, version};
          if (std::find(keep.begin(), keep.end(), sv) == keep.end()) leftovers.push_back(sv);
        }
      }
    }
    for (const auto& [service, version] : leftovers) {
      if (auto r = retireVersion(environment, service, version, grace); !r) return r;
    }
    return {};
  }

  Result<std::vector<runtime::VersionStatistics>> statistics(std::string_view environment, std::string_view service,
                                                             Duration window) override {
    if (on_statistics) return on_statistics(environment, service, window);
    return std::vector<runtime::VersionStatistics>{};
  }
  Result<void> stopAll(Duration) override {
    std::lock_guard lock(mu_);
    world_.clear();
    return {};
  }
  void setEventHandler(runtime::EventHandler) override {}

  // Observation ---------------------------------------------------------------------------

  // The version taking all traffic of a service ("" when none or split).
  std::string serving(const std::string& environment, const std::string& service) const {
    std::lock_guard lock(mu_);
    auto it = world_.find({environment, service});
    if (it == world_.end()) return {};
    for (const auto& [v, w] : it->second.split.weights) {
      if (w == 1000) return v;
    }
    return {};
  }
  // Versions running for a service.
  std::vector<std::string> running(const std::string& environment, const std::string& service) const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    auto it = world_.find({environment, service});
    if (it == world_.end()) return out;
    for (const auto& [v, n] : it->second.versions) out.push_back(v);
    return out;
  }
  // The command a version was started with.
  std::vector<std::string> command(const std::string& environment, const std::string& service,
                                   const std::string& version) const {
    std::lock_guard lock(mu_);
    auto it = world_.find({environment, service});
    if (it == world_.end() || it->second.commands.count(version) == 0) return {};
    return it->second.commands.at(version);
  }
  std::vector<Effect> journal() const {
    std::lock_guard lock(mu_);
    return journal_;
  }

 private:
  bool neverReady(const std::string& service, const std::string& version) const {
    return never_ready.count(version) != 0 || never_ready_in.count({service, version}) != 0;
  }
  struct ServiceWorld {
    std::map<std::string, int> versions;  // version -> instances
    std::map<std::string, std::map<std::string, std::string>> artifacts;
    std::map<std::string, std::vector<std::string>> commands;
    runtime::TrafficSplit split;
  };

  void effect(const Effect& e) {
    if (on_effect) on_effect(e);
  }

  mutable std::mutex mu_;
  std::map<std::string, Error> refuse_start_;
  std::map<std::pair<std::string, std::string>, ServiceWorld> world_;
  std::vector<Effect> journal_;
};

}  // namespace runway::testing
