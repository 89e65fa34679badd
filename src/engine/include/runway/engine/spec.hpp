#pragma once

// The deployment spec: a frozen snapshot of everything the engine needs from the configuration
// (strategy, steps, analysis limits, gates, policies). A deployment is started with one and
// keeps it for its whole life, so a configuration reload never changes a running deployment.
// Built from config::Environment + config::Application + the analysis templates by buildSpec().

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::engine {

using config::ConcurrencyPolicy;
using config::NoDataPolicy;
using config::ProgressDeadlineAction;
using config::StrategyKind;

// A count or a percentage of the instance count (config::IntOrPercent, comparable).
struct IntOrPercent {
  int value = 0;
  bool percent = false;
  bool operator==(const IntOrPercent&) const = default;
};

// One use of analysis: which templates, with which per-use overrides. The metrics' limits are
// not here: the analysis module decides each metric's verdict (docs/concepts.md).
struct AnalysisSpec {
  std::vector<std::string> templates;
  std::map<std::string, std::string> args;
  Duration interval{0};  // 0 = each metric's own interval
  std::map<std::string, std::string> thresholds;

  bool operator==(const AnalysisSpec&) const = default;
};

struct CheckSpec {
  std::string smoke;   // suite name, "" = none
  std::string health;  // "basic" | "comprehensive" | "detailed" | "" = none
  bool empty() const { return smoke.empty() && health.empty(); }
  bool operator==(const CheckSpec&) const = default;
};

struct HeaderRouteSpec {
  std::string header;  // exactly one of header / cookie is set
  std::string cookie;
  config::HeaderRoute::Match match = config::HeaderRoute::Match::Exact;
  std::string value;
  bool operator==(const HeaderRouteSpec&) const = default;
};

struct StepSpec {
  config::CanaryStep::Kind kind = config::CanaryStep::Kind::SetWeight;
  int weight = 0;                       // SetWeight
  std::optional<Duration> pause;        // Pause: nullopt = until promoted
  AnalysisSpec analysis;                // Analysis (inline)
  std::vector<std::string> approval;    // Approval: roles
  CheckSpec checks;                     // Checks
  HeaderRouteSpec route;                // SetHeaderRoute
  bool operator==(const StepSpec&) const = default;
};

struct ServiceSpec {
  std::string name;
  int instances = 1;
  bool operator==(const ServiceSpec&) const = default;
};

// A change window in a fixed UTC offset. Days are a bit set, bit 0 = Monday; 0 = every day.
struct WindowSpec {
  std::uint8_t days = 0;
  int start_minute = 0;
  int end_minute = 0;      // exclusive; end <= start crosses midnight
  int offset_minutes = 0;  // local = UTC + offset
  bool operator==(const WindowSpec&) const = default;
};

struct FreezeSpec {
  TimePoint start;
  TimePoint end;
  std::string reason;
  bool operator==(const FreezeSpec&) const = default;
};

struct DeploymentSpec {
  std::string environment;
  std::string application;
  std::vector<ServiceSpec> services;
  StrategyKind strategy = StrategyKind::Rolling;

  // Rolling
  IntOrPercent max_surge{25, true};
  IntOrPercent max_unavailable{0, false};

  // Canary
  std::vector<StepSpec> steps;
  std::optional<AnalysisSpec> background;  // background analysis from background_start on
  int background_start = 0;
  Duration abort_scale_down_delay{std::chrono::seconds(30)};
  Duration scale_down_delay{std::chrono::seconds(30)};  // old version kept after success
  // A deployment with no stable version (the environment's first) runs the steps too; false =
  // it has nothing to compare against and takes all traffic as soon as it is ready.
  bool steps_on_initial_deploy = false;

  // A/B routes of the environment (`traffic.routes`): requests matching one go to the new
  // version while it shares traffic with the stable one (a canary from its first traffic step
  // until promoted or aborted; a blue-green's new colour from ready until the switch).
  std::vector<HeaderRouteSpec> routes;
  // Sticky sessions by this cookie (`traffic.stickySessions`); "" = none.
  std::string sticky_cookie;
  Duration sticky_max_age{std::chrono::hours(1)};

  // Blue-green
  bool auto_promotion = true;
  Duration auto_promotion_after{0};
  std::optional<AnalysisSpec> pre_promotion_analysis;
  CheckSpec pre_promotion_checks;
  Duration verification{std::chrono::minutes(15)};
  std::optional<AnalysisSpec> post_promotion_analysis;
  CheckSpec post_promotion_checks;
  Duration bg_scale_down_delay{std::chrono::seconds(30)};

  // Gates and policies
  CheckSpec preflight;  // checks run in PreFlight before anything is started
  std::vector<std::string> approval_roles;
  bool prevent_self_approval = true;
  std::optional<Duration> approval_timeout;
  bool force_allowed = true;
  bool promote_full_allowed = true;
  std::vector<WindowSpec> windows;  // empty = always open
  std::vector<FreezeSpec> freezes;
  Duration progress_deadline{std::chrono::minutes(10)};
  ProgressDeadlineAction progress_deadline_action = ProgressDeadlineAction::Abort;
  int rollback_window = 0;
  bool rollback_gates = false;  // a rollback passes the start approvals too (`rollback.gates: enforce`)
  ConcurrencyPolicy concurrency = ConcurrencyPolicy::Reject;
  std::string promotes_from;
  Duration watch_duration{0};  // post-deploy watch after Succeeded; 0 = none
  std::optional<AnalysisSpec> watch_analysis;
  bool incident_on_rollback = false;

  bool operator==(const DeploymentSpec&) const = default;
};

// Options the configuration model does not carry (yet).
struct SpecOptions {
  CheckSpec preflight;  // e.g. {"", "comprehensive"} for the runbook's pre-flight check
};

// Builds the snapshot. InvalidArgument when a referenced analysis template does not exist, a
// timezone is not "UTC" or a fixed offset ("+02:00", "UTC-05:30"), a weight is outside 0..100,
// the background analysis starts past the last step, or the application has no services.
Result<DeploymentSpec> buildSpec(const config::Environment& env, const config::Application& app,
                                 const std::vector<config::AnalysisTemplate>& templates,
                                 const SpecOptions& options = {});

// Parses "UTC", "Z", "+02:00", "-05:30", "UTC+02:00" into minutes east of UTC.
Result<int> parseUtcOffset(std::string_view timezone);

// Whether deployments may start at `t` (inside some window, or no windows; and outside every
// freeze).
bool windowOpen(const DeploymentSpec& spec, TimePoint t);

// The earliest time >= t at which windowOpen() is true, searching up to 400 days ahead;
// nullopt when none (e.g. every window has an empty day set that never matches).
std::optional<TimePoint> nextWindowOpening(const DeploymentSpec& spec, TimePoint t);

// Names used in messages and JSON: "rolling" / "blueGreen" / "canary"; "setWeight", "pause",
// "analysis", "approval", "checks", "setHeaderRoute"; "exact" / "prefix" / "regex";
// "pass" / "fail" / "inconclusive" / "error"; "abort" / "degrade"; "reject" / "queue" / "supersede".
std::string_view strategyName(StrategyKind kind);
std::string_view stepKindName(config::CanaryStep::Kind kind);
std::string_view matchName(config::HeaderRoute::Match match);
std::string_view noDataName(NoDataPolicy policy);
std::string_view deadlineActionName(ProgressDeadlineAction action);
std::string_view concurrencyName(ConcurrencyPolicy policy);

}  // namespace runway::engine
