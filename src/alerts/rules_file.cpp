#include "runway/alerts/rules_file.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace runway::alerts {
namespace {

std::string quoted(const std::string& s) { return boost::json::serialize(boost::json::value(s)); }

// Prometheus durations: whole seconds, minutes or hours where they divide evenly, else ms.
std::string promDuration(Duration d) {
  const auto ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

std::string generatedSummary(const config::AlertRule& rule) {
  if (rule.builtin) {
    const auto& b = *rule.builtin;
    return fmt::format("{} {} {}{} in {} for {}", b.metric, b.above ? "above" : "below",
                       b.above ? *b.above : *b.below, b.metric == "latency_p95" ? " s" : "", rule.environment,
                       promDuration(rule.for_duration));
  }
  return fmt::format("{} in {}", rule.alert, rule.environment);
}

}  // namespace

std::string ruleExpr(const config::AlertRule& rule) {
  if (!rule.builtin) return rule.expr;
  const auto& b = *rule.builtin;
  // The router names a listener "<service>.<environment>".
  const std::string sel = fmt::format("listener=~\".+[.]{}\"", rule.environment);
  const std::string w = promDuration(b.window);
  const std::string errors = fmt::format(
      "sum(rate(runway_router_requests_total{{{},code=~\"5..|0\"}}[{}]))", sel, w);
  const std::string total = fmt::format("sum(rate(runway_router_requests_total{{{}}}[{}]))", sel, w);
  std::string value;
  if (b.metric == "error_rate") {
    value = fmt::format("({} / {})", errors, total);
  } else if (b.metric == "availability") {
    value = fmt::format("(1 - {} / {})", errors, total);
  } else if (b.metric == "latency_p95") {
    value = fmt::format(
        "histogram_quantile(0.95, sum by (le) (rate(runway_router_request_duration_seconds_bucket{{{}}}[{}])))", sel, w);
  } else {
    value = total;
  }
  return fmt::format("{} {} {}", value, b.above ? ">" : "<", b.above ? *b.above : *b.below);
}

std::string renderRulesFile(const config::Config& config) {
  std::string out = "# Written by `runway alerts render` from the configuration's AlertRules.\n";
  out += "groups:\n  - name: runway\n    rules:";
  if (config.alert_rules.empty()) return out + " []\n";
  out += "\n";
  for (const auto& rule : config.alert_rules) {
    out += fmt::format("      - alert: {}\n", quoted(rule.alert));
    out += fmt::format("        expr: {}\n", quoted(ruleExpr(rule)));
    if (rule.for_duration.count() > 0) out += fmt::format("        for: {}\n", promDuration(rule.for_duration));
    out += "        labels:\n";
    out += fmt::format("          severity: {}\n", quoted(rule.severity));
    out += fmt::format("          runway_rule: {}\n", quoted(rule.name));
    out += fmt::format("          runway_action: {}\n", quoted(std::string(config::toString(rule.action))));
    out += fmt::format("          runway_environment: {}\n", quoted(rule.environment));
    out += "        annotations:\n";
    out += fmt::format("          summary: {}\n", quoted(rule.summary.empty() ? generatedSummary(rule) : rule.summary));
  }
  return out;
}

}  // namespace runway::alerts
