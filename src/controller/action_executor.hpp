#pragma once

// The action executor: carries out what a deployment's committed document asks for, and only
// that. Runtime calls (start a version, set a split, retire) run on the strand and are
// idempotent, so recovery simply calls them again; checks and lifecycle hooks run through the
// scheduler off the strand and report back on it. It keeps no state that must survive a crash:
// what is in flight is known again from the committed intents.
//
// Strand only.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "deployment_repository.hpp"
#include "metrics.hpp"
#include "release_book.hpp"
#include "runway/controller/controller.hpp"
#include "runway/engine/actions.hpp"
#include "runway/engine/inputs.hpp"
#include "runway/runtime/runtime.hpp"
#include "scheduler.hpp"

namespace runway::controller {

class ActionExecutor {
 public:
  ActionExecutor(std::shared_ptr<runtime::Runtime> runtime, std::shared_ptr<LifecycleHooks> hooks,
                 std::shared_ptr<CheckRunner> checks, Scheduler& scheduler,
                 MetricsRecorder& metrics, Duration retire_grace);

  // Runtime ------------------------------------------------------------------------------
  // Starts `a` with the services of the deployment's spec snapshot. False when it failed
  // (logged, counted; the intent is executed again later). A start the runtime refuses as
  // invalid (InvalidArgument: a command it cannot find, TLS files it cannot use) is also
  // remembered, and observe() reports the version as failed with the runtime's reason until a
  // start of it succeeds: the deployment ends at once, saying why, rather than waiting for
  // instances that cannot come until its progress deadline.
  bool startVersion(const LiveDeployment& d, const engine::StartVersion& a);
  // Sets a service's split. Applied when the runtime has it (the caller reports the weights in
  // effect to the engine); Failed (logged, counted) when the runtime refused it; Nothing when
  // the split routes no version yet.
  enum class Traffic { Applied, Nothing, Failed };
  Traffic setTraffic(const LiveDeployment& d, const engine::SetTraffic& a);
  // Executes a deployment's whole runtime intent again (starts, then splits unless its traffic
  // is held: trafficHeld()). Returns the splits the runtime accepted. `ok` is false when any
  // call failed.
  std::vector<engine::SetTraffic> applyIntent(const LiveDeployment& d, bool& ok);
  // Retires one version. Errors: the runtime's (FailedPrecondition while still routed).
  Result<void> retire(const LiveDeployment& d, const engine::RetireVersion& r);
  // Retires every version of `environment` not in `keep` (local runtime only; others keep what
  // they run).
  void retainOnly(const std::string& environment, const KeepList& keep);

  // What the runtime runs for one version of one service, as the engine's input.
  std::optional<engine::RuntimeReport> observe(const LiveDeployment& d, const std::string& service,
                                               const std::string& version, int traffic_weight);
  // Start facts: whether a rollback's target still runs on every service, and per service the
  // instances of other versions still up.
  void observeRunning(const std::string& environment, const engine::DeploymentSpec& spec,
                      engine::Start& start);

  // Checks -------------------------------------------------------------------------------
  // Runs a check run off the strand (once: a run already in flight is not started again);
  // `done` gets its result on the strand.
  void runChecks(const LiveDeployment& d, const engine::RunChecks& c,
                 std::function<void(engine::CheckResult)> done);
  // Forgets a deployment that ended: its checks in flight and its refused starts.
  void forget(const std::string& id);

  // Hooks --------------------------------------------------------------------------------
  bool hooksConfigured() const { return hooks_ != nullptr; }
  // Runs the deployment's committed hook intents that are not running yet, in order, off the
  // strand; `done` gets each one's outcome on the strand (the caller confirms it with a commit).
  void runHookIntents(const LiveDeployment& d,
                      std::function<void(PersistedDeployment::HookIntent, HookResult)> done);
  // Runs the hooks that come before a deployment (re)starts: the environment's backup and
  // preDeploy hooks (preRollback for a rollback) off the strand; `then` gets their outcome on the
  // strand. The deployment is `starting()` meanwhile. Returns false, and calls nothing, when
  // no such hook is configured (or they are already running).
  bool runStartHooks(const LiveDeployment& d,
                     std::function<void(const HookResult&, config::HookPoint)> then);
  const std::set<std::string>& starting() const { return starting_; }

 private:
  std::shared_ptr<runtime::Runtime> runtime_;
  std::shared_ptr<LifecycleHooks> hooks_;
  std::shared_ptr<CheckRunner> checks_;
  Scheduler& scheduler_;
  MetricsRecorder& metrics_;
  Duration retire_grace_;
  std::set<std::string> starting_;         // deployments whose start hooks are running
  std::set<std::string> hooks_in_flight_;  // "<id>/<point>/<attempt>"
  std::set<std::pair<std::string, std::uint32_t>> checks_in_flight_;
  // (deployment, service, version) -> why the runtime refused to start it.
  std::map<std::tuple<std::string, std::string, std::string>, std::string> refused_starts_;
};

}  // namespace runway::controller
