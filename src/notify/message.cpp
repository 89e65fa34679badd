#include "runway/notify/message.hpp"

#include <algorithm>
#include <set>

#include <boost/json.hpp>

#include "runway/core/redact.hpp"
#include "runway/notify/render.hpp"

namespace runway::notify {
namespace {

namespace json = boost::json;

std::string stringAt(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->as_string());
}

bool carries(const config::NotificationChannel& channel, const std::string& event) {
  if (channel.kind != config::NotificationChannel::Kind::PagerDuty) return true;
  return pagerDutyAction(event, channel.change_events).has_value();
}

}  // namespace

std::string dedupKeyFor(const std::string& environment, const std::string& deployment_id) {
  std::string key = "runway/" + environment + "/" + deployment_id;
  if (key.size() > 255) key.resize(255);
  return key;
}

std::string defaultSeverity(const std::string& event) {
  if (event == "deployment.failed" || event == "deployment.rolled_back") return "error";
  if (event == "deployment.degraded" || event == "analysis.failing" ||
      event == "deployment.rejected") {
    return "warning";
  }
  if (event == "incident.opened") return "error";
  if (event == "alert.firing") return "warning";
  return "info";
}

std::string toJson(const Message& m) {
  json::array details;
  for (const auto& [k, v] : m.details) details.push_back(json::array{json::string(k), json::string(v)});
  json::object o{{"event", m.event},
                 {"title", m.title},
                 {"reason", m.reason},
                 {"severity", m.severity},
                 {"environment", m.environment},
                 {"application", m.application},
                 {"version", m.version},
                 {"previousVersion", m.previous_version},
                 {"deploymentId", m.deployment_id},
                 {"dedupKey", m.dedup_key},
                 {"at", formatTimestamp(m.at)},
                 {"details", std::move(details)}};
  return json::serialize(o);
}

Result<Message> parseMessage(const std::string& text) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return fail(ErrorCode::InvalidArgument, "a notification message must be a JSON object");
  const auto& o = v.as_object();
  Message m;
  m.event = stringAt(o, "event");
  m.title = stringAt(o, "title");
  m.reason = stringAt(o, "reason");
  m.severity = stringAt(o, "severity");
  m.environment = stringAt(o, "environment");
  m.application = stringAt(o, "application");
  m.version = stringAt(o, "version");
  m.previous_version = stringAt(o, "previousVersion");
  m.deployment_id = stringAt(o, "deploymentId");
  m.dedup_key = stringAt(o, "dedupKey");
  if (m.event.empty() || m.dedup_key.empty()) {
    return fail(ErrorCode::InvalidArgument, "a notification message needs an event and a dedup key");
  }
  auto at = parseTimestamp(stringAt(o, "at"));
  if (!at) return fail(ErrorCode::InvalidArgument, "notification message: " + at.error().message);
  m.at = *at;
  if (const auto* d = o.if_contains("details"); d != nullptr && d->is_array()) {
    for (const auto& pair : d->as_array()) {
      if (!pair.is_array() || pair.as_array().size() != 2 || !pair.as_array()[0].is_string() ||
          !pair.as_array()[1].is_string()) {
        return fail(ErrorCode::InvalidArgument, "notification message: details are [name, value] pairs");
      }
      m.details.emplace_back(std::string(pair.as_array()[0].as_string()),
                             std::string(pair.as_array()[1].as_string()));
    }
  }
  return m;
}

namespace {

// The words of a message with the declared secrets and tokens taken out (core/redact.hpp): a
// reason may quote a hook's or a check's words, and the outbox keeps what it sends.
Message redacted(const Message& message) {
  Message out = message;
  const auto& r = secretRedactor();
  out.title = r.redact(out.title);
  out.reason = r.redact(out.reason);
  for (auto& detail : out.details) detail.second = r.redact(detail.second);
  return out;
}

}  // namespace

std::vector<store::NewNotification> route(const config::Config& config, const Message& message) {
  return route(config, message, {});
}

std::vector<store::NewNotification> route(const config::Config& config, const Message& message,
                                          const std::vector<std::string>& also) {
  std::vector<store::NewNotification> out;
  std::vector<std::string> channels;
  if (const auto* env = config.findEnvironment(message.environment)) {
    for (const auto& r : env->notifications) {
      if (r.events.empty() || std::find(r.events.begin(), r.events.end(), message.event) != r.events.end()) {
        channels.push_back(r.channel);
      }
    }
  }
  channels.insert(channels.end(), also.begin(), also.end());
  std::set<std::string> sent;
  std::string body;
  // What the message is about: its subject, else its deployment, else (an alert) its dedup key.
  const std::string& subject = !message.subject.empty()       ? message.subject
                               : !message.deployment_id.empty() ? message.deployment_id
                                                                : message.dedup_key;
  for (const auto& name : channels) {
    const auto* channel = config.findChannel(name);
    if (channel == nullptr || !carries(*channel, message.event) || !sent.insert(name).second) continue;
    if (body.empty()) body = toJson(redacted(message));
    out.push_back(store::NewNotification{message.at, name, message.event, subject, message.environment,
                                         message.dedup_key, body});
  }
  return out;
}

}  // namespace runway::notify
