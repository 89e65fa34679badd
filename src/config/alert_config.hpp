#pragma once

// Reading AlertRule documents (private to config; the loader calls these).

#include <vector>

#include "runway/config/model.hpp"
#include "yaml_reader.hpp"

namespace runway::config::detail {

const std::vector<std::string>& alertRuleKeys();

// Reads an AlertRule's spec into `rule` (whose name is set); problems become diagnostics.
void parseAlertRule(Reader& r, const Fields& spec, AlertRule& rule);

// Cross-document checks: rule and alert names unique, every rule's environment defined.
void checkAlertRules(const Config& config, std::vector<Diagnostic>& out);

const std::vector<std::string>& incidentSeverityKeys();
void parseIncidentSeverity(Reader& r, const Fields& spec, IncidentSeverity& severity);
void parseIncidentTemplate(Reader& r, const Fields& spec, IncidentTemplate& tpl);

// Levels unique, escalation channels defined.
void checkIncidentSeverities(const Config& config, std::vector<Diagnostic>& out);

}  // namespace runway::config::detail
