#pragma once

// Incidents kept in the store: every change is one audit event (subject = the incident id)
// appended in one transaction with the notifications it causes. Thread-safe: one mutex orders
// all changes, so two people acknowledging at once give one acknowledgement and one refusal.
//
// Who is told: the environment's notification routes for the event, plus the severity's
// escalation channels reached so far (the first from the opening, one more per escalation), so
// that PagerDuty's acknowledge and resolve reach the service its trigger went to.
// Finding incidents reads the whole event log (incident.opened records): fine for thousands of
// incidents, not for millions.

#include <functional>
#include <memory>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/ids.hpp"
#include "runway/incident/incident.hpp"
#include "runway/store/store.hpp"

namespace runway::incident {

class IncidentService {
 public:
  IncidentService(std::shared_ptr<store::Store> store, std::shared_ptr<Clock> clock,
                  std::function<std::shared_ptr<const config::Config>()> config, std::unique_ptr<Random> random);

  // Opens an incident (the id is assigned). InvalidArgument for an empty title or a severity
  // level the configuration does not define (when it defines any).
  Result<Incident> open(Opening opening);
  // Joins the unresolved incident of `opening.environment` (the newest), linking the deployment
  // and noting the reason and evidence; opens one when there is none.
  Result<Incident> openOrJoin(Opening opening);

  Result<Incident> get(const std::string& id);
  // Newest first; resolved ones only when `include_resolved`.
  Result<std::vector<Incident>> list(bool include_resolved);
  Result<Incident> apply(const std::string& id, Verb verb, const std::string& actor, const std::string& text);
  // Sends the reminders and escalations due now. Returns how many.
  Result<int> sendReminders();

 private:
  Result<Incident> openLocked(Opening opening);
  Result<Incident> getLocked(const std::string& id);
  Result<std::vector<std::string>> idsLocked();
  Result<void> commit(const Incident& incident, const store::NewEvent& event, const std::string& event_name,
                      const std::string& text, const std::vector<std::string>& extra_channels);
  std::vector<std::string> escalationReached(const Incident& incident, const config::Config& config) const;

  std::shared_ptr<store::Store> store_;
  std::shared_ptr<Clock> clock_;
  std::function<std::shared_ptr<const config::Config>()> config_;
  std::mutex mu_;
  IdGenerator ids_;
  // The incidents opened so far and the last event read for them (guarded by mu_): the event
  // log is append-only, so each look reads only what was appended since, not the whole log
  // (every second for the reminders: hundreds of thousands of records with many deployments).
  std::vector<std::string> opened_;
  std::int64_t read_to_ = 0;
};

}  // namespace runway::incident
