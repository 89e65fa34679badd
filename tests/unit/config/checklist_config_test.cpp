// The Environment's `checklist:` (issue 25): every field read, each mistake reported at its
// file:line:column with the field's path, and the items not judged yet (backupVerified,
// notified) refused by name.

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/config/loader.hpp"
#include "text.hpp"

namespace runway::config {
namespace {

using test::env;
using test::messages;
using ::testing::ElementsAre;

const std::string kChecklistApp = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: [web]}
---
)";
// kChecklistApp takes 8 lines; env() 4 more: the spec's first line is line 13.

TEST(ChecklistConfigTest, EveryFieldIsRead) {
  const auto result = loadConfigText(kChecklistApp + env(R"(  checklist:
    vulnerabilities:
      failAt: critical
      allow:
        - {id: CVE-2024-1234, expires: 2027-01-31, reason: "not reachable: we never parse X.509"}
        - {id: GHSA-abcd-efgh-ijkl, expires: "2026-12-24T12:00:00Z", reason: vendor fix pending}
      waivableBy: [security]
    tests: {minTests: 120, waivableBy: [tech-lead, security]}
    semver: {requireNewer: false}
    github: {apiUrl: "http://127.0.0.1:8080/api/v3/", tokenFile: /run/secrets/github-token}
    codeReview: {minApprovals: 2, noChangesRequested: false, waivableBy: [security]}
    ciChecks: {required: [build, ci/jenkins]}
    pagerduty: {tokenEnv: PD_KEY}
    onCall: {schedule: PABC123, waivableBy: [ops]}
)"), "t.yaml");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& c = result.config->environments.at(0).checklist;
  EXPECT_EQ(c.github.api_url, "http://127.0.0.1:8080/api/v3");
  EXPECT_EQ(c.github.token_file, "/run/secrets/github-token");
  EXPECT_EQ(c.github.token_env, "GITHUB_TOKEN");
  ASSERT_TRUE(c.code_review);
  EXPECT_EQ(c.code_review->min_approvals, 2);
  EXPECT_FALSE(c.code_review->no_changes_requested);
  ASSERT_TRUE(c.ci_checks);
  EXPECT_THAT(c.ci_checks->required, ElementsAre("build", "ci/jenkins"));
  EXPECT_THAT(*c.waivableBy("codeReview"), ElementsAre("security"));
  ASSERT_TRUE(c.on_call);
  EXPECT_EQ(c.on_call->schedule, "PABC123");
  EXPECT_EQ(c.pagerduty.api_url, "https://api.pagerduty.com");
  EXPECT_EQ(c.pagerduty.token_env, "PD_KEY");
  EXPECT_EQ(c.waivableBy("backupVerified"), nullptr);
  EXPECT_THAT(c.waiverRoles(), ElementsAre("security", "tech-lead", "ops"));
  ASSERT_TRUE(c.vulnerabilities);
  EXPECT_EQ(c.vulnerabilities->fail_at, Severity::Critical);
  ASSERT_EQ(c.vulnerabilities->allow.size(), 2u);
  EXPECT_EQ(c.vulnerabilities->allow[0].id, "CVE-2024-1234");
  EXPECT_EQ(formatTimestamp(c.vulnerabilities->allow[0].expires), "2027-01-31T00:00:00.000Z");
  EXPECT_EQ(c.vulnerabilities->allow[0].reason, "not reachable: we never parse X.509");
  EXPECT_EQ(formatTimestamp(c.vulnerabilities->allow[1].expires), "2026-12-24T12:00:00.000Z");
  EXPECT_THAT(c.vulnerabilities->waivable_by, ElementsAre("security"));
  ASSERT_TRUE(c.tests);
  EXPECT_EQ(c.tests->min_tests, 120);
  EXPECT_THAT(c.tests->waivable_by, ElementsAre("tech-lead", "security"));
  ASSERT_TRUE(c.semver);
  EXPECT_FALSE(c.semver->require_newer);
  EXPECT_TRUE(c.semver->waivable_by.empty());
  EXPECT_FALSE(c.empty());
}

TEST(ChecklistConfigTest, DefaultsAndNoChecklist) {
  const auto result = loadConfigText(kChecklistApp + env("  checklist: {vulnerabilities: {}, tests: {}, semver: {}}\n"), "t.yaml");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& c = result.config->environments.at(0).checklist;
  EXPECT_EQ(c.vulnerabilities->fail_at, Severity::High);
  EXPECT_TRUE(c.vulnerabilities->allow.empty());
  EXPECT_EQ(c.tests->min_tests, 1);
  EXPECT_TRUE(c.semver->require_newer);

  const auto none = loadConfigText(kChecklistApp + env("  strategy: rolling\n"), "t.yaml");
  ASSERT_TRUE(none.ok()) << ::testing::PrintToString(messages(none));
  EXPECT_TRUE(none.config->environments.at(0).checklist.empty());
}

TEST(ChecklistConfigTest, EachMistakeAtItsPlace) {
  const auto result = loadConfigText(kChecklistApp + env(R"(  checklist:
    vulnerabilities:
      failAt: severe
      allow:
        - {id: CVE-1, expires: next week, reason: r}
        - {id: CVE-2}
    tests: {minTests: 0}
    semver: {requireNewr: true}
    codeReview: {approvals: 2}
    ciChecks: {}
    backupVerified: {maxAge: 1d}
    github: {apiUrl: "ftp://github.example.com"}
    notified: {channel: relases, events: [deployment.bogus]}
)"), "t.yaml");
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(messages(result),
              ElementsAre("t.yaml:15:15: spec.checklist.vulnerabilities.failAt: unknown value \"severe\" (expected "
                          "one of: critical, high, medium, low)",
                          "t.yaml:17:32: spec.checklist.vulnerabilities.allow[0].expires: invalid expiry \"next "
                          "week\": write a date (2027-01-31) or an RFC 3339 time",
                          "t.yaml:18:11: spec.checklist.vulnerabilities.allow[1].reason: required field is missing",
                          "t.yaml:18:11: spec.checklist.vulnerabilities.allow[1].expires: required field is missing",
                          "t.yaml:19:23: spec.checklist.tests.minTests: must be between 1 and 100000000, got 0",
                          "t.yaml:20:14: spec.checklist.semver.requireNewr: unknown field \"requireNewr\" (did you "
                          "mean \"requireNewer\"?)",
                          "t.yaml:21:18: spec.checklist.codeReview.approvals: unknown field \"approvals\"",
                          "t.yaml:22:15: spec.checklist.ciChecks.required: required field is missing",
                          "t.yaml:23:21: spec.checklist.backupVerified: judges the environment's backups: configure "
                          "spec.backup (its backup hook) too",
                          "t.yaml:24:22: spec.checklist.github.apiUrl: \"ftp://github.example.com\" is not an "
                          "http:// or https:// URL",
                          "t.yaml:25:15: spec.checklist.notified.channel: unknown NotificationChannel \"relases\" "
                          "(none is defined)",
                          "t.yaml:25:42: spec.checklist.notified.events: unknown notification event "
                          "\"deployment.bogus\""));
}

}  // namespace
}  // namespace runway::config
