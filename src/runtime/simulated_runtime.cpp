#include "runway/runtime/simulated_runtime.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>

#include <fmt/format.h>

#include "runway/runtime/local_runtime.hpp"  // validateVersionName

namespace runway::runtime {
namespace {

using std::chrono::duration_cast;

constexpr int kMaxInstances = 1000;

// FNV-1a, then a splitmix64 finaliser: stable across platforms and runs, unlike std::hash.
std::uint64_t mix(std::uint64_t h, std::string_view text) {
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  h ^= 0xff;  // separates "ab","c" from "a","bc"
  return h * 0x100000001b3ULL;
}

std::uint64_t finalise(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31U);
}

// A number in [0, 1) that depends only on its inputs.
double unit(std::uint64_t seed, std::string_view environment, std::string_view service,
            std::string_view version, std::int64_t minute, std::string_view what) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ finalise(seed);
  h = mix(h, environment);
  h = mix(h, service);
  h = mix(h, version);
  h = mix(h, what);
  h = finalise(h ^ static_cast<std::uint64_t>(minute));
  return static_cast<double>(h >> 11U) / static_cast<double>(1ULL << 53U);
}

Error notFound(std::string_view environment, std::string_view service, std::string_view version) {
  return Error{ErrorCode::NotFound,
               fmt::format("{} {} is not started in {}", service, version, environment)};
}

class ModelStatistics final : public analysis::TrafficStatistics {
 public:
  ModelStatistics(std::shared_ptr<const SimulatedRuntime> runtime, std::string environment)
      : runtime_(std::move(runtime)), environment_(std::move(environment)) {}

  // analysis::TrafficStatistics
  Result<analysis::TrafficSnapshot> snapshot(const std::string& service, const std::string& version,
                                             TimePoint from, TimePoint to) const override {
    return runtime_->snapshot(environment_, service, version, from, to);
  }

 private:
  std::shared_ptr<const SimulatedRuntime> runtime_;
  std::string environment_;
};

}  // namespace

SimulatedRuntime::SimulatedRuntime(SimulatedRuntimeOptions options) : options_(std::move(options)) {
  RUNWAY_ASSERT(options_.clock != nullptr);
}

const config::SimulatedRuntime& SimulatedRuntime::modelOf(
    const config::Environment& environment) const {
  return environment.runtime.kind == config::RuntimeSpec::Kind::Simulated
             ? environment.runtime.simulated
             : options_.model;
}

std::optional<TimePoint> SimulatedRuntime::nextChange() const {
  std::lock_guard lock(mu_);
  const TimePoint now = options_.clock->now();
  std::optional<TimePoint> next;
  for (const auto& [key, world] : world_) {
    for (const auto& [name, v] : world.versions) {
      for (const auto& started : v.started) {
        const TimePoint ready = started + world.model.ready_after;
        if (ready > now && (!next || ready < *next)) next = ready;
      }
    }
  }
  return next;
}

void SimulatedRuntime::publish() {
  std::vector<RuntimeEvent> events;
  {
    std::lock_guard lock(mu_);
    const TimePoint now = options_.clock->now();
    std::set<Key> due;
    while (!pending_ready_.empty() && pending_ready_.begin()->first <= now) {
      due.insert(std::move(pending_ready_.begin()->second));
      pending_ready_.erase(pending_ready_.begin());
    }
    for (const auto& key : due) {
      auto it = world_.find(key);
      if (it == world_.end()) continue;
      std::optional<TimePoint> next;
      collectReady(key, it->second, now, events, &next);
      // Still starting (the model's readyAfter changed since): looked at again then.
      if (next) pending_ready_.emplace(*next, key);
    }
  }
  deliver(events);
}

void SimulatedRuntime::collectReady(TimePoint now, std::vector<RuntimeEvent>& events) {
  for (auto& [key, world] : world_) collectReady(key, world, now, events);
}

