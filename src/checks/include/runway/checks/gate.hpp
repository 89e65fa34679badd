#pragma once

// The checks as a deployment gate: what the controller calls to execute the engine's RunChecks
// actions (`checks: { smoke: critical, health: basic }` in canary steps and blue-green pre/post
// promotion). A failed gate aborts like a failed analysis.

#include <filesystem>
#include <memory>
#include <string>

#include "runway/analysis/provider.hpp"
#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/runtime/runtime.hpp"

namespace runway::checks {

struct GateRequest {
  std::shared_ptr<const config::Config> config;
  std::string environment;
  // The version under test: its instances are checked directly; "" = whatever serves (through
  // the router).
  std::string version;
  std::string smoke;   // suite name, "" = none
  std::string health;  // "basic" | "comprehensive" | "detailed" | "" = none
  // Pre-flight level ("basic" | "comprehensive" | "" = none): for the engine's
  // CheckKind::PreFlight checks (the environment's preflight.beforeDeploy), run before anything
  // is started. `version` is then the version about to be deployed (its image tags are looked
  // up).
  std::string preflight;
  // The runtime's data directory: where smoke checks through the router find a listener port
  // the configuration left to chance (DATA/run/ENV/SERVICE/traffic.json). Empty = only the
  // ports the configuration names.
  std::filesystem::path data_dir;
};

struct GateResult {
  bool passed = false;
  // One line: what failed and why, e.g. "smoke critical/leads: GET /api/leads -> 500,
  // expected 200"; or "passed (N checks)".
  std::string detail;
  std::string report_json;  // the full report (every item with status and reason)
};

// Runs the requested pre-flight level, health level and smoke suite and reports them as one result. Blocking
// (HTTP calls); the controller calls it off its strand. `stats` may be null (then the
// error-rate/P95 part of comprehensive health is reported skipped-with-reason, never passed).
// A request with neither smoke nor health, an unknown environment, suite or level is a failed
// gate whose detail says so (never a pass).
GateResult runGate(const GateRequest& request, runtime::Runtime& runtime,
                   std::shared_ptr<const analysis::TrafficStatistics> stats, Clock& clock);

}  // namespace runway::checks
