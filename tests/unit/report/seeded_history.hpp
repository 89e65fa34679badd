#pragma once

// A history seeded with the real controller in simulated time (the controller's harness, the
// real SQLite store): the reports' tests compute every figure from it by hand.

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness.hpp"
#include "runway/config/loader.hpp"

namespace runway::report::testing {

using controller::testing::Harness;

inline TimePoint at(const char* text) { return *parseTimestamp(text); }

inline constexpr const char* kConfig = R"(apiVersion: runway/v1
kind: Application
metadata:
  name: shop
spec:
  services:
    - name: web
      local:
        command: ["web", "--port", "${PORT}"]
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: staging
spec:
  runtime:
    local: {}
  strategy: rolling
  concurrency: queue
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: production
spec:
  runtime:
    local: {}
  strategy: canary
  concurrency: queue
  rollbackWindow: 5
  approvals:
    roles: [tech-lead]
  windows:
    - { start: "10:00", end: "16:00", timezone: UTC }
  canary:
    steps:
      - setWeight: 50
      - analysis:
          templates: [errors]
      - setWeight: 100
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata:
  name: errors
spec:
  metrics:
    - name: error-rate
      provider: builtin
      query: error_rate
      interval: 1s
      count: 3
      failureCondition: "result > 0.1"
)";


// The seeded history (every time UTC; the window opens 10:00-16:00 every day):
//   A  Mon 11-02 09:00  staging v1, succeeds at once
//   B  Mon 11-02 09:00  production v1, no commit time; approved 09:30; waits for the window;
//                       succeeds 10:00:01 (instances ready one tick after the window opens)
//   C  Tue 11-03 11:00  staging v2, succeeds at once
//   D  Tue 11-03 11:00  production v2, committed 08:00; approved 11:10; canary passes
//   E  Wed 11-04 12:00  production v3 (error rate 0.5), committed 09:00; approved at once;
//                       analysis fails, rolled back automatically
//   F  Wed 11-04 14:00  production v4, committed 13:00; approved at once; succeeds
//   G  Mon 11-09 10:30  production v5, committed Fri 11-06 10:30; approved at once; succeeds
//   H  Mon 11-09 11:00  rollback of production to v4 ("checkout errors"), fast
//   I  Tue 11-10 17:00  production v6, committed 16:00; approved 17:05; waits for the window
//                       until Wed 11-11 10:00; succeeds
class SeededHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cfg = config::loadConfigText(kConfig, "/tmp/runway-report-test/runway.yaml");
    ASSERT_TRUE(cfg.ok());
    h_ = std::make_unique<Harness>(std::make_shared<const config::Config>(std::move(*cfg.config)));
    h_->clock->set(at("2026-11-02T09:00:00Z"));
    ASSERT_TRUE(h_->boot());
  }

  std::string deploy(const char* when, const char* env, const char* version, const char* commit = nullptr) {
    h_->clock->set(at(when));
    h_->settle();
    auto d = controller::testing::deployOf(env, version);
    if (commit != nullptr) d.commit_time = at(commit);
    auto r = h_->r().deploy(d);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    h_->settle();
    return r ? r->deployment_id : std::string();
  }
  void approve(const std::string& id, const char* when) {
    h_->clock->set(at(when));
    h_->settle();
    controller::ApprovalRequest a;
    a.deployment_id = id;
    a.role = "tech-lead";
    a.actor.name = "bob";
    a.actor.roles = {"tech-lead"};
    auto r = h_->r().decide(a);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    h_->settle();
  }
  // Moves the clock on in one-second ticks until `id` has ended (at most a minute).
  void finish(const std::string& id) {
    for (int i = 0; i < 60; ++i) {
      const auto phase = h_->phaseOf(id);
      if (phase == "Succeeded" || phase == "RolledBack") return;
      h_->advance(std::chrono::seconds(1), std::chrono::seconds(1));
    }
    ADD_FAILURE() << id << " did not end: " << h_->phaseOf(id);
  }

  void seed() {
    const auto a = deploy("2026-11-02T09:00:00Z", "staging", "v1");
    const auto b = deploy("2026-11-02T09:00:00Z", "production", "v1");
    approve(b, "2026-11-02T09:30:00Z");
    h_->clock->set(at("2026-11-02T10:00:00Z"));
    h_->settle();
    finish(b);
    const auto c = deploy("2026-11-03T11:00:00Z", "staging", "v2");
    const auto d = deploy("2026-11-03T11:00:00Z", "production", "v2", "2026-11-03T08:00:00Z");
    approve(d, "2026-11-03T11:10:00Z");
    finish(d);
    h_->provider->error_rate["v3"] = 0.5;
    const auto e = deploy("2026-11-04T12:00:00Z", "production", "v3", "2026-11-04T09:00:00Z");
    approve(e, "2026-11-04T12:00:00Z");
    finish(e);
    const auto f = deploy("2026-11-04T14:00:00Z", "production", "v4", "2026-11-04T13:00:00Z");
    approve(f, "2026-11-04T14:00:00Z");
    finish(f);
    const auto g = deploy("2026-11-09T10:30:00Z", "production", "v5", "2026-11-06T10:30:00Z");
    approve(g, "2026-11-09T10:30:00Z");
    finish(g);
    h_->clock->set(at("2026-11-09T11:00:00Z"));
    h_->settle();
    controller::RollbackRequest rb;
    rb.environment = "production";
    rb.version = "v4";
    rb.reason = "checkout errors";
    rb.actor.name = "alice";
    auto rolled = h_->r().rollback(rb);
    ASSERT_TRUE(rolled) << rolled.error().message;
    h_->settle();
    finish(rolled->deployment_id);
    const auto i = deploy("2026-11-10T17:00:00Z", "production", "v6", "2026-11-10T16:00:00Z");
    approve(i, "2026-11-10T17:05:00Z");
    h_->clock->set(at("2026-11-11T10:00:00Z"));
    h_->settle();
    finish(i);
    ids_ = {a, b, c, d, e, f, g, rolled->deployment_id, i};
  }

  std::unique_ptr<Harness> h_;
  std::vector<std::string> ids_;
};

}  // namespace runway::report::testing
