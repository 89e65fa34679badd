#pragma once

// What a reconcile step tells people: one notify::Message per engine Notify and OpenIncident
// action, and per analysis metric whose verdict turned Failed, routed by the live configuration
// into outbox rows. An OpenIncident action also opens an incident: its incident.opened audit
// event (incident::openEvent) joins the commit's events. The reconciler commits them with the state they describe (one transaction),
// so a message is never sent for a state that was not stored, nor lost for one that was; the
// notify worker delivers them later, off the strand.

#include <functional>
#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/controller/controller.hpp"
#include "runway/engine/engine.hpp"
#include "runway/store/store.hpp"

namespace runway::controller {

// `doc` is the deployment's document after the step (its state, its latest measurements).
// `new_incident_id` names an incident to open; `incident_events` receives their opening events.
std::vector<store::NewNotification> notificationsFor(const config::Config& config,
                                                     const store::DeploymentRecord& record,
                                                     const PersistedDeployment& doc,
                                                     const engine::Input& input,
                                                     const std::vector<engine::Action>& actions,
                                                     TimePoint now,
                                                     const std::function<std::string()>& new_incident_id,
                                                     std::vector<store::NewEvent>& incident_events);

}  // namespace runway::controller
