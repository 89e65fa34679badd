#include "action_executor.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runway/runtime/runtime.hpp"

namespace runway::controller {
namespace {

const config::Service* serviceIn(const config::Config& cfg, const std::string& environment,
                                 const std::string& name) {
  const auto* env = cfg.findEnvironment(environment);
  if (env == nullptr) return nullptr;
  const auto* app = cfg.applicationFor(*env);
  if (app == nullptr) return nullptr;
  for (const auto& s : app->services) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

runtime::TrafficSplit toSplit(const engine::SetTraffic& t) {
  runtime::TrafficSplit split;
  for (const auto& w : t.weights) {
    if (w.weight > 0) split.weights[w.version] = w.weight * 10;
  }
  for (const auto& r : t.routes) {
    runtime::TrafficRoute route;
    route.header = r.route.header;
    route.cookie = r.route.cookie;
    route.match = static_cast<runtime::TrafficRoute::Match>(r.route.match);
    route.value = r.route.value;
    route.version = r.version;
    split.routes.push_back(std::move(route));
  }
  return split;
}

std::string hookKey(const std::string& id, const PersistedDeployment::HookIntent& h) {
  return fmt::format("{}/{}/{}", id, config::toString(h.point), h.attempt);
}

}  // namespace

ActionExecutor::ActionExecutor(std::shared_ptr<runtime::Runtime> runtime,
                               std::shared_ptr<LifecycleHooks> hooks,
                               std::shared_ptr<CheckRunner> checks, Scheduler& scheduler,
                               MetricsRecorder& metrics, Duration retire_grace)
    : runtime_(std::move(runtime)),
      hooks_(std::move(hooks)),
      checks_(std::move(checks)),
      scheduler_(scheduler),
      metrics_(metrics),
      retire_grace_(retire_grace) {}

bool ActionExecutor::startVersion(const LiveDeployment& d, const engine::StartVersion& a) {
  const auto& cfg = *d.config;
  const auto* env = cfg.findEnvironment(d.record.environment);
  const auto* svc = serviceIn(cfg, d.record.environment, a.service);
  if (env == nullptr || svc == nullptr) {
    metrics_.countFailure("startVersion");
    spdlog::error("deployment {}: service {} of {} is not in its configuration", d.record.id,
                  a.service, d.record.environment);
    return false;
  }
  // The release's artifacts belong to the deployment's own version; the stable version runs
  // as it was configured.
  std::map<std::string, std::string> artifacts;
  if (a.version == d.doc.state.version) {
    for (const auto& art : d.doc.state.artifacts) artifacts[art.service] = art.ref;
  }
  auto r = runtime_->startVersionFor(d.record.id, *env, *svc, a.version, a.instances, artifacts);
  const auto key = std::make_tuple(d.record.id, a.service, a.version);
  if (!r) {
    metrics_.countFailure("startVersion");
    spdlog::error("deployment {}: start {} {} x{}: {}", d.record.id, a.service, a.version,
                  a.instances, r.error().message);
    if (r.error().code == ErrorCode::InvalidArgument) refused_starts_[key] = r.error().message;
    return false;
  }
  refused_starts_.erase(key);
  return true;
}

ActionExecutor::Traffic ActionExecutor::setTraffic(const LiveDeployment& d, const engine::SetTraffic& a) {
  auto split = toSplit(a);
  // Sticky sessions are the environment's, for every split its deployments set.
  if (d.doc.state.spec && !d.doc.state.spec->sticky_cookie.empty()) {
    split.sticky_cookie = d.doc.state.spec->sticky_cookie;
    split.sticky_max_age = d.doc.state.spec->sticky_max_age;
  }
  // No weights at all withdraws the service's traffic (a first release rolled back: nothing
  // serves); zero weights alone mean nothing is routable yet, and change nothing.
  if (split.weights.empty() && !a.weights.empty()) return Traffic::Nothing;
  auto r = runtime_->setTraffic(d.record.environment, a.service, split);
  if (!r) {
    metrics_.countFailure("setTraffic");
    spdlog::error("deployment {}: traffic of {}: {}", d.record.id, a.service, r.error().message);
    return Traffic::Failed;
  }
  return Traffic::Applied;
}

std::vector<engine::SetTraffic> ActionExecutor::applyIntent(const LiveDeployment& d, bool& ok) {
  std::vector<engine::SetTraffic> applied;
  ok = true;
  for (const auto& s : d.doc.starts) ok = startVersion(d, s) && ok;
  if (trafficHeld(d.doc)) return applied;
  for (const auto& t : d.doc.traffic) {
    const auto outcome = setTraffic(d, t);
    if (outcome == Traffic::Applied) applied.push_back(t);
    if (outcome == Traffic::Failed) ok = false;
  }
  return applied;
}

Result<void> ActionExecutor::retire(const LiveDeployment& d, const engine::RetireVersion& r) {
  auto out = runtime_->retireVersion(d.record.environment, r.service, r.version, retire_grace_);
  if (!out) {
    metrics_.countFailure("retireVersion");
    spdlog::warn("deployment {}: retire {} {}: {}", d.record.id, r.service, r.version, out.error().message);
    return out;
  }
  spdlog::info("deployment {}: retiring {} {}", d.record.id, r.service, r.version);
  return {};
}

void ActionExecutor::retainOnly(const std::string& environment, const KeepList& keep) {
  if (auto r = runtime_->retainOnly(environment, keep, retire_grace_); !r) {
    spdlog::warn("environment {}: cleaning up unwanted versions: {}", environment, r.error().message);
  }
}

std::optional<engine::RuntimeReport> ActionExecutor::observe(const LiveDeployment& d,
                                                             const std::string& service,
                                                             const std::string& version,
                                                             int traffic_weight) {
  const auto refused = refused_starts_.find({d.record.id, service, version});
  auto instances = runtime_->instances(d.record.environment, service);
  // A service that runs nothing yet has no instances to list; a refused start is still news.
  if (!instances && refused == refused_starts_.end()) return std::nullopt;
  if (!instances) instances = std::vector<runtime::InstanceInfo>{};
  engine::RuntimeReport r;
  r.service = service;
  r.version = version;
  r.traffic_weight = traffic_weight;
  r.others = 0;
  const auto& state = d.doc.state;
  for (const auto& i : *instances) {
    if (i.version != state.version && i.version != state.stable_version &&
        i.state != runtime::InstanceState::Stopped) {
      r.others++;
    }
    if (i.version != version) continue;
    if (i.state == runtime::InstanceState::Ready) r.ready++;
    if (i.state == runtime::InstanceState::Failed) {
      r.failed++;
      if (r.failure_detail.empty()) r.failure_detail = i.diagnosis;
    }
  }
  if (refused != refused_starts_.end()) {
    r.failed = std::max(r.failed, 1);
    r.failure_detail = "the runtime refused to start it: " + refused->second;
  }
  return r;
}

void ActionExecutor::observeRunning(const std::string& environment,
                                    const engine::DeploymentSpec& spec, engine::Start& start) {
  bool target_up = !spec.services.empty();
  for (const auto& svc : spec.services) {
    auto instances = runtime_->instances(environment, svc.name);
    int ready = 0;
    int others = 0;
    if (instances) {
      for (const auto& i : *instances) {
        if (i.version == start.version) {
          if (i.state == runtime::InstanceState::Ready) ready++;
        } else if (i.version != start.stable_version && i.state != runtime::InstanceState::Stopped) {
          others++;
        }
      }
    }
    if (ready == 0) target_up = false;
    start.other_instances[svc.name] = others;
  }
  start.target_running = start.rollback && target_up;
}

void ActionExecutor::runChecks(const LiveDeployment& d, const engine::RunChecks& c,
                               std::function<void(engine::CheckResult)> done) {
  const std::string id = d.record.id;
  if (!checks_in_flight_.insert({id, c.run}).second) return;
  const std::string env = d.record.environment;
  auto cfg = d.config;
  auto checks = checks_;
  scheduler_.offload([this, id, env, c, cfg, checks, done = std::move(done)]() -> std::function<void()> {
    CheckOutcome out;
    if (checks) {
      out = checks->run(*cfg, env, c);
    } else {
      out.detail = "no check runner is configured";
    }
    return [this, id, c, out, done] {
      checks_in_flight_.erase({id, c.run});
      done(engine::CheckResult{c.run, out.passed, out.detail});
    };
  });
}

void ActionExecutor::forget(const std::string& id) {
  std::erase_if(checks_in_flight_, [&](const auto& k) { return k.first == id; });
  std::erase_if(refused_starts_, [&](const auto& k) { return std::get<0>(k.first) == id; });
}

void ActionExecutor::runHookIntents(
    const LiveDeployment& d,
    std::function<void(PersistedDeployment::HookIntent, HookResult)> done) {
  if (!hooks_) return;
  const std::string id = d.record.id;
  std::vector<PersistedDeployment::HookIntent> todo;
  for (const auto& h : d.doc.hooks) {
    if (hooks_in_flight_.insert(hookKey(id, h)).second) todo.push_back(h);
  }
  if (todo.empty()) return;
  auto cfg = d.config;
  auto hooks = hooks_;
  const std::string environment = d.record.environment;
  const std::string version = d.record.version;
  // One job runs them in order; each reports on the strand as soon as it has run.
  scheduler_.offload([this, id, cfg, hooks, environment, version, todo, done]() -> std::function<void()> {
    for (const auto& intent : todo) {
      HookResult result = hooks->run(*cfg, environment, intent.point, version);
      scheduler_.post([this, id, intent, result, done] {
        hooks_in_flight_.erase(hookKey(id, intent));
        done(intent, result);
      });
    }
    return nullptr;
  });
}

bool ActionExecutor::runStartHooks(const LiveDeployment& d,
                                   std::function<void(const HookResult&, config::HookPoint)> then) {
  const std::string id = d.record.id;
  if (!hooks_ || starting_.count(id) != 0) return false;
  auto cfg = d.config;
  const auto* env = cfg->findEnvironment(d.record.environment);
  const auto point = d.doc.rollback ? config::HookPoint::PreRollback : config::HookPoint::PreDeploy;
  const bool backup = env != nullptr && env->backup && env->backup->before_deploy && !d.doc.rollback;
  if (env == nullptr || (!backup && env->hooks.at(point).empty())) return false;
  starting_.insert(id);
  const std::string environment = d.record.environment;
  const std::string version = d.record.version;
  auto hooks = hooks_;
  scheduler_.offload([this, id, cfg, hooks, environment, version, point, backup,
                      then = std::move(then)]() -> std::function<void()> {
    HookResult result;
    if (backup) result = hooks->backupBeforeDeploy(*cfg, environment, version);
    if (result.decision == HookResult::Decision::Continue) {
      HookResult ran = hooks->run(*cfg, environment, point, version);
      if (ran.ran || !result.ran) result = std::move(ran);
    }
    return [this, id, point, result, then] {
      starting_.erase(id);
      then(result, point);
    };
  });
  return true;
}

}  // namespace runway::controller
