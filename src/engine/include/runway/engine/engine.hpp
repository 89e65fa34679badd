#pragma once

// The rollout engine: a pure, deterministic function
//   (DeploymentState, Input, now) -> (DeploymentState', [Action])
// No I/O, no threads, no clock reads, no randomness: the same state, input and time always give
// the same result. See docs/concepts.md for the phases and the rules.

#include <optional>
#include <vector>

#include "runway/core/error.hpp"
#include "runway/engine/actions.hpp"
#include "runway/engine/inputs.hpp"
#include "runway/engine/state.hpp"

namespace runway::engine {

// What the controller does with a newer release for an environment that is busy.
enum class Admission : std::uint8_t {
  StartNow,   // the environment is free: start it
  Queue,      // keep it and start it when the active deployment ends
  Supersede,  // the active deployment is being aborted (phase Superseded); start after it ends
  Reject,     // refused (policy Reject): Conflict
};
std::string_view toString(Admission admission);

struct Step {
  DeploymentState state;
  std::vector<Action> actions;
  // Set when the input was refused (a command not allowed now, an approval that does not
  // count, a start that policy forbids). The refusal is audited in `actions`.
  std::optional<Error> refused;
  // Set for NewerRelease inputs: what the controller must do with the newer release.
  std::optional<Admission> admission;
};

// Applies one input. `now` is the controller's clock reading for this input.
Step step(const DeploymentState& state, const Input& input, TimePoint now);

// The same, updating `state` in place and appending to `actions` (no copy of the state).
// Returns the refusal, if any; `admission` receives the decision for NewerRelease inputs.
std::optional<Error> apply(DeploymentState& state, const Input& input, TimePoint now,
                           std::vector<Action>& actions,
                           std::optional<Admission>* admission = nullptr);

// One deployment per environment: the decision for a new release given the environment's
// active deployment (nullptr or a terminal one = free). A rollback always takes precedence
// (Supersede) over a deployment in progress; otherwise the policy decides. Pure.
Admission admitRelease(const DeploymentState* active, bool rollback, ConcurrencyPolicy policy);

// A queue of releases waiting for an environment: rollbacks jump ahead of deployments,
// otherwise first in, first out.
struct QueuedRelease {
  std::string version;
  bool rollback = false;
  std::string actor;
  bool operator==(const QueuedRelease&) const = default;
};
void enqueue(std::vector<QueuedRelease>& queue, QueuedRelease release);
std::optional<QueuedRelease> dequeue(std::vector<QueuedRelease>& queue);

}  // namespace runway::engine
