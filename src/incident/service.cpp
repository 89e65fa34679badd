#include "runway/incident/service.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "runway/notify/message.hpp"

namespace runway::incident {
namespace {

std::string severityName(int level) {
  return level == 1 ? "critical" : (level == 2 ? "error" : "warning");
}

}  // namespace

IncidentService::IncidentService(std::shared_ptr<store::Store> store, std::shared_ptr<Clock> clock,
                                 std::function<std::shared_ptr<const config::Config>()> config,
                                 std::unique_ptr<Random> random)
    : store_(std::move(store)), clock_(clock), config_(std::move(config)), ids_(clock, std::move(random)) {}

std::vector<std::string> IncidentService::escalationReached(const Incident& inc, const config::Config& cfg) const {
  std::vector<std::string> out;
  const auto* severity = cfg.findSeverity(inc.severity);
  if (severity == nullptr || severity->escalation.empty()) return out;
  out.push_back(severity->escalation.front());
  for (std::size_t level = 1; level < severity->escalation.size(); ++level) {
    if (std::find(inc.reminders.begin(), inc.reminders.end(), fmt::format("escalate-{}", level)) != inc.reminders.end()) {
      out.push_back(severity->escalation[level]);
    }
  }
  return out;
}

Result<void> IncidentService::commit(const Incident& inc, const store::NewEvent& event, const std::string& event_name,
                                     const std::string& text, const std::vector<std::string>& extra) {
  const auto cfg = config_();
  std::vector<store::NewNotification> rows;
  if (!event_name.empty()) {
    notify::Message m;
    m.event = event_name;
    m.title = fmt::format("SEV-{} {}: {}", inc.severity, inc.id, inc.title);
    m.reason = text;
    // The runbook's communication templates, when configured, word the three key messages.
    const char* tpl_name = event_name == "incident.opened"     ? "initial-alert"
                           : event_name == "incident.updated"  ? "status-update"
                           : event_name == "incident.resolved" ? "resolution"
                                                               : nullptr;
    if (const auto* tpl = tpl_name != nullptr ? cfg->findIncidentTemplate(tpl_name) : nullptr) {
      m.reason = renderTemplate(tpl->text, templateVars(inc, cfg->findSeverity(inc.severity), text, event.at));
    }
    m.severity = event_name == "incident.opened" || event_name == "incident.escalated" ? severityName(inc.severity)
                                                                                       : "info";
    m.environment = inc.environment;
    m.deployment_id = inc.deployments.empty() ? "" : inc.deployments.front();
    m.subject = inc.id;
    m.dedup_key = "runway/incident/" + inc.id;
    m.at = event.at;
    m.details = {{"incident", inc.id}, {"status", std::string(toString(inc.status))}};
    if (!inc.commander.empty()) m.details.emplace_back("commander", inc.commander);
    for (const auto& e : inc.evidence) m.details.push_back(e);
    std::vector<std::string> also = escalationReached(inc, *cfg);
    also.insert(also.end(), extra.begin(), extra.end());
    rows = notify::route(*cfg, m, also);
  }
  return store_->enqueueNotifications(rows, {event});
}

Result<std::vector<std::string>> IncidentService::idsLocked() {
  // From where the last look stopped: records are appended in the order of their seq (one
  // writer at a time holds the chain's head), so none can appear behind it later.
  while (true) {
    auto page = store_->listEvents(store::EventFilter{read_to_, "", 1000});
    if (!page) return fail(page.error());
    for (const auto& e : *page) {
      if (e.kind == "incident.opened") opened_.push_back(e.subject);
      read_to_ = e.seq;
    }
    if (page->size() < 1000) break;
  }
  return opened_;
}

Result<Incident> IncidentService::getLocked(const std::string& id) {
  auto events = store_->listEvents(store::EventFilter{0, id, 1000});
  if (!events) return fail(events.error());
  return replay(id, *events);
}

Result<Incident> IncidentService::openLocked(Opening o) {
  if (o.title.empty()) return fail(ErrorCode::InvalidArgument, "an incident needs a title");
  const auto cfg = config_();
  if (!cfg->severities.empty() && cfg->findSeverity(o.severity) == nullptr) {
    std::string levels;
    for (const auto& s : cfg->severities) levels += (levels.empty() ? "" : ", ") + std::to_string(s.level);
    return fail(ErrorCode::InvalidArgument,
                fmt::format("severity {} is not defined (IncidentSeverity levels: {})", o.severity, levels));
  }
  o.id = ids_.next("inc");
  o.at = clock_->now();
  const auto event = openEvent(o);
  Incident inc;
  inc.id = o.id;
  inc.title = o.title;
  inc.severity = o.severity;
  inc.environment = o.environment;
  inc.evidence = o.evidence;
  inc.opened_at = o.at;
  inc.last_update_at = o.at;
  if (!o.deployment.empty()) inc.deployments.push_back(o.deployment);
  if (auto r = commit(inc, event, "incident.opened", o.reason, {}); !r) return fail(r.error());
  return getLocked(o.id);
}

Result<Incident> IncidentService::open(Opening opening) {
  std::lock_guard lock(mu_);
  return openLocked(std::move(opening));
}

Result<Incident> IncidentService::openOrJoin(Opening o) {
  std::lock_guard lock(mu_);
  auto ids = idsLocked();
  if (!ids) return fail(ids.error());
  for (auto it = ids->rbegin(); it != ids->rend(); ++it) {
    auto inc = getLocked(*it);
    if (!inc || inc->status == Status::Resolved || inc->environment != o.environment) continue;
    const TimePoint now = clock_->now();
    if (!o.deployment.empty() &&
        std::find(inc->deployments.begin(), inc->deployments.end(), o.deployment) == inc->deployments.end()) {
      auto link = act(*inc, Verb::Link, o.actor, o.deployment, now);
      if (!link) return fail(link.error());
      if (auto r = commit(*inc, *link, "", "", {}); !r) return fail(r.error());
    }
    std::string note = o.title + (o.reason.empty() ? "" : ": " + o.reason);
    for (const auto& [k, v] : o.evidence) note += fmt::format("; {} {}", k, v);
    auto joined = act(*inc, Verb::Note, o.actor, note, now);
    if (!joined) return fail(joined.error());
    if (auto r = commit(*inc, *joined, "incident.updated", note, {}); !r) return fail(r.error());
    return getLocked(*it);
  }
  return openLocked(std::move(o));
}

Result<Incident> IncidentService::get(const std::string& id) {
  std::lock_guard lock(mu_);
  return getLocked(id);
}

Result<std::vector<Incident>> IncidentService::list(bool include_resolved) {
  std::lock_guard lock(mu_);
  auto ids = idsLocked();
  if (!ids) return fail(ids.error());
  std::vector<Incident> out;
  for (auto it = ids->rbegin(); it != ids->rend(); ++it) {
    auto inc = getLocked(*it);
    if (!inc) return fail(inc.error());
    if (include_resolved || inc->status != Status::Resolved) out.push_back(std::move(*inc));
  }
  return out;
}

Result<Incident> IncidentService::apply(const std::string& id, Verb verb, const std::string& actor,
                                        const std::string& text) {
  std::lock_guard lock(mu_);
  auto inc = getLocked(id);
  if (!inc) return fail(inc.error());
  auto event = act(*inc, verb, actor, text, clock_->now());
  if (!event) return fail(event.error());
  std::string name;
  switch (verb) {
    case Verb::Acknowledge: name = "incident.acknowledged"; break;
    case Verb::Update: name = "incident.updated"; break;
    case Verb::Mitigate: name = "incident.mitigated"; break;
    case Verb::Resolve: name = "incident.resolved"; break;
    case Verb::Note: case Verb::Commander: case Verb::Link: break;  // the timeline only
  }
  // The message shows the state the event leads to.
  auto after = *inc;
  if (verb == Verb::Acknowledge) after.status = Status::Acknowledged;
  if (verb == Verb::Mitigate) after.status = Status::Mitigated;
  if (verb == Verb::Resolve) after.status = Status::Resolved;
  if (auto r = commit(after, *event, name, text, {}); !r) return fail(r.error());
  return getLocked(id);
}

Result<int> IncidentService::sendReminders() {
  std::lock_guard lock(mu_);
  auto ids = idsLocked();
  if (!ids) return fail(ids.error());
  const auto cfg = config_();
  int sent = 0;
  for (const auto& id : *ids) {
    auto inc = getLocked(id);
    if (!inc || inc->status == Status::Resolved) continue;
    const TimePoint now = clock_->now();
    for (const auto& r : dueReminders(*inc, cfg->findSeverity(inc->severity), now)) {
      std::vector<std::string> extra;
      if (!r.channel.empty()) extra.push_back(r.channel);
      if (auto c = commit(*inc, reminderEvent(*inc, r, now), r.kind, r.text, extra); !c) return fail(c.error());
      ++sent;
    }
  }
  return sent;
}

}  // namespace runway::incident