void SimulatedRuntime::collectReady(const Key& key, ServiceWorld& world, TimePoint now,
                                    std::vector<RuntimeEvent>& events,
                                    std::optional<TimePoint>* next_ready) {
  {
    for (auto& [name, v] : world.versions) {
      bool all = true;
      for (std::size_t i = 0; i < v.started.size(); ++i) {
        const TimePoint ready = v.started[i] + world.model.ready_after;
        if (ready > now) {
          all = false;
          if (next_ready != nullptr && (!*next_ready || ready < **next_ready)) *next_ready = ready;
          continue;
        }
        if (!v.announced[i]) {
          v.announced[i] = true;
          events.push_back(RuntimeEvent{RuntimeEvent::Kind::InstanceReady, key.first, key.second,
                                        name, static_cast<int>(i), "ready (simulated)", ready});
        }
      }
      if (all && !v.ready_announced) {
        v.ready_announced = true;
        events.push_back(RuntimeEvent{
            RuntimeEvent::Kind::VersionReady, key.first, key.second, name, -1,
            fmt::format("{} instance{} ready", v.started.size(), v.started.size() == 1 ? "" : "s"),
            now});
      }
    }
  }
}

void SimulatedRuntime::deliver(const std::vector<RuntimeEvent>& events) const {
  if (events.empty()) return;
  EventHandler handler;
  {
    std::lock_guard lock(mu_);
    handler = handler_;
  }
  if (!handler) return;
  for (const auto& e : events) handler(e);
}

Result<void> SimulatedRuntime::resize(ServiceWorld& world, const Key& key,
                                      const std::string& version, int instances, TimePoint now,
                                      std::vector<RuntimeEvent>& events) {
  auto& v = world.versions[version];
  const auto want = static_cast<std::size_t>(instances);
  if (want < v.started.size()) {
    for (std::size_t i = want; i < v.started.size(); ++i) {
      events.push_back(RuntimeEvent{RuntimeEvent::Kind::InstanceStopped, key.first, key.second,
                                    version, static_cast<int>(i), "scaled down", now});
    }
    v.started.resize(want);
    v.announced.resize(want);
  }
  while (v.started.size() < want) {
    events.push_back(RuntimeEvent{RuntimeEvent::Kind::InstanceStarted, key.first, key.second,
                                  version, static_cast<int>(v.started.size()),
                                  "started (simulated)", now});
    v.started.push_back(now);
    v.announced.push_back(false);
    v.ready_announced = false;
    pending_ready_.emplace(now + world.model.ready_after, key);
  }
  return {};
}

Result<void> SimulatedRuntime::startVersion(const config::Environment& environment,
                                            const config::Service& service,
                                            std::string_view version, int instances,
                                            const std::map<std::string, std::string>& artifacts) {
  (void)artifacts;  // nothing is fetched or run
  if (auto valid = validateVersionName(version); !valid) return valid;
  if (instances < 0 || instances > kMaxInstances) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("instance count {} is outside 0..{}", instances, kMaxInstances));
  }
  std::vector<RuntimeEvent> events;
  {
    std::lock_guard lock(mu_);
    const TimePoint now = options_.clock->now();
    const Key key{environment.name, service.name};
    auto& world = world_[key];
    world.model = modelOf(environment);
    if (auto r = resize(world, key, std::string(version), instances, now, events); !r) return r;
    collectReady(key, world, now, events);
  }
  deliver(events);
  return {};
}

