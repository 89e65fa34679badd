#pragma once

// Smoke suites (the runbook's smoke-tests.sh ENV critical|full): the HTTP checks an
// Application declares under `smoke:`, run against one version's instances directly (the green
// colour or the canary before it gets traffic) or through the router (what users see).
// Blocking (HTTP calls).

#include <filesystem>
#include <string>

#include "runway/checks/report.hpp"
#include "runway/config/model.hpp"
#include "runway/core/error.hpp"
#include "runway/runtime/runtime.hpp"

namespace runway::checks {

struct SmokeRequest {
  const config::Config* config = nullptr;  // REQUIRES: not null
  std::string environment;
  std::string suite;
  // "" = through the router; otherwise every Ready instance of this version is sent each check.
  std::string version;
  // To find the router port the configuration leaves to chance (DATA/run/.../traffic.json).
  std::filesystem::path data_dir;
  // Overrides the router address entirely ("http://127.0.0.1:8080"); "" = as above.
  std::string base_url;
};

// Errors: NotFound (unknown environment or suite, naming the defined suites). A version without
// ready instances, a router that is not listening and every failed expectation are failed
// items in the report.
Result<Report> runSmoke(const SmokeRequest& request, runtime::Runtime& runtime);

// One check against `base_url` ("http://127.0.0.1:PORT"): the item's reason says what was
// expected and what came back, e.g. "GET /api/leads -> 500, expected 200".
CheckItem runSmokeCheck(const config::SmokeCheck& check, const std::string& base_url,
                        const std::string& item_name);

}  // namespace runway::checks
