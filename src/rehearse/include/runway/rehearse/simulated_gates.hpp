#pragma once

// Checks and hooks where nothing real runs: environments on the simulated runtime, and every
// environment in a rehearsal. No HTTP request is sent and no command is started; each result
// says what would have run.

#include <memory>
#include <string>
#include <vector>

#include "runway/controller/controller.hpp"
#include "runway/runtime/runtime.hpp"

namespace runway::rehearse {

// Passes a health or smoke gate when every instance of the version is Ready in the runtime
// (the simulated instances have no endpoint to probe); fails, naming them, when some are not.
class SimulatedChecks final : public controller::CheckRunner {
 public:
  explicit SimulatedChecks(std::shared_ptr<runtime::Runtime> runtime)
      : runtime_(std::move(runtime)) {}

  // controller::CheckRunner
  controller::CheckOutcome run(const config::Config& config, const std::string& environment,
                               const engine::RunChecks& checks) override;

 private:
  std::shared_ptr<runtime::Runtime> runtime_;
};

// Runs no command: reports the configured hooks (and the backup) as ran and continuing, with
// their names, so the timeline shows where they would run.
class RehearsedHooks final : public controller::LifecycleHooks {
 public:
  // controller::LifecycleHooks
  controller::HookResult run(const config::Config& config, const std::string& environment,
                             config::HookPoint point, const std::string& version) override;
  controller::HookResult backupBeforeDeploy(const config::Config& config,
                                            const std::string& environment,
                                            const std::string& version) override;
};

// Judges no item of the pre-deployment checklist (docs/checklist.md): a rehearsal has no
// release evidence, no GitHub and no PagerDuty. Each configured item is reported as rehearsed,
// with what it will need when the release is deployed for real, so the timeline shows where the
// gate stands and who may waive it; nothing real is deployed on its word.
class RehearsedChecklist final : public controller::ChecklistRunner {
 public:
  // controller::ChecklistRunner
  std::vector<controller::ChecklistItemResult> judge(const config::Config& config,
                                                     const std::string& environment,
                                                     const std::string& version,
                                                     const std::string& current_release,
                                                     const store::ReleaseEvidence& evidence) override;
};

}  // namespace runway::rehearse
