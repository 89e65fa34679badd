#include "runway/config/summary.hpp"

#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "runway/core/duration.hpp"

namespace runway::config {
namespace {

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

std::string describeRef(const AnalysisRef& ref) {
  std::string text = join(ref.templates, ", ");
  if (ref.interval.count() > 0) text += fmt::format(" every {}", formatDuration(ref.interval));
  if (!ref.thresholds.empty()) {
    std::vector<std::string> parts;
    for (const auto& [k, v] : ref.thresholds) parts.push_back(fmt::format("{}={}", k, v));
    text += fmt::format(" (thresholds {})", join(parts, ", "));
  }
  return text;
}

std::string describeChecks(const CheckRef& checks) {
  std::vector<std::string> parts;
  if (!checks.smoke.empty()) parts.push_back("smoke=" + checks.smoke);
  if (!checks.health.empty()) parts.push_back("health=" + checks.health);
  return join(parts, " ");
}

std::string describeStepImpl(const CanaryStep& step) {
  using Kind = CanaryStep::Kind;
  switch (step.kind) {
    case Kind::SetWeight:
      return fmt::format("setWeight {}%", step.weight);
    case Kind::Pause:
      return step.pause ? fmt::format("pause {}", formatDuration(*step.pause))
                        : std::string("pause until promoted");
    case Kind::Analysis:
      return "analysis " + describeRef(step.analysis);
    case Kind::Approval:
      return "approval " + join(step.approval, " + ");
    case Kind::Checks:
      return "checks " + describeChecks(step.checks);
    case Kind::SetHeaderRoute: {
      const auto& r = step.header_route;
      const auto what = r.header.empty() ? "cookie " + r.cookie : "header " + r.header;
      return fmt::format("setHeaderRoute {} {} \"{}\"", what, toString(r.match), r.value);
    }
  }
  return "?";
}

std::string percentOrCount(const IntOrPercent& v) {
  return v.percent ? fmt::format("{}%", v.value) : fmt::format("{}", v.value);
}

void appendStrategy(std::string& out, const Environment& env) {
  switch (env.strategy) {
    case StrategyKind::Rolling:
      fmt::format_to(std::back_inserter(out), "    rolling: maxSurge {}, maxUnavailable {}\n",
                 percentOrCount(env.rolling.max_surge), percentOrCount(env.rolling.max_unavailable));
      break;
    case StrategyKind::BlueGreen: {
      const auto& bg = env.blue_green;
      int n = 1;
      fmt::format_to(std::back_inserter(out), "    blue-green:\n");
      fmt::format_to(std::back_inserter(out), "      {}. start the new colour at full scale with no traffic\n", n++);
      if (bg.pre_promotion_checks) {
        fmt::format_to(std::back_inserter(out), "      {}. pre-promotion checks: {}\n", n++, describeChecks(*bg.pre_promotion_checks));
      }
      if (bg.pre_promotion_analysis) {
        fmt::format_to(std::back_inserter(out), "      {}. pre-promotion analysis: {}\n", n++, describeRef(*bg.pre_promotion_analysis));
      }
      if (bg.auto_promotion) {
        fmt::format_to(std::back_inserter(out), "      {}. switch traffic automatically{}\n", n++,
                   bg.auto_promotion_after.count() > 0
                       ? " after " + formatDuration(bg.auto_promotion_after)
                       : std::string());
      } else {
        fmt::format_to(std::back_inserter(out), "      {}. switch traffic when promoted (runway promote)\n", n++);
      }
      std::string verify = fmt::format("verify for {}", formatDuration(bg.verification));
      if (bg.post_promotion_analysis) verify += ": " + describeRef(*bg.post_promotion_analysis);
      if (bg.post_promotion_checks) verify += "; checks " + describeChecks(*bg.post_promotion_checks);
      fmt::format_to(std::back_inserter(out), "      {}. {}\n", n++, verify);
      fmt::format_to(std::back_inserter(out), "      {}. keep the old colour {} for a fast switch back, then retire it\n", n++,
                 formatDuration(bg.scale_down_delay));
      break;
    }
    case StrategyKind::Canary: {
      fmt::format_to(std::back_inserter(out), "    canary:\n");
      int n = 1;
      for (const auto& step : env.canary.steps) {
        fmt::format_to(std::back_inserter(out), "      {}. {}\n", n++, describeStepImpl(step));
      }
      if (env.canary.analysis) {
        fmt::format_to(std::back_inserter(out), "      background analysis from step {}: {}\n",
                   env.canary.analysis->starting_step + 1, describeRef(env.canary.analysis->analysis));
      }
      fmt::format_to(std::back_inserter(out),
                     "      keep the old version {} after success; the first release {}\n",
                     formatDuration(env.canary.scale_down_delay),
                     env.canary.steps_on_initial_deploy ? "runs the steps too"
                                                        : "takes all traffic without the steps");
      break;
    }
  }
}

std::string summarizeImpl(const Config& cfg) {
  std::string out;
  for (const auto& app : cfg.applications) {
    fmt::format_to(std::back_inserter(out), "application {}: {} service{}\n", app.name, app.services.size(),
               app.services.size() == 1 ? "" : "s");
    for (const auto& svc : app.services) {
      std::string run = svc.local ? join(svc.local->command, " ") : std::string();
      const std::string image = svc.kubernetes ? svc.kubernetes->image : svc.image;
      if (!image.empty()) run += (run.empty() ? "image " : "; image ") + image;
      fmt::format_to(std::back_inserter(out), "  {:<14} {} instance{}  health {}  run: {}\n", svc.name, svc.instances,
                 svc.instances == 1 ? " " : "s", svc.health.path, run);
    }
  }
  fmt::format_to(std::back_inserter(out), "\n{} environment{}\n", cfg.environments.size(), cfg.environments.size() == 1 ? "" : "s");
  for (const auto& env : cfg.environments) {
    std::vector<std::string> facts;
    const auto& sim = env.runtime.simulated;
    facts.push_back(env.runtime.kind == RuntimeSpec::Kind::Local ? "runtime local"
                    : env.runtime.kind == RuntimeSpec::Kind::Simulated
                        ? fmt::format("runtime simulated (ready after {}, {} req/s, error rate {}, P95 {}, seed {})",
                                      formatDuration(sim.ready_after), sim.requests_per_second,
                                      sim.error_rate, formatDuration(sim.latency_p95), sim.seed)
                        : fmt::format("runtime kubernetes ({}{}, namespace {}, traffic by {})",
                                      env.runtime.kubernetes.kubeconfig.empty()
                                          ? "in-cluster"
                                          : env.runtime.kubernetes.kubeconfig,
                                      env.runtime.kubernetes.context.empty()
                                          ? ""
                                          : " context " + env.runtime.kubernetes.context,
                                      env.runtime.kubernetes.namespace_name,
                                      env.runtime.kubernetes.traffic ==
                                              KubernetesRuntime::Traffic::HttpRoute
                                          ? "HTTPRoute " + env.runtime.kubernetes.gateway
                                          : "the Service's selector (replica ratio)"));
    facts.push_back(env.promotes_from.empty() ? "deploys any version"
                                              : "promotes from " + env.promotes_from);
    if (!env.approvals.roles.empty()) {
      facts.push_back("approvals: " + join(env.approvals.roles, " + ") +
                      (env.approvals.prevent_self_approval ? " (no self-approval)" : ""));
    }
    if (env.force_deploy == ForceDeployPolicy::Forbidden) facts.push_back("force deploy forbidden");
    for (const auto& w : env.windows) {
      std::vector<std::string> days;
      for (auto d : w.days) days.emplace_back(toString(d));
      facts.push_back(fmt::format("window {} {:02}:{:02}-{:02}:{:02} {}",
                                  days.empty() ? std::string("daily") : join(days, ","),
                                  w.start_minute / 60, w.start_minute % 60, w.end_minute / 60,
                                  w.end_minute % 60, w.timezone));
    }
    if (!env.freezes.empty()) facts.push_back(fmt::format("{} freeze(s)", env.freezes.size()));
    fmt::format_to(std::back_inserter(out), "  {} ({}): {}\n", env.name, toString(env.strategy), join(facts, ", "));
    appendStrategy(out, env);
    for (const auto& r : env.traffic.routes) {
      const auto what = r.header.empty() ? "cookie " + r.cookie : "header " + r.header;
      fmt::format_to(std::back_inserter(out), "    route {} {} \"{}\" to the new version\n", what,
                     toString(r.match), r.value);
    }
    if (env.traffic.sticky) {
      fmt::format_to(std::back_inserter(out), "    sticky sessions: cookie {}, max age {}\n",
                     env.traffic.sticky->cookie, formatDuration(env.traffic.sticky->max_age));
    }
    if (const auto& l = env.traffic.listener) {
      fmt::format_to(std::back_inserter(out),
                     "    listener: header timeout {}, idle timeout {}, request timeout {}, "
                     "request body at most {} bytes\n",
                     formatDuration(l->header_timeout), formatDuration(l->idle_timeout),
                     formatDuration(l->request_timeout), l->max_request_body);
      if (l->tls) {
        fmt::format_to(std::back_inserter(out), "    listener TLS: certificate {}, key {}\n",
                       l->tls->certificate, l->tls->key);
      }
    }
    if (env.post_deploy.duration.count() > 0) {
      fmt::format_to(std::back_inserter(out), "    post-deploy watch {}: {}\n", formatDuration(env.post_deploy.duration),
                 describeRef(env.post_deploy.analysis));
    }
    if (!env.checklist.empty()) {
      std::vector<std::string> items;
      for (const auto& item : Checklist::itemNames()) {
        const auto* by = env.checklist.waivableBy(item);
        if (by == nullptr) continue;
        items.push_back(by->empty() ? item : item + " (waivable by " + join(*by, ", ") + ")");
      }
      fmt::format_to(std::back_inserter(out), "    checklist before approvals: {}\n", join(items, ", "));
    }
  }
  fmt::format_to(std::back_inserter(out), "\n{} analysis template{}\n", cfg.templates.size(), cfg.templates.size() == 1 ? "" : "s");
  for (const auto& tmpl : cfg.templates) {
    for (const auto& m : tmpl.metrics) {
      std::vector<std::string> facts;
      facts.push_back(fmt::format("{} {}", toString(m.provider), m.query));
      if (!m.failure_condition.empty()) facts.push_back("fails when " + m.failure_condition);
      if (!m.success_condition.empty()) facts.push_back("passes when " + m.success_condition);
      if (m.for_duration.count() > 0) facts.push_back("for " + formatDuration(m.for_duration));
      if (m.interval.count() > 0) facts.push_back("every " + formatDuration(m.interval));
      if (m.count > 0) facts.push_back(fmt::format("{} measurements", m.count));
      facts.push_back(fmt::format("no data: {}", toString(m.no_data)));
      if (m.dry_run) facts.push_back("dry run");
      fmt::format_to(std::back_inserter(out), "  {}/{}: {}\n", tmpl.name, m.name, join(facts, ", "));
    }
  }
  return out;
}

}  // namespace

std::string describeStep(const CanaryStep& step) { return describeStepImpl(step); }

std::string summarize(const Config& config) { return summarizeImpl(config); }

}  // namespace runway::config
