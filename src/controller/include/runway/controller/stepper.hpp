#pragma once

// The controller driven step by step on the caller's thread, for simulations (`runway
// rehearse`, the scale benchmark): the same reconciler `runway serve` runs (requests, engine,
// one commit per input, actions, recovery), without its strand thread and worker pool. Work the
// server would offload (measurements, checks, hooks) runs inline, in a fixed order, so a
// simulation with a FakeClock is deterministic. Time moves only when the caller moves the clock:
// settle() does what is due now, nextDue() says when something is due next.
//
// Not thread-safe: one thread calls everything.

#include <memory>
#include <optional>
#include <string>

#include "runway/controller/controller.hpp"

namespace runway::controller {

class Stepper {
 public:
  // Loads live deployments from the store and recovers them as Controller::start() does.
  // Errors: InvalidArgument (options lack a store, runtime, clock, config or provider), and
  // those of recovery.
  static Result<std::unique_ptr<Stepper>> start(ControllerOptions options);
  virtual ~Stepper() = default;

  // The requests of Controller, applied at once; their follow-up work waits for settle().
  virtual Result<Admitted> deploy(DeployRequest request) = 0;
  virtual Result<Admitted> rollback(RollbackRequest request) = 0;
  virtual Result<std::string> command(CommandRequest request) = 0;
  virtual Result<std::string> decide(ApprovalRequest request) = 0;

  // Runs queued work and the loop's periodic pass (runtime reports, due timers, measurements,
  // retirements) until a pass leaves nothing queued. Returns false when it had not settled
  // after `limit` passes (a loop that never settles).
  virtual bool settle(int limit = 1000) = 0;

  // The earliest time something the controller scheduled is due (a timer, a measurement, a
  // retirement); nullopt when nothing is.
  virtual std::optional<TimePoint> nextDue() const = 0;

  virtual std::shared_ptr<const config::Config> config() const = 0;
};

}  // namespace runway::controller
