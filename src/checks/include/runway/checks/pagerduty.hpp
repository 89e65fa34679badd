#pragma once

// PagerDuty's REST API as the checklist's onCall item reads it (docs/checklist.md): who is on
// call for a schedule (`GET /oncalls?schedule_ids[]=ID&since=…&until=…`), with `Authorization:
// Token token=KEY` and `Accept: application/vnd.pagerduty+json;version=2`, read page by page
// (`limit`, `offset`, `more`).
//
// Blocking (runway::http): call it from a worker thread.
//
// Errors name the request and what PagerDuty said (its `{"error": {"message", "code"}}` body):
// Unauthenticated (401), PermissionDenied (403), Unavailable for a rate limit (429: "PagerDuty
// rate limit exhausted until <time>") and anything else it answered or when it cannot be
// reached, InvalidArgument for a body that is not what the documentation says.

#include <optional>
#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::checks {

struct OnCallEntry {
  std::string user;         // the user's summary (their name)
  std::string schedule_id;  // "" for an on-call not from a schedule
  int escalation_level = 0;
  std::optional<TimePoint> start, end;  // nullopt = open-ended
};

class PagerDutyClient {
 public:
  // REQUIRES: `settings.api_url` has no trailing slash. `token` is sent, never logged.
  PagerDutyClient(config::PagerDutySettings settings, std::string token, const Clock& clock);

  // The on-calls of schedule `schedule_id` between `since` and `until`.
  Result<std::vector<OnCallEntry>> onCalls(const std::string& schedule_id, TimePoint since, TimePoint until);

 private:
  config::PagerDutySettings settings_;
  std::string token_;
  const Clock& clock_;
};

}  // namespace runway::checks
