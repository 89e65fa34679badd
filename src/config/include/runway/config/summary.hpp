#pragma once

#include <string>

#include "runway/config/model.hpp"

namespace runway::config {

// One line describing a canary step: "setWeight 10", "pause 15m", "pause until promoted",
// "analysis error-rate, latency-p95", "approval tech-lead", "checks smoke=critical health=basic",
// "setHeaderRoute header X-Canary exact \"1\"".
std::string describeStep(const CanaryStep& step);

// A human summary of a validated configuration (what `runway validate` prints): applications
// and their services, each environment with its strategy and steps, and the analysis templates.
// Lines end with '\n'.
std::string summarize(const Config& config);

}  // namespace runway::config
