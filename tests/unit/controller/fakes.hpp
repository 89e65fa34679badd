#pragma once

// Fakes of the controller's collaborators besides the runtime (tests/fakes/fake_runtime.hpp):
// a metric provider answering from a table, lifecycle hooks and checks that record what ran.
// Thread-safe (the threaded controller calls them from its pool).

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "runway/controller/controller.hpp"

namespace runway::controller::testing {

// Answers every metric with the error rate of the version measured (`error_rate`, default 0);
// a metric named in `unmeasurable` answers an error. Records what it was asked.
class FakeProvider final : public analysis::MetricProvider {
 public:
  struct Asked {
    std::string service;
    std::string version;
    std::string metric;
    std::string query;
    std::string failure_condition;
  };

  Result<analysis::MetricValue> measure(const config::MetricSpec& metric,
                                        const analysis::MeasureContext& ctx) override {
    std::lock_guard lock(mu_);
    asked_.push_back(Asked{ctx.service, ctx.version, metric.name, metric.query, metric.failure_condition});
    if (on_measure) on_measure(asked_.back());
    if (unmeasurable.count(metric.name) != 0) return fail(ErrorCode::Unavailable, "source unreachable (test)");
    auto it = error_rate.find(ctx.version);
    return analysis::MetricValue{it == error_rate.end() ? 0.0 : it->second, "test"};
  }
  std::vector<Asked> asked() const {
    std::lock_guard lock(mu_);
    return asked_;
  }

  std::map<std::string, double> error_rate;  // version -> result
  std::set<std::string> unmeasurable;       // metric names
  std::function<void(const Asked&)> on_measure;

 private:
  mutable std::mutex mu_;
  std::vector<Asked> asked_;
};

// Records every hook point run, with the first command configured there (from the
// configuration it was handed: the deployment's spec snapshot). `on_run` (if set) is called
// before the hook runs and `on_ran` after; either may throw (a crash before or after it ran).
class FakeHooks final : public LifecycleHooks {
 public:
  struct Ran {
    std::string environment;
    config::HookPoint point;
    std::string version;
    std::string command;
  };

  HookResult run(const config::Config& config, const std::string& environment, config::HookPoint point,
                 const std::string& version) override {
    HookResult out;
    const auto* env = config.findEnvironment(environment);
    if (env == nullptr || env->hooks.at(point).empty()) return out;
    const auto& hook = env->hooks.at(point).front();
    Ran ran{environment, point, version, fmt::format("{}", fmt::join(hook.command, " "))};
    if (on_run) on_run(ran);
    {
      std::lock_guard lock(mu_);
      ran_.push_back(ran);
    }
    if (on_ran) on_ran(ran);
    out.ran = true;
    out.summary = "1 hook ran";
    out.runs_json = "[]";
    return out;
  }
  HookResult backupBeforeDeploy(const config::Config&, const std::string&, const std::string&) override {
    return {};
  }
  std::vector<Ran> ran() const {
    std::lock_guard lock(mu_);
    return ran_;
  }

  std::function<void(const Ran&)> on_run;
  std::function<void(const Ran&)> on_ran;

 private:
  mutable std::mutex mu_;
  std::vector<Ran> ran_;
};

class FakeChecks final : public CheckRunner {
 public:
  CheckOutcome run(const config::Config&, const std::string&, const engine::RunChecks&) override {
    return CheckOutcome{true, "ok (test)"};
  }
};

// Judges a checklist as scripted: `items` for every item, or the item's own entry in
// `by_name`; `on_judge` (if set) is called first and may throw (a crash while judging).
class FakeChecklist final : public ChecklistRunner {
 public:
  std::vector<ChecklistItemResult> judge(const config::Config& config, const std::string& environment,
                                         const std::string& version, const std::string& current_release,
                                         const store::ReleaseEvidence& evidence) override {
    if (on_judge) on_judge();
    std::lock_guard lock(mu_);
    ++calls_;
    last_current_ = current_release;
    last_version_ = version;
    last_commit_ = evidence.commit;
    std::vector<ChecklistItemResult> out;
    const auto* env = config.findEnvironment(environment);
    if (env == nullptr) return out;
    for (const auto& name : config::Checklist::itemNames()) {
      if (env->checklist.waivableBy(name) == nullptr) continue;
      auto it = by_name.find(name);
      out.push_back(it != by_name.end() ? it->second : ChecklistItemResult{name, true, "passed (test)"});
    }
    return out;
  }
  int calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::string lastCurrent() const {
    std::lock_guard lock(mu_);
    return last_current_;
  }
  std::string lastCommit() const {
    std::lock_guard lock(mu_);
    return last_commit_;
  }

  std::map<std::string, ChecklistItemResult> by_name;  // set before the run that reads it
  std::function<void()> on_judge;

 private:
  mutable std::mutex mu_;
  int calls_ = 0;
  std::string last_current_, last_version_, last_commit_;
};

// Controller options over the given fakes, with fake checks.
inline ControllerOptions optionsFor(std::shared_ptr<store::Store> store, std::shared_ptr<runtime::Runtime> runtime,
                                    std::shared_ptr<analysis::MetricProvider> provider,
                                    std::shared_ptr<LifecycleHooks> hooks, std::shared_ptr<Clock> clock,
                                    std::shared_ptr<const config::Config> config) {
  ControllerOptions o;
  o.store = std::move(store);
  o.runtime = std::move(runtime);
  o.provider = std::move(provider);
  o.checks = std::make_shared<FakeChecks>();
  o.hooks = std::move(hooks);
  o.clock = std::move(clock);
  o.config = std::move(config);
  return o;
}

}  // namespace runway::controller::testing
