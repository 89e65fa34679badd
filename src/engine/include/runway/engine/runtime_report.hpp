#pragma once

// What a runtime report does to a deployment's state, asked without applying it.

#include "runway/engine/inputs.hpp"
#include "runway/engine/state.hpp"

namespace runway::engine {

// Whether `report` changes anything in `state` (a ready or failed count, the weight in effect,
// the instances of other versions): when it does not, apply() leaves the state as it is and
// returns no action. What lets a caller that polls the runtime skip the copy of the state that
// apply() works on. Pure.
bool reportChanges(const DeploymentState& state, const RuntimeReport& report);

}  // namespace runway::engine
