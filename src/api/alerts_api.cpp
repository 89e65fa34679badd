#include "alerts_api.hpp"

#include <mutex>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runway/alerts/alertmanager.hpp"
#include "runway/notify/message.hpp"

namespace runway::api {
namespace {

namespace json = boost::json;

std::string alertSubject(const alerts::Alert& alert) { return "alert:" + alert.identity(); }

// What runway already did about `alert`, from the audit log.
Result<alerts::AlertHistory> historyOf(store::Store& store, const alerts::Alert& alert) {
  auto events = store.listEvents(store::EventFilter{0, alertSubject(alert), 1000});
  if (!events) return fail(events.error());
  alerts::AlertHistory h;
  for (const auto& e : *events) {
    boost::system::error_code ec;
    const auto data = json::parse(e.data_json, ec);
    const std::string episode =
        !ec && data.is_object() && data.as_object().contains("episode") && data.at("episode").is_string()
            ? std::string(data.at("episode").as_string())
            : std::string();
    if (e.kind == "alert.firing" || e.kind == "alert.rollback") h.episodes_acted_on.push_back(episode);
    if (e.kind == "alert.resolved") h.episodes_resolved.push_back(episode);
    if (e.kind == "alert.rollback") h.last_rollback = e.at;
  }
  return h;
}

std::string notifySeverity(const std::string& rule_severity) {
  if (rule_severity == "critical" || rule_severity == "warning" || rule_severity == "info") return rule_severity;
  return "warning";
}

json::object alertOutcome(const alerts::Alert& alert, const alerts::AlertDecision& d, std::string taken,
                          std::string deployment, std::string why) {
  return json::object{{"alert", alert.label("alertname")},
                      {"status", alert.status},
                      {"fingerprint", alert.fingerprint},
                      {"rule", d.rule != nullptr ? json::value(d.rule->name) : json::value(nullptr)},
                      {"environment", d.environment},
                      {"action", d.rule != nullptr ? json::value(std::string(config::toString(d.rule->action)))
                                                   : json::value(nullptr)},
                      {"taken", std::move(taken)},
                      {"deployment", deployment.empty() ? json::value(nullptr) : json::value(deployment)},
                      {"why", std::move(why)}};
}

HttpResponse receiveAlertmanager(const std::shared_ptr<ApiContext>& c, HttpRequest& req) {
  auto webhook = alerts::parseAlertmanagerWebhook(req.body);
  if (!webhook) return errorResponse(webhook.error(), req.request_id);
  // One alert delivery at a time: a duplicate delivered concurrently sees the first one's record.
  static std::mutex serial;
  std::lock_guard lock(serial);
  const auto cfg = c->controller->config();
  json::array outcomes;
  for (const auto& alert : webhook->alerts) {
    const TimePoint now = c->clock->now();
    auto history = historyOf(*c->store, alert);
    if (!history) return errorResponse(history.error(), req.request_id);
    const auto d = alerts::decide(*cfg, alert, *history, now);
    if (d.kind == alerts::AlertDecision::Kind::Ignore) {
      spdlog::info("alert {} ({}): {}", alert.label("alertname"), alert.status, d.why);
      outcomes.push_back(alertOutcome(alert, d, "none", "", d.why));
      continue;
    }
    const std::string actor = req.identity ? req.identity->name : "alertmanager";
    std::string taken = "notified";
    std::string deployment;
    std::string why = d.why;
    std::string kind = alert.status == "resolved" ? "alert.resolved" : "alert.firing";
    std::string reason = d.reason;
    if (d.kind == alerts::AlertDecision::Kind::Rollback) {
      controller::RollbackRequest r;
      r.environment = d.environment;
      r.reason = d.reason;
      // An alert's rollback is not held by a change window (audited as an emergency).
      r.emergency = true;
      r.actor = controller::Actor{actor, req.identity ? req.identity->roles : std::vector<std::string>{}};
      auto admitted = c->controller->rollback(std::move(r));
      if (admitted) {
        taken = "rollback";
        kind = "alert.rollback";
        deployment = admitted->deployment_id;
        reason = fmt::format("{}; rolling {} back from {} to {} (deployment {})", d.reason, d.environment,
                             admitted->from_version.empty() ? "-" : admitted->from_version, admitted->to_version,
                             deployment);
      } else {
        why = "rollback refused: " + admitted.error().message;
        reason = d.reason + "; " + why;
      }
    }
    notify::Message m;
    m.event = alert.status == "resolved" ? "alert.resolved" : "alert.firing";
    m.title = fmt::format("{}: alert {} {}", d.environment, d.rule->alert, alert.status);
    m.reason = reason;
    m.severity = alert.status == "resolved" ? "info" : notifySeverity(d.rule->severity);
    m.environment = d.environment;
    m.deployment_id = deployment;
    m.dedup_key = "runway/alert/" + alert.identity();
    if (m.dedup_key.size() > 255) m.dedup_key.resize(255);
    m.at = now;
    m.details = {{"action", std::string(config::toString(d.rule->action))}, {"rule", d.rule->name}};
    if (!alert.starts_at.empty()) m.details.emplace_back("startsAt", alert.starts_at);
    if (!alert.generator_url.empty()) m.details.emplace_back("source", alert.generator_url);
    const json::object data{{"episode", alert.episode()},
                            {"alert", alert.label("alertname")},
                            {"rule", d.rule->name},
                            {"action", std::string(config::toString(d.rule->action))},
                            {"deployment", deployment},
                            {"why", why}};
    auto stored = c->store->enqueueNotifications(
        notify::route(*cfg, m), {store::NewEvent{now, actor, kind, alertSubject(alert), reason, json::serialize(data)}});
    if (!stored) return errorResponse(stored.error(), req.request_id);
    spdlog::info("alert {} ({}): {}", alert.label("alertname"), alert.status, reason);
    outcomes.push_back(alertOutcome(alert, d, taken, deployment, why));
  }
  return HttpResponse::json(200, json::serialize(json::object{{"alerts", std::move(outcomes)}}));
}

}  // namespace

std::vector<Route> alertRoutes(std::shared_ptr<ApiContext> context) {
  std::vector<Route> routes;
  routes.push_back(Route{"POST", "/api/v1/alerts/alertmanager", std::string(kDeployer),
                         [c = std::move(context)](HttpRequest& req) { return receiveAlertmanager(c, req); }});
  return routes;
}

}  // namespace runway::api
