#pragma once

// `runway rehearse`: the whole release plan of a configuration played in simulated time. Every
// environment runs on the simulated runtime (runtime/simulated_runtime.hpp), the clock jumps to
// the next thing due (or runs N times faster than real time), approvals are given by the
// configured roles, and the version is driven through the environments in promotion order
// (promotesFrom) by the same controller `runway serve` runs (controller/stepper.hpp), on a
// throwaway store. Every timer, bake, window, verification period and post-deploy watch is
// honoured in simulated time. What it reports: a timeline, the analysis verdicts with the values
// seen, and every place where the plan would stop for a person or could never proceed, each
// with its place in the configuration.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/runtime/simulated_runtime.hpp"

namespace runway::rehearse {

struct RehearsalOptions {
  std::shared_ptr<const config::Config> config;  // REQUIRED, loaded without errors
  std::string version = "v2";                    // the release rehearsed
  std::string baseline = "v1";                   // what every environment serves before it
  // A bad build: the version's error rate or latency in the model, in the environments the
  // fault names (none named = the last environment of the path: a bug only production's traffic
  // finds, which is what a canary is for). nullopt = a good build.
  std::optional<runtime::SimulatedFault> fault;
  // The approver roles someone holds (on a server: a token's roles). An approval waiting for a
  // role not listed stops the plan. nullopt = every role the configuration names is held.
  std::optional<std::vector<std::string>> held_roles;
  config::SimulatedRuntime model;  // instances and traffic of every environment (and the seed)
  TimePoint start;                 // simulated time of T+0
  double speed = 0;                // 0 = jump to the next thing due; N = N x real time
  // Where the throwaway store is made ("" = /dev/shm when writable, else the temp directory).
  std::string work_dir;
};

// One line of the timeline.
struct TimelineEntry {
  Duration at{0};  // since T+0
  std::string environment;
  std::string kind;  // the audit event's kind ("step.started", "approval.granted", ...)
  std::string text;
};

// A place where the plan stops for a person or can never proceed.
struct Stop {
  // "inconclusive" (an analysis that cannot decide), "paused" (waits for a promotion),
  // "window" (never opens), "approval" (refused), "analysis" (cannot be measured),
  // "refused" (the deployment was not admitted), "failed", "stuck" (nothing more happens).
  std::string kind;
  std::string environment;
  Duration at{0};
  std::string message;
  config::SourceLocation location;  // file 0:0 when not known
};

// An analysis run as the timeline summarises it: the values each metric took.
struct MetricSeen {
  std::string metric;
  int measurements = 0;
  double min = 0;
  double max = 0;
  std::string worst_service;  // where `max` (or `min`, for a lower bound) was seen
};

struct RehearsalReport {
  std::string application;
  std::string version;
  std::string baseline;
  bool bad = false;
  std::string fault;  // "error rate 0.05", "latency 2s", "" for a good build
  TimePoint start;
  Duration elapsed{0};            // simulated
  std::vector<std::string> path;  // environments in promotion order
  std::vector<TimelineEntry> timeline;
  std::vector<Stop> stops;
  std::string reached;             // the last environment the version succeeded in ("" = none)
  std::string rolled_back_in;      // where the version was rolled back ("" = nowhere)
  int rolled_back_at_weight = -1;  // its traffic share (percent) then; -1 = not known
  std::string rollback_reason;
  // Good build: it reached the last environment, its post-deploy watch included, and nothing
  // stopped it. Bad build: the plan rolled it back by itself in an environment where it is bad
  // (or earlier), and nothing stopped it; rolled_back_at_weight says how much traffic it had.
  bool passed = false;
};

// Errors: InvalidArgument (no environment, a version name the runtime refuses), Unavailable
// (the throwaway store cannot be made). Everything the plan does is in the report.
Result<RehearsalReport> rehearse(const RehearsalOptions& options);

// "T+1h15m" (or "T+0").
std::string formatOffset(Duration at);
// The report as people read it, and as JSON (for CI).
std::string renderText(const RehearsalReport& report);
std::string renderJson(const RehearsalReport& report);

}  // namespace runway::rehearse
