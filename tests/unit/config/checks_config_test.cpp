// Smoke suites, dependencies, hooks, backup, pre-flight and performance settings: every field
// read, and each mistake reported at its file:line:column with the field's path.

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/config/loader.hpp"
#include "text.hpp"
#include "test_paths.hpp"

namespace runway::config {
namespace {

using ::testing::ElementsAre;
using test::env;
using test::messages;
using ::testing::ElementsAreArray;

// Lines 1-17: an application with two services and a smoke suite.
const std::string kApp = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: [web]}
    - name: api
      local: {command: [api]}
  smoke:
    critical:
      - name: home
        path: /
      - {name: leads, service: api, method: POST, path: /api/leads, headers: {X-Test: "1"},
         body: '{"a":1}', timeout: 2s,
         expect: {status: 201, bodyContains: ok, json: {/0/id: lead-1, /count: 5}, maxLatency: 300ms}}
---
)";

// Line 18 is "apiVersion", the spec's keys start at line 22 (env()).
TEST(ChecksConfigTest, EveryFieldIsRead) {
  const auto result = loadConfigText(kApp + env(R"(  canary:
    steps:
      - setWeight: 10
      - checks: {smoke: critical, health: basic}
      - setWeight: 100
  dependencies:
    - {name: database, command: [pg_isready, -h, 127.0.0.1], timeout: 3s}
    - {name: cache, tcp: "127.0.0.1:6379"}
    - {name: payments, http: "http://127.0.0.1:9000/health", expectStatus: 204}
  hooks:
    preDeploy:
      - {name: migrate, command: [sh, -c, "make migrate"], env: {DB: shop}, timeout: 10m, retries: 2, retryDelay: 5s, onFailure: fail}
    postDeploy:
      - {name: notify, http: "http://127.0.0.1:9/hook", method: PUT, headers: {X-A: b}, body: done, onFailure: continue}
    preRollback:
      - {name: down-migration, command: [sh, -c, "make migrate-down"]}
    onAbort:
      - {command: ["true"]}
  backup:
    command: [sh, -c, 'pg_dump -Fc -f "$RUNWAY_BACKUP_FILE" shop']
    directory: /var/backups/shop
    keep: 14
    suffix: .pgdump
    timeout: 30m
    beforeDeploy: true
  preflight:
    env: [DATABASE_URL]
    files: [/etc/shop/tls.key]
    metrics: "http://127.0.0.1:9090"
    registry: {insecure: true, usernameEnv: REG_USER, passwordEnv: REG_PASSWORD}
    beforeDeploy: comprehensive
  performance:
    service: api
    method: GET
    path: /api/leads
    rate: 50
    duration: 1m
    timeout: 2s
    tolerance: {p95: 10%, p99: 0.2, throughput: 5%, noise: 10ms}
    maxErrorRate: 0.02
)"),
                                    "t.yaml");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& cfg = *result.config;
  const auto* suite = cfg.applications[0].findSuite("critical");
  ASSERT_NE(suite, nullptr);
  ASSERT_EQ(suite->checks.size(), 2U);
  EXPECT_EQ(suite->checks[0].method, "GET");
  EXPECT_EQ(suite->checks[0].expect_status, 200);
  const auto& leads = suite->checks[1];
  EXPECT_EQ(leads.service, "api");
  EXPECT_EQ(leads.method, "POST");
  EXPECT_EQ(leads.headers.at("X-Test"), "1");
  EXPECT_EQ(leads.body, R"({"a":1})");
  EXPECT_EQ(leads.timeout, Duration{2000});
  EXPECT_EQ(leads.expect_status, 201);
  EXPECT_EQ(leads.body_contains, "ok");
  EXPECT_EQ(leads.json_equals.at("/0/id"), "lead-1");
  EXPECT_EQ(leads.json_equals.at("/count"), "5");
  EXPECT_EQ(leads.max_latency, Duration{300});
  EXPECT_EQ(leads.location.line, 14);

  const auto& e = cfg.environments[0];
  ASSERT_EQ(e.dependencies.size(), 3U);
  EXPECT_EQ(e.dependencies[0].kind, Dependency::Kind::Command);
  EXPECT_THAT(e.dependencies[0].command, ElementsAre("pg_isready", "-h", "127.0.0.1"));
  EXPECT_EQ(e.dependencies[0].timeout, Duration{3000});
  EXPECT_EQ(e.dependencies[1].kind, Dependency::Kind::Tcp);
  EXPECT_EQ(e.dependencies[1].host, "127.0.0.1");
  EXPECT_EQ(e.dependencies[1].port, 6379);
  EXPECT_EQ(e.dependencies[2].kind, Dependency::Kind::Http);
  EXPECT_EQ(e.dependencies[2].expect_status, 204);

  ASSERT_EQ(e.hooks.pre_deploy.size(), 1U);
  const auto& migrate = e.hooks.pre_deploy[0];
  EXPECT_EQ(migrate.name, "migrate");
  EXPECT_EQ(migrate.env.at("DB"), "shop");
  EXPECT_EQ(migrate.timeout, std::chrono::minutes(10));
  EXPECT_EQ(migrate.retries, 2);
  EXPECT_EQ(migrate.retry_delay, std::chrono::seconds(5));
  EXPECT_EQ(migrate.on_failure, Hook::OnFailure::Fail);
  EXPECT_FALSE(migrate.base_dir.empty());
  const auto& notify = e.hooks.post_deploy.at(0);
  EXPECT_EQ(notify.kind, Hook::Kind::Http);
  EXPECT_EQ(notify.method, "PUT");
  EXPECT_EQ(notify.body, "done");
  EXPECT_EQ(notify.on_failure, Hook::OnFailure::Continue);
  EXPECT_EQ(e.hooks.at(HookPoint::PreRollback).at(0).name, "down-migration");
  EXPECT_EQ(e.hooks.on_abort.at(0).name, "true");  // unnamed: its program

  ASSERT_TRUE(e.backup);
  EXPECT_EQ(e.backup->directory, "/var/backups/shop");
  EXPECT_EQ(e.backup->keep, 14);
  EXPECT_EQ(e.backup->suffix, ".pgdump");
  EXPECT_EQ(e.backup->hook.timeout, std::chrono::minutes(30));
  EXPECT_TRUE(e.backup->before_deploy);

  EXPECT_THAT(e.preflight.env, ElementsAre("DATABASE_URL"));
  EXPECT_THAT(e.preflight.files, ElementsAre("/etc/shop/tls.key"));
  EXPECT_EQ(e.preflight.metrics, "http://127.0.0.1:9090");
  EXPECT_TRUE(e.preflight.registry.insecure);
  EXPECT_EQ(e.preflight.registry.username_env, "REG_USER");
  EXPECT_EQ(e.preflight.before_deploy, "comprehensive");

  EXPECT_EQ(e.performance.service, "api");
  EXPECT_EQ(e.performance.path, "/api/leads");
  EXPECT_DOUBLE_EQ(e.performance.rate, 50);
  EXPECT_EQ(e.performance.duration, std::chrono::minutes(1));
  EXPECT_DOUBLE_EQ(e.performance.p95_tolerance, 0.10);
  EXPECT_DOUBLE_EQ(e.performance.p99_tolerance, 0.20);
  EXPECT_DOUBLE_EQ(e.performance.throughput_tolerance, 0.05);
  EXPECT_EQ(e.performance.latency_noise, Duration{10});
  EXPECT_DOUBLE_EQ(e.performance.max_error_rate, 0.02);
}

