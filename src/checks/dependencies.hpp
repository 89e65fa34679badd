#pragma once

// The environment's declared dependencies (HTTP, TCP, command) as report items.

#include "runway/checks/report.hpp"
#include "runway/config/model.hpp"

namespace runway::checks {

// One item per dependency ("dependency" category); an environment without dependencies gives
// one Skipped item saying so.
Report checkDependencies(const config::Environment& env);

}  // namespace runway::checks
