#pragma once

// Configurations for the controller's unit tests: one application with two services and one
// environment per strategy, all with hooks, queued releases and a fast-rollback window. The
// parts a reload test changes are parameters.

#include <memory>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runway/config/loader.hpp"

namespace runway::controller::testing {

struct ConfigKnobs {
  std::string web = "web-v1";                // the web service's command
  std::string query = "error_rate";          // the errors template's builtin query
  std::string threshold = "0.1";             // result > threshold fails
  std::string hook = "announce-v1";          // the postDeploy hook's command
  std::string down = "migrate-down-v1";      // the preRollback hook's command
  std::string canary_pause = "pause: {}";    // the canary's second step
  std::string rollback_gates;                // "" or e.g. "rollback: {gates: enforce}"
};

inline std::string configText(const ConfigKnobs& k = {}) {
  return fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata:
  name: shop
spec:
  services:
    - name: web
      local:
        command: ["{web}", "--port", "${{PORT}}"]
    - name: api
      local:
        command: ["api", "--port", "${{PORT}}"]
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: canary
spec:
  runtime:
    local: {{}}
  strategy: canary
  concurrency: queue
  rollbackWindow: 5
  canary:
    steps:
      - setWeight: 50
      - {pause}
      - analysis:
          templates: [errors]
      - setWeight: 100
    abortScaleDownDelay: 1s
  progressDeadline: 10m
  hooks:
    postDeploy:
      - {{name: announce, command: ["{hook}"], onFailure: continue}}
    preRollback:
      - {{name: migrate-down, command: ["{down}"]}}
    postRollback:
      - {{name: tidy, command: ["tidy"], onFailure: continue}}
  {gates}
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: bluegreen
spec:
  runtime:
    local: {{}}
  strategy: blue-green
  concurrency: queue
  rollbackWindow: 5
  blueGreen:
    autoPromotion: true
    verification: 2s
    postPromotionAnalysis:
      templates: [errors]
    scaleDownDelay: 5s
  progressDeadline: 10m
  hooks:
    preRollback:
      - {{name: migrate-down, command: ["{down}"]}}
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: rolling
spec:
  runtime:
    local: {{}}
  strategy: rolling
  concurrency: supersede
  progressDeadline: 10m
  hooks:
    postDeploy:
      - {{name: announce, command: ["{hook}"], onFailure: continue}}
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata:
  name: errors
spec:
  metrics:
    - name: error-rate
      provider: builtin
      query: {query}
      interval: 1s
      count: 3
      failureCondition: "result > {threshold}"
)",
                     fmt::arg("web", k.web), fmt::arg("query", k.query), fmt::arg("threshold", k.threshold), fmt::arg("hook", k.hook),
                     fmt::arg("down", k.down), fmt::arg("pause", k.canary_pause),
                     fmt::arg("gates", k.rollback_gates));
}

inline std::shared_ptr<const config::Config> loadTestConfig(const ConfigKnobs& k = {}) {
  auto loaded = config::loadConfigText(configText(k), "/tmp/runway-controller-test/runway.yaml");
  if (!loaded.ok()) {
    std::string all;
    for (const auto& d : loaded.diagnostics) all += d.format() + "\n";
    ADD_FAILURE() << all;
    return nullptr;
  }
  return std::make_shared<const config::Config>(std::move(*loaded.config));
}

}  // namespace runway::controller::testing