Result<void> SimulatedRuntime::restoreServing(const config::Environment& environment,
                                              const config::Service& service,
                                              std::string_view version, int instances) {
  if (auto valid = validateVersionName(version); !valid) return valid;
  if (instances < 1 || instances > kMaxInstances) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("instance count {} is outside 1..{}", instances, kMaxInstances));
  }
  std::lock_guard lock(mu_);
  const Key key{environment.name, service.name};
  auto& world = world_[key];
  if (!world.versions.empty()) return {};
  world.model = modelOf(environment);
  const TimePoint now = options_.clock->now();
  auto& v = world.versions[std::string(version)];
  // Started long enough ago to be Ready now; announced, as a server that was running saw it.
  v.started.assign(static_cast<std::size_t>(instances), now - world.model.ready_after);
  v.announced.assign(static_cast<std::size_t>(instances), true);
  v.ready_announced = true;
  world.split = TrafficSplit{};
  world.split.weights[std::string(version)] = 1000;
  world.history.push_back(Split{now, world.split.weights});
  return {};
}

Result<void> SimulatedRuntime::setTraffic(std::string_view environment, std::string_view service,
                                          const TrafficSplit& split) {
  std::lock_guard lock(mu_);
  auto it = world_.find(Key{environment, service});
  int sum = 0;
  for (const auto& [version, weight] : split.weights) {
    if (it == world_.end() || it->second.versions.count(version) == 0) {
      return tl::unexpected(notFound(environment, service, version));
    }
    if (weight < 0 || weight > 1000) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("weight {} of {} is outside 0..1000", weight, version));
    }
    sum += weight;
  }
  if (!split.weights.empty() && sum != 1000) {
    return fail(ErrorCode::InvalidArgument, fmt::format("the weights sum to {}, not 1000", sum));
  }
  for (const auto& route : split.routes) {
    if (route.header.empty() == route.cookie.empty()) {
      return fail(ErrorCode::InvalidArgument,
                  "a route matches exactly one of a header or a cookie");
    }
    if (it == world_.end() || it->second.versions.count(route.version) == 0) {
      return tl::unexpected(notFound(environment, service, route.version));
    }
  }
  auto& world = it->second;
  if (world.split == split) return {};
  world.split = split;
  const TimePoint now = options_.clock->now();
  if (!world.history.empty() && world.history.back().from == now) {
    world.history.back().weights = split.weights;
  } else {
    world.history.push_back(Split{now, split.weights});
  }
  return {};
}

Result<TrafficSplit> SimulatedRuntime::traffic(std::string_view environment,
                                               std::string_view service) const {
  std::lock_guard lock(mu_);
  auto it = world_.find(Key{environment, service});
  if (it == world_.end())
    return fail(ErrorCode::NotFound, fmt::format("{} runs nothing in {}", service, environment));
  return it->second.split;
}

Result<void> SimulatedRuntime::scale(std::string_view environment, std::string_view service,
                                     std::string_view version, int instances) {
  if (instances < 0 || instances > kMaxInstances) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("instance count {} is outside 0..{}", instances, kMaxInstances));
  }
  std::vector<RuntimeEvent> events;
  {
    std::lock_guard lock(mu_);
    const Key key{environment, service};
    auto it = world_.find(key);
    if (it == world_.end() || it->second.versions.count(version) == 0) {
      return tl::unexpected(notFound(environment, service, version));
    }
    const TimePoint now = options_.clock->now();
    if (auto r = resize(it->second, key, std::string(version), instances, now, events); !r)
      return r;
    collectReady(key, it->second, now, events);
  }
  deliver(events);
  return {};
}

Result<std::vector<InstanceInfo>> SimulatedRuntime::instances(std::string_view environment,
                                                              std::string_view service) const {
  std::lock_guard lock(mu_);
  const TimePoint now = options_.clock->now();
  std::vector<InstanceInfo> out;
  // The environment's services are adjacent in the map (ordered by environment, then service).
  for (auto it = world_.lower_bound(Key{environment, service});
       it != world_.end() && it->first.first == environment; ++it) {
    const auto& [key, world] = *it;
    if (!service.empty() && key.second != service) break;
    for (const auto& [version, v] : world.versions) {
      for (std::size_t i = 0; i < v.started.size(); ++i) {
        InstanceInfo info;
        info.environment = key.first;
        info.service = key.second;
        info.version = version;
        info.index = static_cast<int>(i);
        info.state = v.started[i] + world.model.ready_after <= now ? InstanceState::Ready
                                                                   : InstanceState::Starting;
        info.started_at = v.started[i];
        out.push_back(std::move(info));
      }
    }
  }
  return out;
}

