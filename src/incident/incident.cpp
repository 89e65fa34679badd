#include "runway/incident/incident.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace runway::incident {
namespace {

namespace json = boost::json;

std::string field(const json::value& data, std::string_view key) {
  if (!data.is_object()) return {};
  const auto* v = data.as_object().if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string minutes(Duration d) {
  const auto total = d.count() / 1000;
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m {:02}s", total / 60, total % 60);
  return fmt::format("{}h {:02}m", total / 3600, (total % 3600) / 60);
}

store::NewEvent incidentEvent(const Incident& incident, TimePoint at, std::string actor, std::string kind, std::string reason,
                      json::object data) {
  return store::NewEvent{at, std::move(actor), std::move(kind), incident.id, std::move(reason), json::serialize(data)};
}

}  // namespace

std::string_view toString(Status status) {
  switch (status) {
    case Status::Open: return "open";
    case Status::Acknowledged: return "acknowledged";
    case Status::Mitigated: return "mitigated";
    case Status::Resolved: return "resolved";
  }
  return "open";
}

std::string_view toString(Verb verb) {
  switch (verb) {
    case Verb::Acknowledge: return "acknowledge";
    case Verb::Update: return "update";
    case Verb::Mitigate: return "mitigate";
    case Verb::Resolve: return "resolve";
    case Verb::Note: return "note";
    case Verb::Commander: return "commander";
    case Verb::Link: return "link";
  }
  return "note";
}

store::NewEvent openEvent(const Opening& o) {
  json::array evidence;
  for (const auto& [k, v] : o.evidence) evidence.push_back(json::array{json::string(k), json::string(v)});
  json::object data{{"title", o.title},         {"severity", o.severity}, {"environment", o.environment},
                    {"deployment", o.deployment}, {"evidence", std::move(evidence)}};
  return store::NewEvent{o.at, o.actor, "incident.opened", o.id, o.reason, json::serialize(data)};
}

Result<Incident> replay(const std::string& id, const std::vector<store::EventRecord>& events) {
  Incident inc;
  inc.id = id;
  bool opened = false;
  for (const auto& e : events) {
    if (e.subject != id || e.kind.rfind("incident.", 0) != 0) continue;
    boost::system::error_code ec;
    const json::value data = json::parse(e.data_json, ec);
    std::string text = e.reason;
    if (e.kind == "incident.opened") {
      opened = true;
      inc.title = field(data, "title");
      if (data.is_object() && data.as_object().contains("severity") && data.at("severity").is_int64()) {
        inc.severity = static_cast<int>(data.at("severity").as_int64());
      }
      inc.environment = field(data, "environment");
      if (auto d = field(data, "deployment"); !d.empty()) inc.deployments.push_back(d);
      if (data.is_object() && data.as_object().contains("evidence") && data.at("evidence").is_array()) {
        for (const auto& p : data.at("evidence").as_array()) {
          if (p.is_array() && p.as_array().size() == 2 && p.as_array()[0].is_string() && p.as_array()[1].is_string()) {
            inc.evidence.emplace_back(std::string(p.as_array()[0].as_string()), std::string(p.as_array()[1].as_string()));
          }
        }
      }
      inc.opened_at = e.at;
      inc.last_update_at = e.at;
      text = inc.title + (e.reason.empty() ? "" : ": " + e.reason);
    } else if (e.kind == "incident.acknowledged") {
      inc.status = Status::Acknowledged;
      inc.acknowledged_at = e.at;
      if (inc.commander.empty()) inc.commander = e.actor;
    } else if (e.kind == "incident.commander") {
      inc.commander = field(data, "commander");
      text = inc.commander;
    } else if (e.kind == "incident.updated") {
      inc.last_update_at = e.at;
    } else if (e.kind == "incident.mitigated") {
      inc.status = Status::Mitigated;
      inc.mitigated_at = e.at;
      inc.last_update_at = e.at;
      if (!inc.acknowledged_at) inc.acknowledged_at = e.at;
    } else if (e.kind == "incident.resolved") {
      inc.status = Status::Resolved;
      inc.resolved_at = e.at;
      inc.last_update_at = e.at;
      if (!inc.mitigated_at) inc.mitigated_at = e.at;
      if (!inc.acknowledged_at) inc.acknowledged_at = e.at;
    } else if (e.kind == "incident.linked") {
      if (auto d = field(data, "deployment"); !d.empty()) {
        if (std::find(inc.deployments.begin(), inc.deployments.end(), d) == inc.deployments.end()) {
          inc.deployments.push_back(d);
        }
      }
    } else if (e.kind == "incident.update_overdue" || e.kind == "incident.escalated") {
      inc.reminders.push_back(field(data, "key"));
    }
    inc.timeline.push_back(TimelineEntry{e.at, e.actor, e.kind, text});
  }
  if (!opened) return fail(ErrorCode::NotFound, "incident " + id + " not found");
  return inc;
}

Result<store::NewEvent> act(const Incident& inc, Verb verb, const std::string& actor, const std::string& text,
                            TimePoint now) {
  const auto refuse = [&](std::string_view why) -> Result<store::NewEvent> {
    return fail(ErrorCode::FailedPrecondition,
                fmt::format("cannot {} incident {}: it is {}{}", toString(verb), inc.id, toString(inc.status), why));
  };
  const bool resolved = inc.status == Status::Resolved;
  switch (verb) {
    case Verb::Acknowledge:
      if (inc.status != Status::Open) return refuse("");
      return incidentEvent(inc, now, actor, "incident.acknowledged", text, json::object{});
    case Verb::Update:
      // What the request lacks first (400), then what the incident's state refuses (412).
      if (text.empty()) return fail(ErrorCode::InvalidArgument, "an update needs a message");
      if (resolved) return refuse("");
      return incidentEvent(inc, now, actor, "incident.updated", text, json::object{});
    case Verb::Mitigate:
      if (resolved || inc.status == Status::Mitigated) return refuse("");
      return incidentEvent(inc, now, actor, "incident.mitigated", text, json::object{});
    case Verb::Resolve:
      if (resolved) return refuse("");
      return incidentEvent(inc, now, actor, "incident.resolved", text, json::object{});
    case Verb::Note:
      if (text.empty()) return fail(ErrorCode::InvalidArgument, "a note needs a message");
      return incidentEvent(inc, now, actor, "incident.note", text, json::object{});
    case Verb::Commander:
      if (text.empty()) return fail(ErrorCode::InvalidArgument, "name the commander");
      if (resolved) return refuse("");
      return incidentEvent(inc, now, actor, "incident.commander", "", json::object{{"commander", text}});
    case Verb::Link:
      if (text.empty()) return fail(ErrorCode::InvalidArgument, "name the deployment");
      return incidentEvent(inc, now, actor, "incident.linked", "deployment " + text, json::object{{"deployment", text}});
  }
  return fail(ErrorCode::Internal, "unknown verb");
}

std::vector<Reminder> dueReminders(const Incident& inc, const config::IncidentSeverity* severity, TimePoint now) {
  std::vector<Reminder> out;
  if (severity == nullptr || inc.status == Status::Resolved) return out;
  const auto sent = [&](const std::string& key) {
    return std::find(inc.reminders.begin(), inc.reminders.end(), key) != inc.reminders.end();
  };
  if (inc.status == Status::Open && severity->response_time.count() > 0) {
    // Unacknowledged: one more escalation target per responseTime (the first was told at open).
    const auto waited = now - inc.opened_at;
    const auto steps = static_cast<std::size_t>(waited / severity->response_time);
    for (std::size_t level = 1; level <= steps && level < severity->escalation.size(); ++level) {
      const std::string key = fmt::format("escalate-{}", level);
      if (sent(key)) continue;
      out.push_back(Reminder{"incident.escalated", key, severity->escalation[level],
                             fmt::format("SEV-{} unacknowledged for {}: escalated to {}", inc.severity,
                                         minutes(waited), severity->escalation[level])});
    }
  }
  if (severity->update_every && inc.status != Status::Mitigated) {
    const TimePoint due = inc.last_update_at + *severity->update_every;
    const std::string key = fmt::format("overdue-{}", toUnixMillis(inc.last_update_at));
    if (now >= due && !sent(key)) {
      out.push_back(Reminder{"incident.update_overdue", key, "",
                             fmt::format("status update overdue: the last was {} ago (SEV-{} updates every {})",
                                         minutes(now - inc.last_update_at), inc.severity,
                                         minutes(*severity->update_every))});
    }
  }
  return out;
}

store::NewEvent reminderEvent(const Incident& inc, const Reminder& r, TimePoint now) {
  return incidentEvent(inc, now, "runway", r.kind, r.text, json::object{{"key", r.key}, {"channel", r.channel}});
}

std::string renderTemplate(const std::string& text, const std::map<std::string, std::string>& vars) {
  std::string out;
  std::size_t at = 0;
  while (true) {
    const auto open = text.find("{{", at);
    const auto close = open == std::string::npos ? open : text.find("}}", open + 2);
    if (close == std::string::npos) {
      out += text.substr(at);
      return out;
    }
    out += text.substr(at, open - at);
    std::string name = text.substr(open + 2, close - open - 2);
    while (!name.empty() && name.front() == ' ') name.erase(name.begin());
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (auto it = vars.find(name); it != vars.end()) out += it->second;
    at = close + 2;
  }
}

std::map<std::string, std::string> templateVars(const Incident& inc, const config::IncidentSeverity* severity,
                                                const std::string& message, TimePoint now) {
  const auto clock = [](TimePoint t) { return formatTimestamp(t).substr(11, 5) + " UTC"; };
  return {{"severity", fmt::format("SEV-{}", inc.severity)},
          {"title", inc.title},
          {"incident", inc.id},
          {"environment", inc.environment},
          {"status", std::string(toString(inc.status))},
          {"commander", inc.commander.empty() ? std::string("not named yet") : inc.commander},
          {"message", message},
          {"detected", formatTimestamp(inc.opened_at)},
          {"time", clock(now)},
          {"duration", minutes(now - inc.opened_at)},
          {"next_update", severity != nullptr && severity->update_every && inc.status != Status::Resolved
                              ? clock(now + *severity->update_every)
                              : std::string("as needed")}};
}

std::string postmortem(const Incident& inc) {
  const auto since = [&](const std::optional<TimePoint>& t) {
    return t ? minutes(*t - inc.opened_at) : std::string("not yet");
  };
  std::string out;
  out += fmt::format("# Postmortem draft: {}\n\n", inc.title);
  out += fmt::format("Incident {} · SEV-{} · {} · environment {}\n\n", inc.id, inc.severity, toString(inc.status),
                     inc.environment.empty() ? "-" : inc.environment);
  out += "## Summary\n\n";
  out += fmt::format("- Commander: {}\n", inc.commander.empty() ? "none named" : inc.commander);
  out += fmt::format("- Detected (opened): {}\n", formatTimestamp(inc.opened_at));
  out += fmt::format("- Impact window: {} to {}\n", formatTimestamp(inc.opened_at),
                     inc.mitigated_at ? formatTimestamp(*inc.mitigated_at) : std::string("ongoing"));
  out += fmt::format("- Time to acknowledge: {}\n", since(inc.acknowledged_at));
  out += fmt::format("- Time to mitigate: {}\n", since(inc.mitigated_at));
  out += fmt::format("- Time to resolve: {}\n", since(inc.resolved_at));
  if (!inc.evidence.empty()) {
    out += "\n## Evidence at detection\n\n";
    for (const auto& [k, v] : inc.evidence) out += fmt::format("- {}: {}\n", k, v);
  }
  out += "\n## Deployments involved\n\n";
  if (inc.deployments.empty()) out += "- none linked\n";
  for (const auto& d : inc.deployments) out += fmt::format("- {}\n", d);
  out += "\n## Timeline\n\n| time (UTC) | who | what |\n| --- | --- | --- |\n";
  for (const auto& t : inc.timeline) {
    std::string what = t.kind.substr(std::string("incident.").size());
    if (!t.text.empty()) what += ": " + t.text;
    std::string cell;
    for (char c : what) {
      if (c == '|') {
        cell += "\\|";
      } else {
        cell += c == '\n' ? ' ' : c;
      }
    }
    out += fmt::format("| {} | {} | {} |\n", formatTimestamp(t.at), t.actor, cell);
  }
  out += "\n## Actions taken\n\n";
  bool any = false;
  for (const auto& t : inc.timeline) {
    if (t.kind == "incident.updated" || t.kind == "incident.mitigated" || t.kind == "incident.resolved" ||
        t.kind == "incident.note") {
      if (t.text.empty()) continue;
      out += fmt::format("- {} ({}): {}\n", formatTimestamp(t.at), t.actor, t.text);
      any = true;
    }
  }
  if (!any) out += "- none recorded\n";
  out += "\n## Root cause and follow-ups\n\nTo be written by the postmortem owner.\n";
  return out;
}

}  // namespace runway::incident
