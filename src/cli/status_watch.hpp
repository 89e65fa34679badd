#pragma once

// `runway status [ENV] --watch`: follows the environments and their active deployments.

#include <string>

#include "client.hpp"
#include "runway/core/clock.hpp"

namespace runway::cli {

struct WatchOptions {
  std::string env;  // empty: every environment
  Duration interval{1000};
  bool until_done = false;
};

// On a terminal, redraws in place every `interval`: per environment the active deployment's
// steps with their state, the new version's weights, the latest analysis values against their
// conditions, pending approvals, elapsed and remaining bake time. Otherwise prints a timestamped
// line per environment whenever its phase, step, weights, analysis outcome or approvals change.
// Returns 0 on SIGINT; with until_done, once every deployment seen active has ended: 0 when all
// succeeded, 1 otherwise. An API error ends it with that error's exit code.
int watchStatus(ApiClient& client, const WatchOptions& options);

}  // namespace runway::cli
