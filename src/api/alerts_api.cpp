#include "alerts_api.hpp"

#include <mutex>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runway/alerts/alertmanager.hpp"
#include "runway/api/tokens.hpp"
#include "runway/notify/message.hpp"
#include "runway/notify/render.hpp"

namespace runway::api {
namespace {

namespace json = boost::json;

std::string alertSubject(const alerts::Alert& alert) { return "alert:" + alert.identity(); }

// What runway already did about `alert`, from the audit log; `incident` receives the incident
// its last firing opened or joined ("" = none) (in `incident_out`).
Result<alerts::AlertHistory> historyOf(store::Store& store, const alerts::Alert& alert, std::string& incident_out) {
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
    if (!ec && data.is_object() && data.as_object().contains("incident") && data.at("incident").is_string() &&
        !data.at("incident").as_string().empty()) {
      incident_out = std::string(data.at("incident").as_string());
    }
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

// A deployer's bearer token, or (when the server has a key) an HMAC-SHA256 signature over
// "<X-Runway-Timestamp>.<body>" in X-Runway-Signature, inside a 300 s replay window.
Result<Identity> alertSender(const std::shared_ptr<ApiContext>& c, Authenticator& tokens, const HttpRequest& req) {
  constexpr std::string_view kBearer = "Bearer ";
  const auto auth = req.header("authorization");
  if (auth.size() > kBearer.size() && auth.compare(0, kBearer.size(), kBearer) == 0) {
    auto who = tokens.authenticate(std::string_view(auth).substr(kBearer.size()));
    if (!who) return fail(who.error());
    if (!hasRole(*who, kDeployer)) {
      return fail(ErrorCode::PermissionDenied,
                  fmt::format("\"{}\" lacks the role \"deployer\" needed for POST /api/v1/alerts/alertmanager", who->name));
    }
    return who;
  }
  const auto signature = req.header("x-runway-signature");
  if (!signature.empty()) {
    if (c->alerts_hmac_key.empty()) {
      return fail(ErrorCode::Unauthenticated,
                  "signed alerts are not enabled on this server (set RUNWAY_ALERTS_HMAC_KEY for runway serve)");
    }
    auto ok = notify::verifyWebhookSignature(c->alerts_hmac_key, req.header("x-runway-timestamp"), signature, req.body,
                                             toUnixMillis(c->clock->now()) / 1000, std::chrono::seconds(300));
    if (!ok) return fail(ErrorCode::Unauthenticated, "alert signature refused: " + ok.error().message);
    return Identity{"alertmanager (signed)", {std::string(kDeployer)}, ""};
  }
  return fail(ErrorCode::Unauthenticated,
              "missing bearer token (Authorization: Bearer <token>) or signature (X-Runway-Signature)");
}

HttpResponse receiveAlertmanager(const std::shared_ptr<ApiContext>& c, Authenticator& tokens, HttpRequest& req) {
  auto sender = alertSender(c, tokens, req);
  if (!sender) return errorResponse(sender.error(), req.request_id);
  req.identity = std::move(*sender);
  auto webhook = alerts::parseAlertmanagerWebhook(req.body);
  if (!webhook) return errorResponse(webhook.error(), req.request_id);
  // One alert delivery at a time: a duplicate delivered concurrently sees the first one's record.
  static std::mutex serial;
  std::lock_guard lock(serial);
  const auto cfg = c->controller->config();
  json::array outcomes;
  for (const auto& alert : webhook->alerts) {
    const TimePoint now = c->clock->now();
    std::string incident_id;
    auto history = historyOf(*c->store, alert, incident_id);
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
    // An automatic rollback or an immediate_incident_response opens an incident (or joins the one
    // open in the environment) carrying the alert as evidence; a resolution goes on its timeline.
    if (c->incidents) {
      const bool rolled_back = taken == "rollback";
      if (alert.status == "firing" &&
          (rolled_back || d.rule->action == config::AlertAction::ImmediateIncidentResponse)) {
        incident::Opening o;
        o.title = fmt::format("{}: alert {}{}", d.environment, d.rule->alert, rolled_back ? ", rolled back" : "");
        o.severity = d.rule->action == config::AlertAction::ImmediateIncidentResponse || d.rule->severity == "critical"
                         ? 1
                         : (d.rule->severity == "warning" ? 2 : 3);
        if (!cfg->severities.empty() && cfg->findSeverity(o.severity) == nullptr) o.severity = cfg->severities.front().level;
        o.environment = d.environment;
        o.deployment = deployment;
        o.reason = reason;
        o.evidence = {{"alert", d.rule->alert}, {"startsAt", alert.starts_at}};
        if (auto it = alert.annotations.find("summary"); it != alert.annotations.end()) o.evidence.emplace_back("summary", it->second);
        if (!alert.generator_url.empty()) o.evidence.emplace_back("source", alert.generator_url);
        o.actor = actor;
        auto inc = c->incidents->openOrJoin(std::move(o));
        if (inc) {
          incident_id = inc->id;
        } else {
          spdlog::error("alert {}: cannot open an incident: {}", alert.label("alertname"), inc.error().message);
        }
      } else if (alert.status == "resolved" && !incident_id.empty()) {
        auto noted = c->incidents->apply(incident_id, incident::Verb::Note, actor, d.reason);
        if (!noted) spdlog::warn("alert {}: incident {}: {}", alert.label("alertname"), incident_id, noted.error().message);
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
                            {"incident", incident_id},
                            {"why", why}};
    auto stored = c->store->enqueueNotifications(
        notify::route(*cfg, m), {store::NewEvent{now, actor, kind, alertSubject(alert), reason, json::serialize(data)}});
    if (!stored) return errorResponse(stored.error(), req.request_id);
    spdlog::info("alert {} ({}): {}", alert.label("alertname"), alert.status, reason);
    auto outcome = alertOutcome(alert, d, taken, deployment, why);
    outcome["incident"] = incident_id.empty() ? json::value(nullptr) : json::value(incident_id);
    outcomes.push_back(std::move(outcome));
  }
  return HttpResponse::json(200, json::serialize(json::object{{"alerts", std::move(outcomes)}}));
}

}  // namespace

std::vector<Route> alertRoutes(std::shared_ptr<ApiContext> context) {
  std::vector<Route> routes;
  // Authenticated here rather than by the route's role: a signature is a second way in.
  auto tokens = storeAuthenticator(context->store, context->clock);
  routes.push_back(Route{"POST", "/api/v1/alerts/alertmanager", std::nullopt,
                         [c = std::move(context), tokens](HttpRequest& req) { return receiveAlertmanager(c, *tokens, req); }});
  return routes;
}

}  // namespace runway::api
