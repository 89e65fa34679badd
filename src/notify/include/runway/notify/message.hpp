#pragma once

// A notification as runway means it, before any channel's format: what happened (the event),
// where, to which release, why, and the evidence. The controller builds one per engine Notify /
// OpenIncident action (and per failing analysis metric); route() turns it into one outbox row
// per channel the environment routes the event to; the worker renders it for the channel when
// it delivers (render.hpp).

#include <map>
#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/store/store.hpp"

namespace runway::notify {

struct Message {
  std::string event;             // one of config::notificationEvents()
  std::string title;             // one line, e.g. "production: v1.2.3 rolled back"
  std::string reason;            // why, in the engine's or the analysis' words
  std::string severity = "info"; // critical | error | warning | info (PagerDuty's scale)
  std::string environment;
  std::string application;
  std::string version;           // the release the deployment brings
  std::string previous_version;  // what served before it ("" = nothing)
  std::string deployment_id;
  std::string dedup_key;         // stable per deployment or incident (dedupKeyFor())
  std::string subject;           // what the outbox files it under; "" = deployment_id, else dedup_key
  TimePoint at;
  // Evidence, in order: metric, value, threshold, phase, ... (shown as fields).
  std::vector<std::pair<std::string, std::string>> details;
};

// The dedup key of everything about one deployment: "runway/<environment>/<deployment id>"
// (at most 255 bytes: PagerDuty's limit; longer ids are cut).
std::string dedupKeyFor(const std::string& environment, const std::string& deployment_id);

// The severity an event carries unless its producer says otherwise.
std::string defaultSeverity(const std::string& event);

// JSON round trip (what the outbox stores).
std::string toJson(const Message& message);
// InvalidArgument when `text` is not a message.
Result<Message> parseMessage(const std::string& text);

// One outbox row per channel that `environment`'s routes send `message.event` to, in route
// order (a channel named twice gets the message once). A channel that cannot carry the event
// (PagerDuty for an event it has no action for) is left out.
std::vector<store::NewNotification> route(const config::Config& config, const Message& message);
// route(), plus the channels in `also` (each once, those that can carry the event).
std::vector<store::NewNotification> route(const config::Config& config, const Message& message,
                                          const std::vector<std::string>& also);

}  // namespace runway::notify