Result<VersionStatus> SimulatedRuntime::versionStatus(std::string_view environment,
                                                      std::string_view service,
                                                      std::string_view version) const {
  std::lock_guard lock(mu_);
  auto it = world_.find(Key{environment, service});
  if (it == world_.end()) return tl::unexpected(notFound(environment, service, version));
  auto v = it->second.versions.find(std::string(version));
  if (v == it->second.versions.end())
    return tl::unexpected(notFound(environment, service, version));
  const TimePoint now = options_.clock->now();
  VersionStatus status;
  status.environment = std::string(environment);
  status.service = std::string(service);
  status.version = std::string(version);
  status.desired = static_cast<int>(v->second.started.size());
  for (const auto& started : v->second.started) {
    if (started + it->second.model.ready_after <= now) ++status.ready;
  }
  status.state = status.ready == status.desired ? VersionState::Ready : VersionState::Progressing;
  return status;
}

Result<void> SimulatedRuntime::retireVersion(std::string_view environment, std::string_view service,
                                             std::string_view version, Duration grace) {
  (void)grace;  // nothing to drain
  std::vector<RuntimeEvent> events;
  {
    std::lock_guard lock(mu_);
    auto it = world_.find(Key{environment, service});
    if (it == world_.end() || it->second.versions.count(version) == 0) return {};
    const auto& split = it->second.split;
    auto w = split.weights.find(std::string(version));
    const bool routed = std::any_of(split.routes.begin(), split.routes.end(),
                                    [&](const TrafficRoute& r) { return r.version == version; });
    if ((w != split.weights.end() && w->second > 0) || routed) {
      return fail(ErrorCode::FailedPrecondition,
                  fmt::format("{} {} still takes traffic in {}: move traffic off it first", service,
                              version, environment));
    }
    it->second.versions.erase(std::string(version));
    events.push_back(RuntimeEvent{RuntimeEvent::Kind::VersionRetired, std::string(environment),
                                  std::string(service), std::string(version), -1,
                                  "retired (simulated)", options_.clock->now()});
  }
  deliver(events);
  return {};
}

Result<void> SimulatedRuntime::retainOnly(
    std::string_view environment, const std::vector<std::pair<std::string, std::string>>& keep,
    Duration grace) {
  std::vector<std::pair<std::string, std::string>> leftovers;
  {
    std::lock_guard lock(mu_);
    for (auto it = world_.lower_bound(Key{environment, ""});
         it != world_.end() && it->first.first == environment; ++it) {
      const auto& [key, world] = *it;
      for (const auto& [version, v] : world.versions) {
        if (std::find(keep.begin(), keep.end(), std::make_pair(key.second, version)) ==
            keep.end()) {
          leftovers.emplace_back(key.second, version);
        }
      }
    }
  }
  for (const auto& [service, version] : leftovers) {
    if (auto r = retireVersion(environment, service, version, grace); !r) return r;
  }
  return {};
}

Result<void> SimulatedRuntime::stopAll(Duration grace) {
  (void)grace;
  std::lock_guard lock(mu_);
  world_.clear();
  pending_ready_.clear();
  return {};
}

void SimulatedRuntime::setEventHandler(EventHandler handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
}

double SimulatedRuntime::requests(const ServiceWorld& world, const std::string& version,
                                  TimePoint from, TimePoint to) const {
  double total = 0;
  for (std::size_t i = 0; i < world.history.size(); ++i) {
    const TimePoint begin = std::max(from, world.history[i].from);
    const TimePoint end =
        i + 1 < world.history.size() ? std::min(to, world.history[i + 1].from) : to;
    if (end <= begin) continue;
    auto w = world.history[i].weights.find(version);
    if (w == world.history[i].weights.end()) continue;
    const double seconds = duration_cast<std::chrono::duration<double>>(end - begin).count();
    total += world.model.requests_per_second * (w->second / 1000.0) * seconds;
  }
  return total;
}

