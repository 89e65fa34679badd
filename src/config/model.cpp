#include "runway/config/model.hpp"

#include <algorithm>
#include <set>

namespace runway::config {
namespace {

template <typename T>
const T* findByName(const std::vector<T>& items, std::string_view name) {
  for (const auto& item : items) {
    if (item.name == name) return &item;
  }
  return nullptr;
}

}  // namespace

const Application* Config::findApplication(std::string_view name) const {
  return findByName(applications, name);
}

const std::vector<std::string>* Checklist::waivableBy(std::string_view item) const {
  if (item == "codeReview" && code_review) return &code_review->waivable_by;
  if (item == "ciChecks" && ci_checks) return &ci_checks->waivable_by;
  if (item == "vulnerabilities" && vulnerabilities) return &vulnerabilities->waivable_by;
  if (item == "tests" && tests) return &tests->waivable_by;
  if (item == "semver" && semver) return &semver->waivable_by;
  if (item == "backupVerified" && backup_verified) return &backup_verified->waivable_by;
  if (item == "onCall" && on_call) return &on_call->waivable_by;
  if (item == "notified" && notified) return &notified->waivable_by;
  return nullptr;
}

const std::vector<std::string>& Checklist::itemNames() {
  static const std::vector<std::string> names{"codeReview", "ciChecks", "vulnerabilities", "tests", "semver",
                                                "backupVerified", "onCall", "notified"};
  return names;
}

std::vector<std::string> Checklist::waiverRoles() const {
  std::vector<std::string> roles;
  for (const auto& item : itemNames()) {
    if (const auto* by = waivableBy(item)) {
      for (const auto& r : *by) {
        if (std::find(roles.begin(), roles.end(), r) == roles.end()) roles.push_back(r);
      }
    }
  }
  return roles;
}

const Environment* Config::findEnvironment(std::string_view name) const {
  return findByName(environments, name);
}

std::vector<std::string> secretVariableNames(const Config& config) {
  std::set<std::string> names;
  const auto add = [&names](const std::string& name) {
    if (!name.empty()) names.insert(name);
  };
  for (const auto& env : config.environments) {
    for (const auto& name : env.secrets) add(name);
    add(env.preflight.registry.password_env);
  }
  for (const auto& channel : config.channels) add(channel.secret_env);
  for (const auto& t : config.templates) {
    for (const auto& m : t.metrics) {
      add(m.prometheus.bearer_token_env);
      add(m.prometheus.basic_password_env);
    }
  }
  return {names.begin(), names.end()};
}

const AnalysisTemplate* Config::findTemplate(std::string_view name) const {
  return findByName(templates, name);
}

const NotificationChannel* Config::findChannel(std::string_view name) const {
  return findByName(channels, name);
}

const AlertRule* Config::findAlertRule(std::string_view name) const {
  for (const auto& r : alert_rules) {
    if (r.name == name || r.alert == name) return &r;
  }
  return nullptr;
}

const IncidentSeverity* Config::findSeverity(int level) const {
  for (const auto& s : severities) {
    if (s.level == level) return &s;
  }
  return nullptr;
}

const IncidentTemplate* Config::findIncidentTemplate(std::string_view name) const {
  return findByName(incident_templates, name);
}

const std::vector<std::string>& incidentTemplatePlaceholders() {
  static const std::vector<std::string> names{"severity", "title",  "incident", "environment", "status",
                                              "commander", "message", "detected", "time", "duration",
                                              "next_update"};
  return names;
}

std::string_view toString(AlertAction action) {
  switch (action) {
    case AlertAction::AutomaticRollback: return "automatic_rollback";
    case AlertAction::ImmediateIncidentResponse: return "immediate_incident_response";
    case AlertAction::InvestigateAndMitigate: return "investigate_and_mitigate";
    case AlertAction::Investigate: return "investigate";
    case AlertAction::ScaleOrOptimize: return "scale_or_optimize";
    case AlertAction::InvestigateDatabase: return "investigate_database";
  }
  return "investigate";
}

const std::vector<std::string>& notificationEvents() {
  // The engine's notifications (engine::toString(NotifyEvent)) and the controller's own.
  static const std::vector<std::string> events{
      "deployment.started",   "approval.needed",      "deployment.waiting_for_window",
      "deployment.paused",    "deployment.promoted",  "deployment.succeeded",
      "deployment.rolled_back", "deployment.failed",  "deployment.rejected",
      "deployment.superseded", "deployment.degraded", "release.queued",
      "watch.completed",      "analysis.failing",     "incident.opened",
      "alert.firing",         "alert.resolved",       "incident.acknowledged",
      "incident.updated",     "incident.mitigated",   "incident.resolved",
      "incident.update_overdue", "incident.escalated"};
  return events;
}

std::string_view toString(NotificationChannel::Kind kind) {
  switch (kind) {
    case NotificationChannel::Kind::Slack: return "slack";
    case NotificationChannel::Kind::PagerDuty: return "pagerduty";
    case NotificationChannel::Kind::Webhook: return "webhook";
  }
  return "slack";
}

const SmokeSuite* Application::findSuite(std::string_view suite) const {
  return findByName(smoke, suite);
}

const std::vector<Hook>& Hooks::at(HookPoint point) const {
  switch (point) {
    case HookPoint::PreDeploy:
      return pre_deploy;
    case HookPoint::PostDeploy:
      return post_deploy;
    case HookPoint::PreRollback:
      return pre_rollback;
    case HookPoint::PostRollback:
      return post_rollback;
    case HookPoint::OnAbort:
      return on_abort;
  }
  return pre_deploy;
}

const Application* Config::applicationFor(const Environment& env) const {
  if (!env.application.empty()) return findApplication(env.application);
  if (applications.size() == 1) return &applications.front();
  return nullptr;
}

std::string_view toString(StrategyKind kind) {
  switch (kind) {
    case StrategyKind::Rolling:
      return "rolling";
    case StrategyKind::BlueGreen:
      return "blue-green";
    case StrategyKind::Canary:
      return "canary";
  }
  return "unknown";
}

std::string_view toString(NoDataPolicy policy) {
  switch (policy) {
    case NoDataPolicy::Pass:
      return "pass";
    case NoDataPolicy::Fail:
      return "fail";
    case NoDataPolicy::Inconclusive:
      return "inconclusive";
    case NoDataPolicy::Error:
      return "error";
  }
  return "unknown";
}

std::string_view toString(MetricSpec::Provider provider) {
  switch (provider) {
    case MetricSpec::Provider::Builtin:
      return "builtin";
    case MetricSpec::Provider::Prometheus:
      return "prometheus";
    case MetricSpec::Provider::Web:
      return "web";
    case MetricSpec::Provider::Judge:
      return "judge";
  }
  return "unknown";
}

std::string_view toString(CanaryStep::Kind kind) {
  switch (kind) {
    case CanaryStep::Kind::SetWeight:
      return "setWeight";
    case CanaryStep::Kind::Pause:
      return "pause";
    case CanaryStep::Kind::Analysis:
      return "analysis";
    case CanaryStep::Kind::Approval:
      return "approval";
    case CanaryStep::Kind::Checks:
      return "checks";
    case CanaryStep::Kind::SetHeaderRoute:
      return "setHeaderRoute";
  }
  return "unknown";
}

std::string_view toString(Weekday day) {
  switch (day) {
    case Weekday::Mon:
      return "Mon";
    case Weekday::Tue:
      return "Tue";
    case Weekday::Wed:
      return "Wed";
    case Weekday::Thu:
      return "Thu";
    case Weekday::Fri:
      return "Fri";
    case Weekday::Sat:
      return "Sat";
    case Weekday::Sun:
      return "Sun";
  }
  return "unknown";
}

std::string_view toString(RuntimeSpec::Kind kind) {
  switch (kind) {
    case RuntimeSpec::Kind::Local: return "local";
    case RuntimeSpec::Kind::Kubernetes: return "kubernetes";
    case RuntimeSpec::Kind::Simulated: return "simulated";
  }
  return "unknown";
}

std::string_view toString(HookPoint point) {
  switch (point) {
    case HookPoint::PreDeploy:
      return "preDeploy";
    case HookPoint::PostDeploy:
      return "postDeploy";
    case HookPoint::PreRollback:
      return "preRollback";
    case HookPoint::PostRollback:
      return "postRollback";
    case HookPoint::OnAbort:
      return "onAbort";
  }
  return "unknown";
}

std::string_view toString(Hook::OnFailure policy) {
  switch (policy) {
    case Hook::OnFailure::Fail:
      return "fail";
    case Hook::OnFailure::Continue:
      return "continue";
    case Hook::OnFailure::Rollback:
      return "rollback";
  }
  return "unknown";
}

std::string_view toString(Dependency::Kind kind) {
  switch (kind) {
    case Dependency::Kind::Http:
      return "http";
    case Dependency::Kind::Tcp:
      return "tcp";
    case Dependency::Kind::Command:
      return "command";
  }
  return "unknown";
}

}  // namespace runway::config

