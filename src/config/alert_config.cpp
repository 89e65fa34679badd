#include "alert_config.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

#include "runway/core/suggest.hpp"

namespace runway::config::detail {
namespace {

// "high-error-rate" → "HighErrorRate".
std::string camelCase(const std::string& name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (c == '-') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

// Prometheus metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool isAlertName(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  });
}

const std::vector<std::string> kAlertMetrics{"error_rate", "latency_p95", "availability", "request_rate"};

}  // namespace

const std::vector<std::string>& alertRuleKeys() {
  static const std::vector<std::string> keys{"alert", "environment", "expr", "builtin", "for",
                                             "severity", "action", "summary", "cooldown"};
  return keys;
}

void parseAlertRule(Reader& r, const Fields& spec, AlertRule& rule) {
  rule.alert = camelCase(rule.name);
  if (auto v = spec.get("alert")) {
    if (auto text = readString(r, *v)) {
      if (isAlertName(*text)) {
        rule.alert = *text;
      } else {
        r.error(v->location, v->path, fmt::format("\"{}\" is not a Prometheus alert name ([a-zA-Z_:][a-zA-Z0-9_:]*)", *text));
      }
    }
  }
  spec.str("environment", rule.environment, true);
  if (auto v = spec.get("environment")) rule.environment_location = v->location;
  if (spec.has("expr") == spec.has("builtin")) {
    r.error(spec.self().location, spec.self().path.empty() ? "spec" : spec.self().path,
            "set exactly one of expr (PromQL) or builtin (a metric runway measures)");
  }
  spec.str("expr", rule.expr);
  if (auto v = spec.get("builtin")) {
    BuiltinAlertMetric b;
    b.location = v->location;
    const Fields f(r, *v, {"metric", "above", "below", "window"});
    if (f.isMap()) {
      if (auto m = f.require("metric")) {
        if (auto text = readString(r, *m)) {
          if (std::find(kAlertMetrics.begin(), kAlertMetrics.end(), *text) == kAlertMetrics.end()) {
            r.error(m->location, m->path, enumMessage(*text, kAlertMetrics));
          } else {
            b.metric = *text;
          }
        }
      }
      f.number("above", b.above, -1e18, 1e18);
      f.number("below", b.below, -1e18, 1e18);
      if (f.has("above") == f.has("below")) {
        r.error(v->location, v->path, "set exactly one of above or below");
      }
      f.duration("window", b.window, Duration{1000});
    }
    rule.builtin = std::move(b);
  }
  spec.duration("for", rule.for_duration);
  spec.enumeration("severity", rule.severity,
                   EnumValues<std::string>{{"critical", "critical"}, {"warning", "warning"}, {"info", "info"}});
  if (!spec.enumeration("action", rule.action,
                        EnumValues<AlertAction>{{"automatic_rollback", AlertAction::AutomaticRollback},
                                                {"immediate_incident_response", AlertAction::ImmediateIncidentResponse},
                                                {"investigate_and_mitigate", AlertAction::InvestigateAndMitigate},
                                                {"investigate", AlertAction::Investigate},
                                                {"scale_or_optimize", AlertAction::ScaleOrOptimize},
                                                {"investigate_database", AlertAction::InvestigateDatabase}})) {
    (void)spec.require("action");
  }
  spec.str("summary", rule.summary);
  spec.duration("cooldown", rule.cooldown);
}

void checkAlertRules(const Config& config, std::vector<Diagnostic>& out) {
  std::map<std::string, SourceLocation> names;
  std::map<std::string, SourceLocation> alerts;
  std::vector<std::string> environments;
  for (const auto& env : config.environments) environments.push_back(env.name);
  for (const auto& rule : config.alert_rules) {
    if (!rule.name.empty()) {
      const auto [it, inserted] = names.emplace(rule.name, rule.location);
      if (!inserted) {
        out.push_back(Diagnostic{rule.location, "metadata.name",
                                 fmt::format("duplicate AlertRule \"{}\" (first defined at {}:{}:{})", rule.name,
                                             it->second.file, it->second.line, it->second.column)});
        continue;
      }
    }
    if (!rule.alert.empty()) {
      const auto [it, inserted] = alerts.emplace(rule.alert, rule.location);
      if (!inserted) {
        out.push_back(Diagnostic{rule.location, "spec.alert",
                                 fmt::format("alert name \"{}\" is used by another AlertRule (at {}:{}:{})",
                                             rule.alert, it->second.file, it->second.line, it->second.column)});
      }
    }
    if (!rule.environment.empty() && config.findEnvironment(rule.environment) == nullptr) {
      std::string message = fmt::format("unknown Environment \"{}\"", rule.environment);
      if (auto suggestion = closestMatch(rule.environment, environments)) {
        message += fmt::format(" (did you mean \"{}\"?)", *suggestion);
      }
      out.push_back(Diagnostic{rule.environment_location, "spec.environment", message});
    }
  }
}

const std::vector<std::string>& incidentSeverityKeys() {
  static const std::vector<std::string> keys{"level", "description", "responseTime", "updateEvery", "escalation"};
  return keys;
}

void parseIncidentSeverity(Reader& r, const Fields& spec, IncidentSeverity& severity) {
  if (!spec.integer("level", severity.level, 1, 9)) (void)spec.require("level");
  spec.str("description", severity.description);
  spec.duration("responseTime", severity.response_time, Duration{1});
  spec.duration("updateEvery", severity.update_every, Duration{1});
  spec.strings("escalation", severity.escalation);
  (void)r;
}

void parseIncidentTemplate(Reader& r, const Fields& spec, IncidentTemplate& tpl) {
  static const std::vector<std::string> kNames{"initial-alert", "status-update", "resolution"};
  if (!tpl.name.empty() && std::find(kNames.begin(), kNames.end(), tpl.name) == kNames.end()) {
    r.error(tpl.location, "metadata.name", enumMessage(tpl.name, kNames));
  }
  const auto v = spec.require("text");
  if (!v) return;
  const auto text = readString(r, *v);
  if (!text) return;
  tpl.text = *text;
  const auto& known = incidentTemplatePlaceholders();
  for (std::size_t at = text->find("{{"); at != std::string::npos; at = text->find("{{", at + 2)) {
    const auto end = text->find("}}", at + 2);
    if (end == std::string::npos) {
      r.error(v->location, v->path, "\"{{\" without a closing \"}}\"");
      return;
    }
    std::string name = text->substr(at + 2, end - at - 2);
    while (!name.empty() && name.front() == ' ') name.erase(name.begin());
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string message = fmt::format("unknown placeholder {{{{{}}}}}", name);
      if (auto suggestion = closestMatch(name, known)) message += fmt::format(" (did you mean {{{{{}}}}}?)", *suggestion);
      r.error(v->location, v->path, message);
    }
  }
}

