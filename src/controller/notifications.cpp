#include "notifications.hpp"

#include "checklist_gate.hpp"

#include <fmt/format.h>

#include "runway/incident/incident.hpp"
#include "runway/notify/message.hpp"

namespace runway::controller {
namespace {

notify::Message baseMessage(const store::DeploymentRecord& record, const PersistedDeployment& doc,
                            TimePoint now) {
  notify::Message m;
  m.environment = record.environment;
  m.application = record.application;
  m.version = record.version;
  m.previous_version = doc.state.stable_version;
  m.deployment_id = record.id;
  m.dedup_key = notify::dedupKeyFor(record.environment, record.id);
  m.at = now;
  return m;
}

std::string titleFor(const std::string& event, const store::DeploymentRecord& r) {
  const std::string what = fmt::format("{}: {}", r.environment, r.version);
  if (event == "deployment.started") return what + " deployment started";
  if (event == "approval.needed") return what + " is waiting for approval";
  if (event == "deployment.waiting_for_window") return what + " is waiting for its change window";
  if (event == "deployment.paused") return what + " paused";
  if (event == "deployment.promoted") return what + " promoted";
  if (event == "deployment.succeeded") return what + " deployed";
  if (event == "deployment.rolled_back") return what + " rolled back";
  if (event == "deployment.failed") return what + " failed";
  if (event == "deployment.rejected") return what + " rejected";
  if (event == "deployment.superseded") return what + " superseded";
  if (event == "deployment.degraded") return what + " degraded";
  if (event == "release.queued") return what + " queued";
  if (event == "watch.completed") return what + " post-deploy watch completed";
  return what + " " + event;
}

// The failing measurements behind a rollback or failure: "metric" → "value (outcome)".
void addEvidence(notify::Message& m, const PersistedDeployment& doc) {
  for (const auto& [key, measured] : doc.latest) {
    if (measured.outcome != "Failed" && measured.outcome != "Breaching") continue;
    m.details.emplace_back(key, fmt::format("{} ({} at {})", measured.value, measured.outcome,
                                            formatTimestamp(measured.at)));
  }
}

}  // namespace

std::vector<store::NewNotification> notificationsFor(const config::Config& config,
                                                     const store::DeploymentRecord& record,
                                                     const PersistedDeployment& doc,
                                                     const engine::Input& input,
                                                     const std::vector<engine::Action>& actions,
                                                     TimePoint now,
                                                     const std::function<std::string()>& new_incident_id,
                                                     std::vector<store::NewEvent>& incident_events) {
  std::vector<store::NewNotification> out;
  const auto add = [&](const notify::Message& m) {
    auto rows = notify::route(config, m);
    out.insert(out.end(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
  };
  if (const auto* result = std::get_if<engine::AnalysisResult>(&input);
      result != nullptr && !result->dry_run && result->verdict == engine::RunStatus::Failed) {
    notify::Message m = baseMessage(record, doc, now);
    m.event = "analysis.failing";
    m.title = fmt::format("{}: {} analysis metric {} failed", record.environment, record.version, result->metric);
    m.reason = result->reason;
    m.severity = notify::defaultSeverity(m.event);
    m.details = {{"metric", result->metric}, {"value", fmt::format("{}", result->value)}};
    if (!result->service.empty()) m.details.emplace_back("service", result->service);
    add(m);
  }
  for (const auto& action : actions) {
    if (const auto* n = std::get_if<engine::Notify>(&action)) {
      notify::Message m = baseMessage(record, doc, now);
      m.event = std::string(engine::toString(n->event));
      m.title = titleFor(m.event, record);
      m.reason = n->reason;
      m.severity = notify::defaultSeverity(m.event);
      m.details.emplace_back("phase", std::string(engine::toString(n->phase)));
      // Approvers see what the checklist found (and who waived what) before they decide.
      if (m.event == "approval.needed" && doc.checklist) {
        m.details.emplace_back("checklist", checklistSummary(*doc.checklist));
      }
      if (m.event == "deployment.rolled_back" || m.event == "deployment.failed" ||
          m.event == "deployment.degraded") {
        addEvidence(m, doc);
      }
      add(m);
    } else if (const auto* request = std::get_if<engine::OpenIncident>(&action)) {
      notify::Message m = baseMessage(record, doc, now);
      incident::Opening o;
      o.id = new_incident_id();
      o.title = request->title;
      o.severity = request->severity;
      o.environment = record.environment;
      o.deployment = record.id;
      o.reason = request->reason;
      o.actor = "runway";
      o.at = now;
      m.event = "incident.opened";
      m.title = fmt::format("SEV-{} {}: {}", request->severity, o.id, request->title);
      m.reason = request->reason;
      m.severity = request->severity <= 1 ? "critical" : (request->severity == 2 ? "error" : "warning");
      m.subject = o.id;
      m.dedup_key = "runway/incident/" + o.id;
      m.details.emplace_back("severity", fmt::format("SEV-{}", request->severity));
      m.details.emplace_back("incident", o.id);
      addEvidence(m, doc);
      for (std::size_t i = 2; i < m.details.size(); ++i) o.evidence.push_back(m.details[i]);
      incident_events.push_back(incident::openEvent(o));
      // The severity's first escalation channel hears of it, as for incidents opened by hand.
      std::vector<std::string> also;
      if (const auto* sev = config.findSeverity(request->severity); sev != nullptr && !sev->escalation.empty()) {
        also.push_back(sev->escalation.front());
      }
      auto rows = notify::route(config, m, also);
      out.insert(out.end(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
    }
  }
  return out;
}

}  // namespace runway::controller
