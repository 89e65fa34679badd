// The controller as the server runs it: the reconciler on the loop's strand. The parts, each
// with one job (see docs/architecture.md):
//   loop.hpp                   the strand thread and the worker pool (Scheduler)
//   reconciler.hpp             input → engine → one commit → actions; requests; recovery
//   deployment_repository.hpp  deployments in memory; loads and commits with CAS
//   intent.hpp                 engine actions folded into the persisted document
//   action_executor.hpp        runtime calls, checks and hooks for committed intents
//   analysis_runner.hpp        measurements of running analysis runs
//   release_book.hpp           what serves, successful releases, the keep-list
//   gates.hpp                  one deployment per environment, retry, approval roles
//   spec_snapshot.hpp          the configuration a deployment was requested under

#include "runway/controller/controller.hpp"

#include <atomic>

#include "loop.hpp"
#include "metrics.hpp"
#include "reconciler.hpp"
#include "release_book.hpp"

namespace runway::controller {
namespace {

class ControllerImpl final : public Controller {
 public:
  explicit ControllerImpl(ControllerOptions options)
      : runtime_(options.runtime), loop_(options.workers, options.poll), reconciler_(std::move(options), loop_, metrics_) {}

  ~ControllerImpl() override { stop(); }

  Result<void> recover() { return reconciler_.recover(); }
  void run() {
    // Changes the runtime reports reach the strand as they happen; the periodic pass refreshes
    // only what changed, plus a slice of the rest (Reconciler::pass).
    runtime_->setEventHandler(reconciler_.runtimeEventHandler());
    loop_.run([this](bool refresh) { return reconciler_.pass(refresh, kPassBudget); });
  }

  // Controller
  Result<Admitted> deploy(DeployRequest request) override {
    return call<Result<Admitted>>([&] { return reconciler_.deploy(std::move(request)); });
  }
  Result<Admitted> rollback(RollbackRequest request) override {
    return call<Result<Admitted>>([&] { return reconciler_.rollback(std::move(request)); });
  }
  Result<std::string> command(CommandRequest request) override {
    return call<Result<std::string>>([&] { return reconciler_.command(std::move(request)); });
  }
  Result<std::string> decide(ApprovalRequest request) override {
    return call<Result<std::string>>([&] { return reconciler_.decide(std::move(request)); });
  }
  Result<std::string> waive(WaiverRequest request) override {
    return call<Result<std::string>>([&] { return reconciler_.waive(std::move(request)); });
  }
  void reload(std::shared_ptr<const config::Config> config) override {
    reconciler_.reload(std::move(config));
  }
  std::shared_ptr<const config::Config> config() const override { return reconciler_.config(); }
  ControllerMetrics metrics() const override { return metrics_.snapshot(); }
  void stop() override {
    if (!stopped_.exchange(true)) runtime_->setEventHandler(nullptr);
    loop_.stop();
  }

 private:
  template <typename R, typename F>
  R call(F&& f) {
    return loop_.call<R>(std::forward<F>(f),
                         [] { return R(fail(ErrorCode::Unavailable, "the server is shutting down")); });
  }

  // How long one periodic pass may work before the requests waiting get their turn.
  static constexpr std::chrono::milliseconds kPassBudget{5};

  std::shared_ptr<runtime::Runtime> runtime_;
  std::atomic<bool> stopped_{false};
  MetricsRecorder metrics_;
  Loop loop_;
  Reconciler reconciler_;
};

}  // namespace

Result<std::string> currentRelease(store::Store& store, const std::string& environment,
                                   engine::Colour* colour) {
  auto serving = ReleaseBook(store).current(environment);
  if (!serving) return fail(serving.error());
  if (colour != nullptr && !serving->version.empty()) *colour = serving->colour;
  return serving->version;
}

Result<std::unique_ptr<Controller>> Controller::start(ControllerOptions options) {
  if (!options.store || !options.runtime || !options.clock || !options.config || !options.provider) {
    return fail(ErrorCode::InvalidArgument, "controller needs a store, runtime, clock, config and provider");
  }
  auto impl = std::make_unique<ControllerImpl>(std::move(options));
  if (auto r = impl->recover(); !r) return fail(r.error());
  impl->run();
  return std::unique_ptr<Controller>(std::move(impl));
}

}  // namespace runway::controller
