#pragma once

// The configuration's AlertRules as a Prometheus rules file (one group, "runway"), what
// `runway alerts render` writes and `promtool check rules` accepts. Each rule carries the labels
// runway reads back from Alertmanager: runway_rule, runway_action, runway_environment, and
// severity.

#include <string>

#include "runway/config/model.hpp"

namespace runway::alerts {

// The PromQL of a rule: its expr, or for a builtin metric the query over the router's metrics
// (runway_router_*, on runway serve's /metrics) for the rule's environment.
std::string ruleExpr(const config::AlertRule& rule);

// The rules file (YAML; strings written as JSON strings, which YAML reads as they are).
std::string renderRulesFile(const config::Config& config);

}  // namespace runway::alerts
