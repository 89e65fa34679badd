#include "runway/config/summary.hpp"

#include <fmt/format.h>

#include "runway/core/duration.hpp"

namespace runway::config {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::string intOrPercent(const IntOrPercent& value) {
  return value.percent ? fmt::format("{}%", value.value) : fmt::format("{}", value.value);
}

std::string describeChecks(const CheckRef& checks) {
  std::vector<std::string> parts;
  if (!checks.smoke.empty()) parts.push_back("smoke=" + checks.smoke);
  if (!checks.health.empty()) parts.push_back("health=" + checks.health);
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : " ") + part;
  return out;
}

std::string describeAnalysis(const AnalysisRef& ref) {
  std::string out = join(ref.templates);
  if (ref.interval.count() > 0) out += fmt::format(" every {}", formatDuration(ref.interval));
  for (const auto& [metric, value] : ref.thresholds) out += fmt::format(" {}<={}", metric, value);
  return out;
}

}  // namespace

std::string describeStep(const CanaryStep& step) {
  switch (step.kind) {
    case CanaryStep::Kind::SetWeight:
      return fmt::format("setWeight {}", step.weight);
    case CanaryStep::Kind::Pause:
      return step.pause ? fmt::format("pause {}", formatDuration(*step.pause))
                        : std::string("pause until promoted");
    case CanaryStep::Kind::Analysis:
      return "analysis " + describeAnalysis(step.analysis);
    case CanaryStep::Kind::Approval:
      return "approval " + join(step.approval);
    case CanaryStep::Kind::Checks:
      return "checks " + describeChecks(step.checks);
    case CanaryStep::Kind::SetHeaderRoute: {
      const auto& route = step.header_route;
      return fmt::format("setHeaderRoute {} {} {} \"{}\"",
                         route.header.empty() ? "cookie" : "header",
                         route.header.empty() ? route.cookie : route.header, toString(route.match),
                         route.value);
    }
  }
  return "unknown";
}

std::string summarize(const Config& config) {
  std::string out;
  for (const auto& app : config.applications) {
    out += fmt::format("Application {}: {} service{}\n", app.name, app.services.size(),
                       app.services.size() == 1 ? "" : "s");
    for (const auto& svc : app.services) {
      std::vector<std::string> parts;
      if (svc.local) {
        std::string command;
        for (const auto& arg : svc.local->command) command += (command.empty() ? "" : " ") + arg;
        parts.push_back("local: " + command);
      }
      if (!svc.image.empty()) parts.push_back("image: " + svc.image);
      parts.push_back(fmt::format("instances: {}", svc.instances));
      parts.push_back("health: " + svc.health.path);
      out += fmt::format("  service {}  ({})\n", svc.name, join(parts));
    }
  }
  for (const auto& env : config.environments) {
    std::vector<std::string> parts;
    parts.push_back(env.promotes_from.empty() ? std::string("deploys any version")
                                              : "promotes from " + env.promotes_from);
    if (!env.approvals.roles.empty()) {
      parts.push_back("approvals: " + join(env.approvals.roles));
    }
    if (env.force_deploy == ForceDeployPolicy::Forbidden) parts.push_back("force deploy forbidden");
    if (!env.windows.empty()) {
      parts.push_back(fmt::format("{} change window(s)", env.windows.size()));
    }
    if (!env.freezes.empty()) parts.push_back(fmt::format("{} freeze(s)", env.freezes.size()));
    out += fmt::format("Environment {}: {} ({})\n", env.name, toString(env.strategy), join(parts));
    switch (env.strategy) {
      case StrategyKind::Rolling:
        out += fmt::format("  rolling: maxSurge {}, maxUnavailable {}\n",
                           intOrPercent(env.rolling.max_surge),
                           intOrPercent(env.rolling.max_unavailable));
        break;
      case StrategyKind::BlueGreen: {
        const auto& bg = env.blue_green;
        if (bg.pre_promotion_analysis) {
          out += "  pre-promotion analysis: " + describeAnalysis(*bg.pre_promotion_analysis) + "\n";
        }
        if (bg.pre_promotion_checks) {
          out += "  pre-promotion checks: " + describeChecks(*bg.pre_promotion_checks) + "\n";
        }
        out += fmt::format("  switch: {}\n",
                           bg.auto_promotion
                               ? "automatic after " + formatDuration(bg.auto_promotion_after)
                               : std::string("on runway promote"));
        out += fmt::format("  verification: {}{}\n", formatDuration(bg.verification),
                           bg.post_promotion_analysis
                               ? " with analysis " + describeAnalysis(*bg.post_promotion_analysis)
                               : std::string());
        if (bg.post_promotion_checks) {
          out += "  post-promotion checks: " + describeChecks(*bg.post_promotion_checks) + "\n";
        }
        out += fmt::format("  old colour kept for {}\n", formatDuration(bg.scale_down_delay));
        break;
      }
      case StrategyKind::Canary: {
        std::size_t index = 0;
        for (const auto& step : env.canary.steps) {
          out += fmt::format("  step {}: {}\n", ++index, describeStep(step));
        }
        if (env.canary.analysis) {
          out += fmt::format("  background analysis from step {}: {}\n",
                             env.canary.analysis->starting_step + 1,
                             describeAnalysis(env.canary.analysis->analysis));
        }
        break;
      }
    }
    if (env.post_deploy.duration.count() > 0) {
      out += fmt::format("  post-deploy watch: {}{}\n", formatDuration(env.post_deploy.duration),
                         env.post_deploy.analysis.templates.empty()
                             ? std::string()
                             : " with analysis " + describeAnalysis(env.post_deploy.analysis));
    }
  }
  if (!config.templates.empty()) {
    std::vector<std::string> names;
    for (const auto& tpl : config.templates) names.push_back(tpl.name);
    out += fmt::format("AnalysisTemplates ({}): {}\n", names.size(), join(names));
  }
  return out;
}

}  // namespace runway::config