void checkIncidentSeverities(const Config& config, std::vector<Diagnostic>& out) {
  std::map<std::string, SourceLocation> templates;
  for (const auto& t : config.incident_templates) {
    const auto [it, inserted] = templates.emplace(t.name, t.location);
    if (!inserted) {
      out.push_back(Diagnostic{t.location, "metadata.name",
                               fmt::format("duplicate IncidentTemplate \"{}\" (first defined at {}:{}:{})", t.name,
                                           it->second.file, it->second.line, it->second.column)});
    }
  }
  std::map<int, SourceLocation> levels;
  std::vector<std::string> channels;
  for (const auto& c : config.channels) channels.push_back(c.name);
  for (const auto& s : config.severities) {
    const auto [it, inserted] = levels.emplace(s.level, s.location);
    if (!inserted) {
      out.push_back(Diagnostic{s.location, "spec.level",
                               fmt::format("severity level {} is already defined at {}:{}:{}", s.level,
                                           it->second.file, it->second.line, it->second.column)});
    }
    for (std::size_t i = 0; i < s.escalation.size(); ++i) {
      if (config.findChannel(s.escalation[i]) != nullptr) continue;
      std::string message = fmt::format("unknown NotificationChannel \"{}\"", s.escalation[i]);
      if (auto suggestion = closestMatch(s.escalation[i], channels)) {
        message += fmt::format(" (did you mean \"{}\"?)", *suggestion);
      }
      out.push_back(Diagnostic{s.location, fmt::format("spec.escalation[{}]", i), message});
    }
  }
}

}  // namespace runway::config::detail