TEST(ChecksConfigTest, DefaultsWhenNothingIsDeclared) {
  const auto result = loadConfigText(kApp + env("  strategy: rolling\n"), "t.yaml");
  ASSERT_TRUE(result.ok());
  const auto& e = result.config->environments[0];
  EXPECT_TRUE(e.dependencies.empty());
  EXPECT_TRUE(e.hooks.pre_deploy.empty());
  EXPECT_FALSE(e.backup);
  EXPECT_EQ(e.preflight.before_deploy, "");
  EXPECT_EQ(e.performance.path, "/");
  EXPECT_DOUBLE_EQ(e.performance.p95_tolerance, 0.10);
}

// docs/checks.md shows the runbook's checks as configuration; that text must load.
TEST(ChecksConfigTest, TheDocumentedExampleLoads) {
  std::ifstream in(std::string(RUNWAY_SOURCE_DIR) + "/docs/checks.md");
  std::stringstream text;
  text << in.rdbuf();
  const auto doc = text.str();
  const auto start = doc.find("```yaml\n");
  ASSERT_NE(start, std::string::npos);
  const auto end = doc.find("```", start + 8);
  const auto yaml = doc.substr(start + 8, end - start - 8);
  const auto result = loadConfigText(yaml, "docs/checks.md");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& env = result.config->environments.at(0);
  EXPECT_EQ(env.dependencies.size(), 3U);
  EXPECT_TRUE(env.backup && env.backup->before_deploy);
  EXPECT_EQ(env.hooks.pre_rollback.at(0).name, "migrate-down");
  EXPECT_EQ(env.preflight.before_deploy, "comprehensive");
}

TEST(ChecksConfigTest, TheChecksExampleLoads) {
  const auto result = loadConfig(std::string(RUNWAY_SOURCE_DIR) + "/examples/checks/runway.yaml");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& app = result.config->applications.at(0);
  EXPECT_NE(app.findSuite("critical"), nullptr);
  EXPECT_NE(app.findSuite("full"), nullptr);
  EXPECT_EQ(result.config->environments.at(0).backup->suffix, ".tar.gz");
}

