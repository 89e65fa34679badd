#pragma once

// Health checks at three levels (the runbook's health-check.sh ENV basic|comprehensive|detailed):
//
//   basic          every instance of the version(s) answers its service's health path with a
//                  2xx within the probe timeout; a service with no Ready instance fails.
//   comprehensive  basic + the environment's declared dependencies (HTTP, TCP or a command)
//                  + error rate, P95 latency and availability over the last `window` against
//                  the environment's thresholds (from the router's statistics).
//   detailed       comprehensive + per-instance diagnostics: uptime, restarts, memory and CPU
//                  from /proc, recent error lines from its log.
//
// Blocking (HTTP calls, commands); call off any strand.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runway/analysis/provider.hpp"
#include "runway/checks/report.hpp"
#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/runtime/runtime.hpp"

namespace runway::checks {

enum class HealthLevel { Basic, Comprehensive, Detailed };
std::string_view toString(HealthLevel level);
// "basic", "comprehensive", "detailed"; InvalidArgument otherwise.
Result<HealthLevel> parseHealthLevel(std::string_view text);

struct HealthRequest {
  const config::Config* config = nullptr;  // REQUIRES: not null
  std::string environment;
  // The version to check; "" = the versions that serve: those with a weight in the service's
  // traffic split, or every version with instances when no split is recorded.
  std::string version;
  HealthLevel level = HealthLevel::Basic;
  // Statistics window for comprehensive health.
  Duration window{std::chrono::minutes(1)};
  // Lines of a log read back for "recent error lines" (detailed).
  int log_lines = 200;
};

// Errors: NotFound (unknown environment), InvalidArgument (the environment has no application).
// Everything else is an item in the report.
Result<Report> runHealth(const HealthRequest& request, runtime::Runtime& runtime,
                         std::shared_ptr<const analysis::TrafficStatistics> stats, Clock& clock);

// The versions of `service` a check looks at when no version is named (see HealthRequest).
std::vector<std::string> servingVersions(runtime::Runtime& runtime, std::string_view environment,
                                         std::string_view service);

}  // namespace runway::checks
