#pragma once

// An incident is the fold of its audit events (subject = the incident's id, kinds incident.*):
// the hash-chained log is its record and its timeline, so nothing about it can change without
// `runway audit verify` noticing. Pure functions: callers read the events, act, and append the
// event act() returns (with the notifications it causes) in one store transaction.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/store/store.hpp"

namespace runway::incident {

enum class Status { Open, Acknowledged, Mitigated, Resolved };
std::string_view toString(Status status);  // "open", "acknowledged", "mitigated", "resolved"

struct TimelineEntry {
  TimePoint at;
  std::string actor;
  std::string kind;  // the event kind: incident.opened, incident.note, ...
  std::string text;
};

struct Incident {
  std::string id;
  std::string title;
  int severity = 2;  // SEV level
  Status status = Status::Open;
  std::string commander;
  std::string environment;
  std::vector<std::string> deployments;  // linked, in order
  std::vector<std::pair<std::string, std::string>> evidence;  // from the opening (metric, value, ...)
  TimePoint opened_at;
  std::optional<TimePoint> acknowledged_at;
  std::optional<TimePoint> mitigated_at;
  std::optional<TimePoint> resolved_at;
  TimePoint last_update_at;  // opening, or the last status update
  std::vector<std::string> reminders;  // keys of the reminders already sent
  std::vector<TimelineEntry> timeline;
};

// What opens an incident.
struct Opening {
  std::string id;  // "inc-..."
  std::string title;
  int severity = 2;
  std::string environment;
  std::string deployment;  // "" = none
  std::string reason;
  std::vector<std::pair<std::string, std::string>> evidence;
  std::string actor;
  TimePoint at;
};
store::NewEvent openEvent(const Opening& opening);

// The incident from its events (oldest first). NotFound when they do not open one.
Result<Incident> replay(const std::string& id, const std::vector<store::EventRecord>& events);

enum class Verb { Acknowledge, Update, Mitigate, Resolve, Note, Commander, Link };
std::string_view toString(Verb verb);

// The event recording `verb` by `actor` at `now`; `text` is the update, note, commander's name
// or linked deployment. FailedPrecondition when the state does not allow it (acknowledging a
// mitigated or resolved incident, mitigating a resolved one, resolving twice, updating a
// resolved one), InvalidArgument for an empty required text.
Result<store::NewEvent> act(const Incident& incident, Verb verb, const std::string& actor, const std::string& text,
                            TimePoint now);

// A reminder due now: an update overdue (severity has updateEvery and none came for that long),
// or an escalation (unacknowledged for responseTime × level: the next escalation target). Each
// has a key; one already in incident.reminders is not due again.
struct Reminder {
  std::string kind;     // "incident.update_overdue" | "incident.escalated"
  std::string key;      // e.g. "escalate-1", "overdue-1765000000000"
  std::string channel;  // escalation: the channel to tell; "" = the environment's routes
  std::string text;
};
std::vector<Reminder> dueReminders(const Incident& incident, const config::IncidentSeverity* severity, TimePoint now);
store::NewEvent reminderEvent(const Incident& incident, const Reminder& reminder, TimePoint now);

// `text` with each {{name}} replaced by vars[name] ("" for a name not in vars).
std::string renderTemplate(const std::string& text, const std::map<std::string, std::string>& vars);

// The placeholders' values for a message about `incident` at `now` (severity "SEV-1", title,
// incident, environment, status, commander, message, detected, time "HH:MM UTC", duration since
// opened, next_update "HH:MM UTC" or "as needed").
std::map<std::string, std::string> templateVars(const Incident& incident, const config::IncidentSeverity* severity,
                                                const std::string& message, TimePoint now);

// The Markdown postmortem draft: summary, impact window, detection, time to acknowledge,
// mitigate and resolve, the deployments involved, the timeline and the actions taken.
std::string postmortem(const Incident& incident);

}  // namespace runway::incident
