#pragma once

// Drives the controller's Reconciler synchronously: the real SQLite store in a temp dir, a
// FakeClock, the in-memory runtime and fake hooks/metrics, and a ManualScheduler whose queued
// work the harness runs on the test's thread. settle() runs everything that is due until
// nothing is left; advance() moves the clock in steps, settling after each. crash() drops the
// Reconciler with its in-memory state and whatever work was queued; boot() builds a new one on
// the same store, runtime and clock and recovers, as `runway serve` does after a kill -9.

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "fake_runtime.hpp"
#include "fakes.hpp"
#include "manual_scheduler.hpp"
#include "metrics.hpp"
#include "reconciler.hpp"
#include "runway/store/store.hpp"
#include "support/temp_dir.hpp"
#include "test_config.hpp"

namespace runway::controller::testing {

class Harness {
 public:
  explicit Harness(std::shared_ptr<const config::Config> config, std::uint64_t seed = 1)
      : config_(std::move(config)), seed_(seed) {
    auto opened = store::openSqliteStore((dir_ / "runway.db").string());
    if (!opened) {
      ADD_FAILURE() << opened.error().message;
      return;
    }
    store = std::move(*opened);
  }
  ~Harness() { crash(); }

  Result<void> boot() {
    ControllerOptions o = optionsFor(store, runtime, provider, hooks, clock, config_);
    o.id_seed = seed_ * 1000 + static_cast<std::uint64_t>(++boots_);
    o.checklist = checklist;
    reconciler_ = std::make_unique<Reconciler>(std::move(o), scheduler_, metrics_);
    return reconciler_->recover();
  }
  void crash() {
    scheduler_.clear();
    reconciler_.reset();
  }
  Reconciler& r() { return *reconciler_; }
  bool up() const { return reconciler_ != nullptr; }
  // Replaces the configuration (as a reload does; also the one the next boot() starts with).
  void reload(std::shared_ptr<const config::Config> config) {
    config_ = config;
    if (reconciler_) reconciler_->reload(std::move(config));
  }

  // Runs queued work and the loop's periodic pass until a pass leaves nothing queued.
  void settle() {
    for (int i = 0; i < 50 && reconciler_; ++i) {
      scheduler_.runUntilIdle();
      if (!reconciler_) return;
      reconciler_->tick(true);
      if (scheduler_.idle()) return;
    }
  }
  // As settle(), with the server's pass (Reconciler::pass, `refresh` as the loop gives it)
  // instead of tick(): only what the runtime said changed, a slice of the sweep, what is due.
  void settlePasses(bool refresh) {
    for (int i = 0; i < 50 && reconciler_; ++i) {
      scheduler_.runUntilIdle();
      if (!reconciler_) return;
      (void)reconciler_->pass(refresh, std::chrono::hours(1));
      if (scheduler_.idle()) return;
    }
  }
  // Moves the clock by `total` in steps of `step`, settling after each.
  void advance(Duration total, Duration step = Duration{500}) {
    for (Duration done{0}; done < total && reconciler_; done += step) {
      clock->advance(step);
      settle();
    }
  }

  std::string phaseOf(const std::string& id) {
    auto rec = store->getDeployment(id);
    return rec ? rec->phase : std::string("?");
  }

  std::shared_ptr<store::Store> store;
  std::shared_ptr<runway::testing::FakeRuntime> runtime = std::make_shared<runway::testing::FakeRuntime>();
  std::shared_ptr<FakeProvider> provider = std::make_shared<FakeProvider>();
  std::shared_ptr<FakeHooks> hooks = std::make_shared<FakeHooks>();
  std::shared_ptr<FakeChecklist> checklist = std::make_shared<FakeChecklist>();
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();

 private:
  test::TempDir dir_{"controller-harness"};
  std::shared_ptr<const config::Config> config_;
  std::uint64_t seed_;
  int boots_ = 0;
  ManualScheduler scheduler_;
  MetricsRecorder metrics_;
  std::unique_ptr<Reconciler> reconciler_;
};

inline DeployRequest deployOf(const std::string& env, const std::string& version) {
  DeployRequest d;
  d.environment = env;
  d.version = version;
  d.actor.name = "alice";
  return d;
}

inline CommandRequest commandOf(const std::string& id, engine::OperatorCommand::Kind kind) {
  CommandRequest c;
  c.deployment_id = id;
  c.kind = kind;
  c.actor.name = "alice";
  return c;
}

}  // namespace runway::controller::testing