struct Case {
  std::string name;
  std::string spec;  // environment spec lines (from line 22)
  std::vector<std::string> expected;
  std::string app = kApp;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class ChecksConfigErrorTest : public ::testing::TestWithParam<Case> {};

TEST_P(ChecksConfigErrorTest, ReportsExactly) {
  const auto& c = GetParam();
  const auto result = loadConfigText(c.app + env(c.spec), "t.yaml");
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(messages(result), ElementsAreArray(c.expected));
}

INSTANTIATE_TEST_SUITE_P(
    EachMistake, ChecksConfigErrorTest,
    ::testing::Values(
        Case{"unknown_suite",
             "  blueGreen:\n    prePromotionChecks: {smoke: critcal}\n",
             {"t.yaml:23:33: spec.blueGreen.prePromotionChecks.smoke: unknown smoke suite of "
              "Application \"shop\": \"critcal\" (did you mean \"critical\"?)"}},
        Case{"dependency_two_kinds",
             "  dependencies:\n    - {name: db, tcp: \"h:1\", http: \"http://x\"}\n",
             {"t.yaml:23:7: spec.dependencies[0]: set exactly one of http (a URL answered with "
              "2xx), tcp (host:port accepting a connection) or command (exits 0)"}},
        Case{"dependency_bad_tcp", "  dependencies:\n    - {name: db, tcp: localhost}\n",
             {"t.yaml:23:23: spec.dependencies[0].tcp: expected host:port with a port 1-65535, "
              "got \"localhost\""}},
        Case{"dependency_duplicate",
             "  dependencies:\n    - {name: db, tcp: \"h:1\"}\n    - {name: db, tcp: \"h:2\"}\n",
             {"t.yaml:24:7: spec.dependencies[1].name: duplicate dependency \"db\" (first "
              "defined at t.yaml:23:7)"}},
        Case{"hook_unknown_point", "  hooks:\n    preDeplyo: []\n",
             {"t.yaml:23:5: spec.hooks.preDeplyo: unknown field \"preDeplyo\" (did you mean "
              "\"preDeploy\"?)"}},
        Case{"hook_bad_policy",
             "  hooks:\n    preDeploy:\n      - {command: [x], onFailure: ignore}\n",
             {"t.yaml:24:35: spec.hooks.preDeploy[0].onFailure: unknown value \"ignore\" "
              "(expected one of: fail, continue, rollback)"}},
        Case{"hook_rollback_in_rollback",
             "  hooks:\n    preRollback:\n      - {command: [x], onFailure: rollback}\n",
             {"t.yaml:24:9: spec.hooks.preRollback[0].onFailure: \"rollback\" makes no sense in "
              "preRollback (use fail or continue)"}},
        Case{"hook_both_kinds",
             "  hooks:\n    postDeploy:\n      - {command: [x], http: \"http://h\"}\n",
             {"t.yaml:24:9: spec.hooks.postDeploy[0]: set exactly one of command (argv list) "
              "or http (a URL)"}},
        Case{"backup_without_command", "  backup: {keep: 3}\n",
             {"t.yaml:22:11: spec.backup.command: required field is missing"}},
        Case{"backup_keep_zero", "  backup: {command: [x], keep: 0}\n",
             {"t.yaml:22:32: spec.backup.keep: must be between 1 and 10000, got 0"}},
        Case{"preflight_bad_level", "  preflight: {beforeDeploy: thorough}\n",
             {"t.yaml:22:29: spec.preflight.beforeDeploy: unknown value \"thorough\" (expected "
              "one of: basic, comprehensive)"}},
        Case{"preflight_half_credentials", "  preflight:\n    registry: {usernameEnv: U}\n",
             {"t.yaml:23:15: spec.preflight.registry: set both usernameEnv and passwordEnv, or "
              "neither"}},
        Case{"performance_unknown_service", "  performance: {service: billing}\n",
             {"t.yaml:22:16: spec.performance.service: unknown service of Application \"shop\": "
              "\"billing\" (defined: web, api)"}},
        Case{"performance_bad_tolerance", "  performance:\n    tolerance: {p95: lots}\n",
             {"t.yaml:23:22: spec.performance.tolerance.p95: expected a percentage such as "
              "\"10%\" (or a fraction such as 0.1), got \"lots\""}},
        Case{"smoke_check_bad_path_and_service",
             "  strategy: rolling\n",
             {"t.yaml:8:19: spec.smoke.quick[0].service: unknown service \"wbe\" (did you mean "
              "\"web\"?)",
              "t.yaml:8:30: spec.smoke.quick[0].path: must start with '/', got \"health\""},
             "apiVersion: runway/v1\nkind: Application\nmetadata: {name: shop}\nspec:\n"
             "  services: [{name: web, local: {command: [web]}}]\n  smoke:\n    quick:\n"
             "      - {service: wbe, path: health, name: h}\n---\n"}));

}  // namespace
}  // namespace runway::config