analysis::TrafficSnapshot SimulatedRuntime::snapshot(std::string_view environment,
                                                     std::string_view service,
                                                     std::string_view version, TimePoint from,
                                                     TimePoint to) const {
  std::lock_guard lock(mu_);
  analysis::TrafficSnapshot snap;
  const TimePoint now = options_.clock->now();
  if (to > now) to = now;
  if (from >= to) return snap;
  snap.covered = to - from;
  auto it = world_.find(Key{environment, service});
  if (it == world_.end()) return snap;
  const auto& world = it->second;
  const std::string v(version);
  const auto count = static_cast<std::uint64_t>(std::floor(requests(world, v, from, to)));
  if (count == 0) return snap;
  const SimulatedFault* fault = nullptr;
  if (auto f = options_.faults.find(v); f != options_.faults.end()) {
    const auto& envs = f->second.environments;
    if (envs.empty() || std::find(envs.begin(), envs.end(), environment) != envs.end())
      fault = &f->second;
  }
  const double error_rate =
      fault != nullptr && fault->error_rate ? *fault->error_rate : world.model.error_rate;
  const Duration p95 =
      fault != nullptr && fault->latency_p95 ? *fault->latency_p95 : world.model.latency_p95;
  const auto minute = std::chrono::floor<std::chrono::minutes>(to.time_since_epoch()).count();
  const double error_noise =
      0.8 + 0.4 * unit(world.model.seed, environment, service, v, minute, "errors");
  const double latency_noise =
      0.9 + 0.2 * unit(world.model.seed, environment, service, v, minute, "latency");
  const auto errors = std::min(count, static_cast<std::uint64_t>(std::llround(
                                          static_cast<double>(count) * error_rate * error_noise)));
  snap.requests = count;
  snap.responses_by_class[1] = count - errors;
  snap.responses_by_class[4] = errors;
  const double p95_seconds =
      duration_cast<std::chrono::duration<double>>(p95).count() * latency_noise;
  snap.quantiles =
      analysis::TrafficSnapshot::Quantiles{p95_seconds * 0.4, p95_seconds, p95_seconds * 1.5};
  return snap;
}

std::shared_ptr<analysis::TrafficStatistics> simulatedTrafficStatistics(
    std::shared_ptr<const SimulatedRuntime> runtime, std::string environment) {
  return std::make_shared<ModelStatistics>(std::move(runtime), std::move(environment));
}

Result<std::vector<VersionStatistics>> SimulatedRuntime::statistics(std::string_view environment,
                                                                    std::string_view service,
                                                                    Duration window) {
  std::vector<std::string> versions;
  {
    std::lock_guard lock(mu_);
    auto it = world_.find(Key{environment, service});
    if (it == world_.end())
      return fail(ErrorCode::NotFound, fmt::format("{} runs nothing in {}", service, environment));
    for (const auto& [version, v] : it->second.versions) versions.push_back(version);
  }
  const TimePoint now = options_.clock->now();
  std::vector<VersionStatistics> out;
  for (const auto& version : versions) {
    const auto snap = snapshot(environment, service, version, now - window, now);
    VersionStatistics s;
    s.version = version;
    s.requests = snap.requests;
    s.responses_2xx = snap.responses_by_class[1];
    s.responses_5xx = snap.responses_by_class[4];
    if (snap.quantiles) {
      s.latency_p50_ms = snap.quantiles->p50 * 1000;
      s.latency_p95_ms = snap.quantiles->p95 * 1000;
      s.latency_p99_ms = snap.quantiles->p99 * 1000;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace runway::runtime
