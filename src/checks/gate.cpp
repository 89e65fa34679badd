#include "runway/checks/gate.hpp"

#include <fmt/format.h>

#include "runway/checks/health.hpp"
#include "runway/checks/preflight.hpp"
#include "runway/checks/report.hpp"
#include "runway/checks/smoke.hpp"

namespace runway::checks {

GateResult runGate(const GateRequest& request, runtime::Runtime& runtime,
                   std::shared_ptr<const analysis::TrafficStatistics> stats, Clock& clock) {
  Report report;
  report.title = fmt::format("gate {}{}", request.environment,
                             request.version.empty() ? "" : " " + request.version);
  auto fail_with = [&report](std::string category, std::string name, std::string reason) {
    report.add({std::move(category), std::move(name), ItemStatus::Failed, std::move(reason), 0});
  };
  if (!request.config) {
    fail_with("gate", request.environment, "no configuration");
  } else if (request.smoke.empty() && request.health.empty() && request.preflight.empty()) {
    fail_with("gate", request.environment,
              "the gate names no smoke suite, health level or pre-flight level");
  } else {
    if (!request.preflight.empty()) {
      auto level = parsePreflightLevel(request.preflight);
      if (!level) {
        fail_with("preflight", request.preflight, level.error().message);
      } else {
        PreflightRequest pre;
        pre.config = request.config.get();
        pre.environment = request.environment;
        pre.version = request.version;
        pre.level = *level;
        pre.data_dir = request.data_dir;
        auto result = runPreflight(pre, runtime, clock);
        if (result) {
          report.append(*result);
        } else {
          fail_with("preflight", request.environment, result.error().message);
        }
      }
    }
    if (!request.health.empty()) {
      auto level = parseHealthLevel(request.health);
      if (!level) {
        fail_with("health", request.health, level.error().message);
      } else {
        HealthRequest health;
        health.config = request.config.get();
        health.environment = request.environment;
        health.version = request.version;
        health.level = *level;
        auto result = runHealth(health, runtime, stats, clock);
        if (result) {
          report.append(*result);
        } else {
          fail_with("health", request.environment, result.error().message);
        }
      }
    }
    if (!request.smoke.empty()) {
      SmokeRequest smoke;
      smoke.config = request.config.get();
      smoke.environment = request.environment;
      smoke.suite = request.smoke;
      smoke.version = request.version;
      smoke.data_dir = request.data_dir;
      auto result = runSmoke(smoke, runtime);
      if (result) {
        report.append(*result);
      } else {
        fail_with("smoke", request.smoke, result.error().message);
      }
    }
  }
  GateResult out;
  out.passed = report.passed();
  out.detail = report.summary();
  out.report_json = report.toJson();
  return out;
}

}  // namespace runway::checks
