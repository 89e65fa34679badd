#include "runway/alerts/alertmanager.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace runway::alerts {
namespace {

namespace json = boost::json;

Result<std::string> stringField(const json::object& o, std::string_view key, std::string_view where,
                                bool required) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) return fail(ErrorCode::InvalidArgument, fmt::format("{}{} is required", where, key));
    return std::string();
  }
  if (!v->is_string()) return fail(ErrorCode::InvalidArgument, fmt::format("{}{} must be a string", where, key));
  return std::string(v->as_string());
}

Result<std::map<std::string, std::string>> stringMap(const json::object& o, std::string_view key,
                                                     std::string_view where) {
  std::map<std::string, std::string> out;
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_object()) return fail(ErrorCode::InvalidArgument, fmt::format("{}{} must be an object", where, key));
  for (const auto& kv : v->as_object()) {
    if (!kv.value().is_string()) {
      return fail(ErrorCode::InvalidArgument, fmt::format("{}{}.{} must be a string", where, key, std::string(kv.key())));
    }
    out.emplace(std::string(kv.key()), std::string(kv.value().as_string()));
  }
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

std::string Alert::label(const std::string& name) const {
  auto it = labels.find(name);
  return it == labels.end() ? std::string() : it->second;
}

std::string Alert::identity() const {
  if (!fingerprint.empty()) return fingerprint;
  std::string out;
  for (const auto& [k, v] : labels) out += k + "=" + v + ",";
  return out;
}

std::string Alert::episode() const { return identity() + "@" + starts_at; }

Result<AlertmanagerWebhook> parseAlertmanagerWebhook(const std::string& body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return fail(ErrorCode::InvalidArgument, "body is not a JSON object");
  const auto& o = v.as_object();
  AlertmanagerWebhook w;
  auto version = stringField(o, "version", "", true);
  if (!version) return fail(version.error());
  if (*version != "4") {
    return fail(ErrorCode::InvalidArgument, fmt::format("webhook version \"{}\" is not supported (4 is)", *version));
  }
  w.version = *version;
  auto group_key = stringField(o, "groupKey", "", false);
  auto status = stringField(o, "status", "", true);
  auto receiver = stringField(o, "receiver", "", false);
  auto external = stringField(o, "externalURL", "", false);
  for (const auto* r : {&group_key, &status, &receiver, &external}) {
    if (!*r) return fail(r->error());
  }
  // The group's status is Alertmanager's too: a payload that says anything else is not its.
  if (*status != "firing" && *status != "resolved") {
    return fail(ErrorCode::InvalidArgument, fmt::format("status must be firing or resolved, got \"{}\"", *status));
  }
  w.group_key = *group_key;
  w.status = *status;
  w.receiver = *receiver;
  w.external_url = *external;
  const auto* alerts = o.if_contains("alerts");
  if (alerts == nullptr || !alerts->is_array()) return fail(ErrorCode::InvalidArgument, "alerts must be an array");
  std::size_t i = 0;
  for (const auto& item : alerts->as_array()) {
    const std::string where = fmt::format("alerts[{}].", i++);
    if (!item.is_object()) return fail(ErrorCode::InvalidArgument, where.substr(0, where.size() - 1) + " must be an object");
    const auto& a = item.as_object();
    Alert alert;
    auto st = stringField(a, "status", where, true);
    if (!st) return fail(st.error());
    if (*st != "firing" && *st != "resolved") {
      return fail(ErrorCode::InvalidArgument, fmt::format("{}status must be firing or resolved, got \"{}\"", where, *st));
    }
    alert.status = *st;
    auto labels = stringMap(a, "labels", where);
    if (!labels) return fail(labels.error());
    alert.labels = std::move(*labels);
    auto annotations = stringMap(a, "annotations", where);
    if (!annotations) return fail(annotations.error());
    alert.annotations = std::move(*annotations);
    auto starts = stringField(a, "startsAt", where, false);
    auto ends = stringField(a, "endsAt", where, false);
    auto gen = stringField(a, "generatorURL", where, false);
    auto fp = stringField(a, "fingerprint", where, false);
    for (const auto* r : {&starts, &ends, &gen, &fp}) {
      if (!*r) return fail(r->error());
    }
    alert.starts_at = *starts;
    alert.ends_at = *ends;
    alert.generator_url = *gen;
    alert.fingerprint = *fp;
    w.alerts.push_back(std::move(alert));
  }
  return w;
}

const config::AlertRule* ruleFor(const config::Config& config, const Alert& alert) {
  if (auto name = alert.label("runway_rule"); !name.empty()) {
    if (const auto* r = config.findAlertRule(name)) return r;
  }
  if (auto name = alert.label("alertname"); !name.empty()) return config.findAlertRule(name);
  return nullptr;
}

AlertDecision decide(const config::Config& config, const Alert& alert, const AlertHistory& history, TimePoint now) {
  AlertDecision d;
  d.rule = ruleFor(config, alert);
  if (d.rule == nullptr) {
    d.why = fmt::format("no AlertRule matches alert \"{}\"", alert.label("alertname"));
    return d;
  }
  d.environment = d.rule->environment;
  const std::string summary = alert.annotations.count("summary") != 0 ? alert.annotations.at("summary") : d.rule->alert;
  const std::string episode = alert.episode();
  if (alert.status == "resolved") {
    if (contains(history.episodes_resolved, episode)) {
      d.why = "resolution already recorded";
      return d;
    }
    d.kind = AlertDecision::Kind::Notify;
    d.reason = fmt::format("alert {} resolved: {}", d.rule->alert, summary);
    return d;
  }
  if (contains(history.episodes_acted_on, episode)) {
    d.why = "this firing was already handled (duplicate delivery)";
    return d;
  }
  d.reason = fmt::format("alert {} firing: {}", d.rule->alert, summary);
  if (d.rule->action != config::AlertAction::AutomaticRollback) {
    d.kind = AlertDecision::Kind::Notify;
    return d;
  }
  if (history.last_rollback && now - *history.last_rollback < d.rule->cooldown) {
    d.kind = AlertDecision::Kind::Notify;
    d.why = fmt::format("no second rollback: this alert rolled {} back at {}, within its cooldown", d.environment,
                        formatTimestamp(*history.last_rollback));
    return d;
  }
  d.kind = AlertDecision::Kind::Rollback;
  return d;
}

}  // namespace runway::alerts