namespace runway::config {

std::string_view toString(ForceDeployPolicy policy) {
  return policy == ForceDeployPolicy::Allowed ? "allowed" : "forbidden";
}

std::string_view toString(ProgressDeadlineAction action) {
  return action == ProgressDeadlineAction::Abort ? "abort" : "degrade";
}

std::string_view toString(ConcurrencyPolicy policy) {
  switch (policy) {
    case ConcurrencyPolicy::Reject:
      return "reject";
    case ConcurrencyPolicy::Queue:
      return "queue";
    case ConcurrencyPolicy::Supersede:
      return "supersede";
  }
  return "unknown";
}

std::string_view toString(RollbackPolicy::Gates gates) {
  return gates == RollbackPolicy::Gates::Enforce ? "enforce" : "skip";
}

std::string_view toString(HeaderRoute::Match match) {
  switch (match) {
    case HeaderRoute::Match::Exact:
      return "exact";
    case HeaderRoute::Match::Prefix:
      return "prefix";
    case HeaderRoute::Match::Regex:
      return "regex";
  }
  return "unknown";
}

std::string_view toString(JudgeMetric::Direction direction) {
  switch (direction) {
    case JudgeMetric::Direction::Increase:
      return "increase";
    case JudgeMetric::Direction::Decrease:
      return "decrease";
    case JudgeMetric::Direction::Either:
      return "either";
  }
  return "unknown";
}

}  // namespace runway::config
