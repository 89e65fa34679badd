#include "runway/controller/stepper.hpp"

#include "manual_scheduler.hpp"
#include "metrics.hpp"
#include "reconciler.hpp"

namespace runway::controller {
namespace {

class StepperImpl final : public Stepper {
 public:
  explicit StepperImpl(ControllerOptions options)
      : reconciler_(std::move(options), scheduler_, metrics_) {}

  Result<void> recover() { return reconciler_.recover(); }

  // Stepper
  Result<Admitted> deploy(DeployRequest request) override {
    return reconciler_.deploy(std::move(request));
  }
  Result<Admitted> rollback(RollbackRequest request) override {
    return reconciler_.rollback(std::move(request));
  }
  Result<std::string> command(CommandRequest request) override {
    return reconciler_.command(std::move(request));
  }
  Result<std::string> decide(ApprovalRequest request) override {
    return reconciler_.decide(std::move(request));
  }

  bool settle(int limit) override {
    for (int i = 0; i < limit; ++i) {
      scheduler_.runUntilIdle();
      reconciler_.tick(true);
      if (scheduler_.idle()) return true;
    }
    return false;
  }

  std::optional<TimePoint> nextDue() const override { return reconciler_.nextDue(); }
  std::shared_ptr<const config::Config> config() const override { return reconciler_.config(); }

 private:
  ManualScheduler scheduler_;
  MetricsRecorder metrics_;
  Reconciler reconciler_;
};

}  // namespace

Result<std::unique_ptr<Stepper>> Stepper::start(ControllerOptions options) {
  if (!options.store || !options.runtime || !options.clock || !options.config ||
      !options.provider) {
    return fail(ErrorCode::InvalidArgument,
                "the controller needs a store, runtime, clock, config and provider");
  }
  auto impl = std::make_unique<StepperImpl>(std::move(options));
  if (auto r = impl->recover(); !r) return fail(r.error());
  return std::unique_ptr<Stepper>(std::move(impl));
}

}  // namespace runway::controller
