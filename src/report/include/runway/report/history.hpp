#pragma once

// A deployment's history as the reports read it back from the store: what it was, how it ended,
// and when it entered each phase (from the audit events the controller committed with each
// state). Both reports start from here, so that "when did it succeed" is decided in one place.

#include <optional>
#include <string>
#include <vector>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/store/store.hpp"

namespace runway::report {

// One phase change of a deployment (an audit event whose data has "from" != "to").
struct Transition {
  TimePoint at;
  std::string from;
  std::string to;
  std::string kind;    // the event's kind: "analysis.failed", "approval.granted", ...
  std::string actor;
  std::string reason;
};

struct DeploymentHistory {
  std::string id;
  std::string environment;
  std::string application;
  std::string version;
  std::string phase;  // the engine phase now ("Queued" while admitted but not started)
  bool rollback = false;  // started by `runway rollback`
  std::string requested_by;
  std::string reason;          // the request's reason
  std::string abort_reason;    // why it ended other than Succeeded ("" otherwise)
  std::optional<TimePoint> commit_time;  // given at deploy time
  TimePoint created_at;
  TimePoint updated_at;
  std::vector<Transition> transitions;  // in commit order
  std::vector<store::EventRecord> events;  // every event of the deployment, in seq order

  // When it first entered `which`; nullopt when it never did.
  std::optional<TimePoint> entered(std::string_view which) const;
  // The transition that first entered `which`, or nullptr.
  const Transition* transitionInto(std::string_view which) const;
  // Total time spent in `which`, summing every stay; a stay still open at `now` counts up to
  // `now`.
  Duration timeIn(std::string_view which, TimePoint now) const;
};

// Every deployment in the store (all environments), oldest created first, with its events.
// Errors: the store's. A deployment whose document does not parse is reported as Internal
// (the store holds only what the controller wrote).
Result<std::vector<DeploymentHistory>> loadHistory(store::Store& store);

// One deployment, with its events. NotFound for an unknown id.
Result<DeploymentHistory> loadDeployment(store::Store& store, const std::string& id);

}  // namespace runway::report
