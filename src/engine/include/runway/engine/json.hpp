#pragma once

// The JSON form of DeploymentState, as stored by the store (DeploymentRecord::state_json).
// Carries "schemaVersion"; round-trips exactly: stateFromJson(stateToJson(s)) == s.

#include <string>
#include <string_view>

#include "runway/core/error.hpp"
#include "runway/engine/actions.hpp"
#include "runway/engine/state.hpp"

namespace runway::engine {

std::string stateToJson(const DeploymentState& state);

// InvalidArgument for malformed JSON or a missing/ill-typed field; FailedPrecondition when the
// document's schemaVersion is newer than this binary knows.
Result<DeploymentState> stateFromJson(std::string_view json);

// Actions as JSON objects ({"type":"setTraffic",...}), for the persisted intent and the API.
std::string actionToJson(const Action& action);

}  // namespace runway::engine
