#pragma once

// Traffic snapshots around each deployment, for the release report's before/after comparison.
//
// The router keeps per-version statistics for the last 15 minutes only, and gives latency
// percentiles only for a window that ends now. So the comparison's two windows are read when they
// end and recorded in the audit log (event kind kTrafficSnapshotKind, subject the deployment):
//   before: the `window` ending when the deployment is first seen, at most kSnapshotSlack after it
//           was created (before any instance of the new version takes traffic);
//   after:  the same-length window ending `window` after the deployment ended (entered
//           Succeeded, RolledBack or Superseded), read as soon as that time has passed.
// Each snapshot records the bounds it actually covers. A window missed by more than the slack
// (the server was down when it started, or when its window after ended) is not recorded, and the
// report says so. A deployment queued behind another is seen when it is admitted: its window
// before is the one before its admission, not before it started (TODO: read it when it leaves
// the queue; the audit log has that time).
// Deployments that ended before anything was deployed (Failed, Rejected) get no "after".

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/runtime/runtime.hpp"
#include "runway/store/store.hpp"

namespace runway::report {

inline constexpr std::string_view kTrafficSnapshotKind = "report.traffic";
inline constexpr Duration kSnapshotSlack{std::chrono::seconds(5)};

struct SnapshotOptions {
  std::shared_ptr<store::Store> store;
  std::shared_ptr<runtime::Runtime> runtime;  // statistics() per service of an environment
  std::shared_ptr<Clock> clock;
  std::function<std::shared_ptr<const config::Config>()> config;  // the live configuration
  Duration window{std::chrono::minutes(5)};  // whole seconds, 1 s .. 15 min
};

// Takes the snapshots that are due. Not thread-safe: one caller (the server's snapshot thread).
class TrafficSnapshots {
 public:
  explicit TrafficSnapshots(SnapshotOptions options);
  // One pass over the newest deployments: records every snapshot due now. Errors of the store
  // are returned; a router that cannot answer is recorded in the snapshot (available: false).
  Result<void> tick();

 private:
  Result<void> record(const store::DeploymentRecord& deployment, const char* when);
  SnapshotOptions o_;
  std::set<std::string> before_done_;
  std::set<std::string> after_done_;
};

}  // namespace runway::report
