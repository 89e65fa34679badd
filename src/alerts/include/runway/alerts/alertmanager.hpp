#pragma once

// Alertmanager's webhook (version 4: /work/shared/reference/judges-and-formats.md §4.3) and the
// decision runway takes for each alert in it.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::alerts {

struct Alert {
  std::string status;  // "firing" | "resolved"
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string starts_at;  // RFC 3339 as sent
  std::string ends_at;
  std::string generator_url;
  std::string fingerprint;

  std::string label(const std::string& name) const;
  // One firing of one alert: fingerprint (or, without one, the sorted labels) and startsAt. A
  // duplicate delivery of the same firing has the same episode.
  std::string episode() const;
  std::string identity() const;  // fingerprint, or the sorted labels
};

struct AlertmanagerWebhook {
  std::string version;
  std::string group_key;
  std::string status;
  std::string receiver;
  std::string external_url;
  std::vector<Alert> alerts;
};

// InvalidArgument (naming the field) for a body that is not Alertmanager's webhook format.
Result<AlertmanagerWebhook> parseAlertmanagerWebhook(const std::string& body);

// What runway already did about an alert (from the audit log).
struct AlertHistory {
  std::vector<std::string> episodes_acted_on;   // firings already handled (rollback or notify)
  std::vector<std::string> episodes_resolved;   // resolutions already handled
  std::optional<TimePoint> last_rollback;       // the last rollback this alert caused
};

struct AlertDecision {
  enum class Kind {
    Rollback,  // roll `environment` back with `reason`
    Notify,    // tell people (alert.firing / alert.resolved)
    Ignore,    // nothing to do: why says why (duplicate, cooldown, unknown rule)
  };
  Kind kind = Kind::Ignore;
  const config::AlertRule* rule = nullptr;  // nullptr when no rule matches
  std::string environment;
  std::string reason;
  std::string why;  // for the record
};

// The rule an alert belongs to: its runway_rule label, else its alertname.
const config::AlertRule* ruleFor(const config::Config& config, const Alert& alert);

// Firing: automatic_rollback → Rollback (once per episode, and not again within the rule's
// cooldown after a rollback: flapping); other actions → Notify once per episode. Resolved →
// Notify once per episode. An alert of no rule → Ignore.
AlertDecision decide(const config::Config& config, const Alert& alert, const AlertHistory& history,
                     TimePoint now);

}  // namespace runway::alerts
