#include "notification_config.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "runway/core/suggest.hpp"

namespace runway::config::detail {
namespace {

bool isVariableName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool isWebUrl(std::string_view url) {
  return (url.rfind("http://", 0) == 0 && url.size() > 7) ||
         (url.rfind("https://", 0) == 0 && url.size() > 8);
}

// Reads `key` (an environment variable name) into `out`; required.
void readSecretEnv(Reader& r, const Fields& f, std::string_view key, std::string& out) {
  const auto v = f.require(key);
  if (!v) return;
  const auto text = readString(r, *v);
  if (!text) return;
  if (!isVariableName(*text)) {
    r.error(v->location, v->path,
            fmt::format("expected the name of an environment variable that holds the secret, got "
                        "\"{}\" (secrets are never written in the configuration)",
                        *text));
    return;
  }
  out = *text;
}

void readUrl(Reader& r, const Fields& f, std::string_view key, std::string& out, bool required) {
  const auto v = required ? f.require(key) : f.get(key);
  if (!v) return;
  const auto text = readString(r, *v);
  if (!text) return;
  if (!isWebUrl(*text)) {
    r.error(v->location, v->path, fmt::format("expected an http:// or https:// URL, got \"{}\"", *text));
    return;
  }
  out = *text;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
}

}  // namespace

const std::vector<std::string>& notificationChannelKeys() {
  static const std::vector<std::string> keys{"slack", "pagerduty", "webhook", "timeout", "retry"};
  return keys;
}

void parseNotificationChannel(Reader& r, const Fields& spec, NotificationChannel& channel) {
  const int kinds = static_cast<int>(spec.has("slack")) + static_cast<int>(spec.has("pagerduty")) +
                    static_cast<int>(spec.has("webhook"));
  if (kinds != 1) {
    r.error(spec.self().location, spec.self().path.empty() ? "spec" : spec.self().path,
            "set exactly one of slack, pagerduty or webhook");
  }
  if (auto v = spec.get("slack")) {
    channel.kind = NotificationChannel::Kind::Slack;
    const Fields f(r, *v, {"webhookUrlEnv"});
    if (f.isMap()) readSecretEnv(r, f, "webhookUrlEnv", channel.secret_env);
  } else if (auto pd = spec.get("pagerduty")) {
    channel.kind = NotificationChannel::Kind::PagerDuty;
    channel.url = "https://events.pagerduty.com";
    const Fields f(r, *pd, {"routingKeyEnv", "url", "source", "changeEvents"});
    if (f.isMap()) {
      readSecretEnv(r, f, "routingKeyEnv", channel.secret_env);
      readUrl(r, f, "url", channel.url, false);
      f.str("source", channel.source);
      f.boolean("changeEvents", channel.change_events);
    }
  } else if (auto wh = spec.get("webhook")) {
    channel.kind = NotificationChannel::Kind::Webhook;
    const Fields f(r, *wh, {"url", "secretEnv"});
    if (f.isMap()) {
      readUrl(r, f, "url", channel.url, true);
      readSecretEnv(r, f, "secretEnv", channel.secret_env);
    }
  }
  spec.duration("timeout", channel.timeout, Duration{1});
  if (auto v = spec.get("retry")) {
    const Fields f(r, *v, {"initialBackoff", "maxBackoff", "maxAttempts"});
    channel.retry.location = v->location;
    if (f.isMap()) {
      f.duration("initialBackoff", channel.retry.initial_backoff, Duration{1});
      f.duration("maxBackoff", channel.retry.max_backoff, Duration{1});
      f.integer("maxAttempts", channel.retry.max_attempts, 1, 1000);
      if (channel.retry.max_backoff < channel.retry.initial_backoff) {
        r.error(v->location, v->path + ".maxBackoff", "maxBackoff must not be shorter than initialBackoff");
      }
    }
  }
}

std::vector<NotificationRoute> parseNotificationRoutes(Reader& r, const Val& v) {
  std::vector<NotificationRoute> routes;
  const auto items = readList(r, v);
  if (!items) return routes;
  const auto& known = notificationEvents();
  for (const auto& item : *items) {
    NotificationRoute route;
    route.location = item.location;
    const Fields f(r, item, {"channel", "events"});
    if (!f.isMap()) continue;
    f.str("channel", route.channel, true);
    if (auto ev = f.get("events")) {
      if (auto list = readList(r, *ev)) {
        for (const auto& e : *list) {
          const auto text = readString(r, e);
          if (!text) continue;
          if (std::find(known.begin(), known.end(), *text) == known.end()) {
            if (auto suggestion = closestMatch(*text, known)) {
              r.error(e.location, e.path,
                      fmt::format("unknown event \"{}\" (did you mean \"{}\"?)", *text, *suggestion));
            } else {
              r.error(e.location, e.path, fmt::format("unknown event \"{}\"", *text));
            }
            continue;
          }
          route.events.push_back(*text);
        }
      }
    }
    routes.push_back(std::move(route));
  }
  return routes;
}

namespace {

std::string unknownChannel(const std::string& channel, const std::vector<std::string>& names) {
  if (auto suggestion = closestMatch(channel, names)) {
    return fmt::format("unknown NotificationChannel \"{}\" (did you mean \"{}\"?)", channel, *suggestion);
  }
  if (names.empty()) return fmt::format("unknown NotificationChannel \"{}\" (none is defined)", channel);
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  return fmt::format("unknown NotificationChannel \"{}\" (defined: {})", channel, all);
}

}  // namespace

void checkNotificationRoutes(const Config& config, std::vector<Diagnostic>& out) {
  std::map<std::string, SourceLocation> seen;
  std::vector<std::string> names;
  for (const auto& ch : config.channels) {
    if (ch.name.empty()) continue;
    const auto [it, inserted] = seen.emplace(ch.name, ch.location);
    if (!inserted) {
      out.push_back(Diagnostic{ch.location, "metadata.name",
                               fmt::format("duplicate NotificationChannel \"{}\" (first defined at {}:{}:{})",
                                           ch.name, it->second.file, it->second.line, it->second.column)});
    } else {
      names.push_back(ch.name);
    }
  }
  for (const auto& env : config.environments) {
    for (std::size_t i = 0; i < env.notifications.size(); ++i) {
      const auto& route = env.notifications[i];
      if (route.channel.empty() || config.findChannel(route.channel) != nullptr) continue;
      out.push_back(Diagnostic{route.location, fmt::format("spec.notifications[{}].channel", i),
                               unknownChannel(route.channel, names)});
    }
    // The checklist's notified item reads deliveries to a channel that must exist.
    if (const auto& n = env.checklist.notified; n && !n->channel.empty() && config.findChannel(n->channel) == nullptr) {
      out.push_back(Diagnostic{n->location, "spec.checklist.notified.channel", unknownChannel(n->channel, names)});
    }
  }
}

}  // namespace runway::config::detail
