// The checklist's judgements (issue 25): vulnerability reports in the three formats, the
// allow-list and its expiry, JUnit reports, semantic versions; malformed reports fail naming the
// file and the reason, never pass.

#include "runway/checks/checklist.hpp"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace runway::checks {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TimePoint instant(const char* text) { return *parseTimestamp(text); }

// Trivy's JSON (schema 2) with one critical finding, as `trivy image -f json` writes it.
const std::string kTrivyCritical = R"({
  "SchemaVersion": 2,
  "ArtifactName": "registry.example.com/shop/api:v1.4.0",
  "Results": [
    {"Target": "debian 12", "Class": "os-pkgs", "Vulnerabilities": [
      {"VulnerabilityID": "CVE-2024-0001", "PkgName": "openssl", "InstalledVersion": "3.0.11",
       "Severity": "CRITICAL", "Title": "x"},
      {"VulnerabilityID": "CVE-2024-0002", "PkgName": "zlib", "InstalledVersion": "1.2.13",
       "Severity": "LOW"}]},
    {"Target": "app/package-lock.json", "Class": "lang-pkgs", "Vulnerabilities": null}
  ]
})";

const std::string kGrypeHigh = R"({
  "matches": [
    {"vulnerability": {"id": "GHSA-aaaa-bbbb-cccc", "severity": "High"},
     "artifact": {"name": "lodash", "version": "4.17.20", "type": "npm"}},
    {"vulnerability": {"id": "CVE-2023-9999", "severity": "Negligible"},
     "artifact": {"name": "tar", "version": "1.34"}}
  ],
  "source": {"type": "image"}
})";

// SARIF as Trivy writes it: the CVSS score on the rule, the result names the rule.
const std::string kSarif = R"({
  "version": "2.1.0",
  "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
  "runs": [{
    "tool": {"driver": {"name": "Trivy", "rules": [
      {"id": "CVE-2024-0003", "properties": {"security-severity": "9.8", "tags": ["CRITICAL"]}},
      {"id": "CVE-2024-0004", "properties": {"security-severity": "5.3"}}]}},
    "results": [
      {"ruleId": "CVE-2024-0004", "level": "warning", "message": {"text": "m"}},
      {"ruleId": "CVE-2024-0003", "level": "error", "message": {"text": "m"}},
      {"ruleId": "js/sql-injection", "level": "note", "message": {"text": "m"}}
    ]
  }]
})";

config::Checklist vulnerabilitiesOnly(std::vector<config::VulnerabilityAllowance> allow = {}) {
  config::Checklist c;
  c.vulnerabilities = config::VulnerabilitiesItem{};
  c.vulnerabilities->allow = std::move(allow);
  return c;
}

ChecklistInput withReport(const std::string& kind, const std::string& name, const std::string& content) {
  ChecklistInput in;
  in.version = "v1.4.0";
  in.now = instant("2026-12-07T12:00:00Z");
  in.evidence.attachments.push_back(store::Attachment{kind, name, content});
  return in;
}

TEST(ChecklistTest, OneCriticalFindingFailsVulnerabilities) {
  const auto report = judgeChecklist(vulnerabilitiesOnly(), withReport("vulnerabilities", "trivy.json", kTrivyCritical));
  ASSERT_EQ(report.items.size(), 1u);
  EXPECT_EQ(report.items[0].name, "vulnerabilities");
  EXPECT_EQ(report.items[0].status, ChecklistStatus::Failed);
  EXPECT_EQ(report.items[0].reason,
            "trivy.json: 1 finding at or above high: CVE-2024-0001 (critical, openssl 3.0.11)");
  EXPECT_FALSE(report.passed());
  EXPECT_THAT(report.firstFailure(), StartsWith("vulnerabilities: trivy.json: 1 finding"));
}

TEST(ChecklistTest, TheSameFindingAllowListedPassesUntilItsExpiry) {
  const auto checklist =
      vulnerabilitiesOnly({config::VulnerabilityAllowance{"CVE-2024-0001", instant("2027-01-31T00:00:00Z"), "not reachable", {}}});
  auto in = withReport("vulnerabilities", "trivy.json", kTrivyCritical);
  auto report = judgeChecklist(checklist, in);
  ASSERT_EQ(report.items.size(), 1u);
  EXPECT_EQ(report.items[0].status, ChecklistStatus::Passed) << report.items[0].reason;
  EXPECT_EQ(report.items[0].reason, "trivy.json: 2 findings, none at or above high except 1 allowed until its expiry");
  EXPECT_TRUE(report.passed());

  in.now = instant("2027-01-31T00:00:00Z");  // the expiry itself is past the allowance
  report = judgeChecklist(checklist, in);
  EXPECT_EQ(report.items[0].status, ChecklistStatus::Failed);
  EXPECT_EQ(report.items[0].reason,
            "trivy.json: 1 finding at or above high: CVE-2024-0001 (critical, openssl 3.0.11): its allowance "
            "expired at 2027-01-31T00:00:00.000Z");
}

TEST(ChecklistTest, GrypeAndSarifFindingsAreJudgedBySeverity) {
  auto report = judgeChecklist(vulnerabilitiesOnly(), withReport("vulnerabilities", "grype.json", kGrypeHigh));
  EXPECT_EQ(report.items[0].status, ChecklistStatus::Failed);
  EXPECT_EQ(report.items[0].reason, "grype.json: 1 finding at or above high: GHSA-aaaa-bbbb-cccc (high, lodash 4.17.20)");

  auto critical_only = vulnerabilitiesOnly();
  critical_only.vulnerabilities->fail_at = config::Severity::Critical;
  report = judgeChecklist(critical_only, withReport("vulnerabilities", "grype.json", kGrypeHigh));
  EXPECT_EQ(report.items[0].status, ChecklistStatus::Passed) << report.items[0].reason;

  report = judgeChecklist(vulnerabilitiesOnly(), withReport("vulnerabilities", "trivy.sarif", kSarif));
  EXPECT_EQ(report.items[0].status, ChecklistStatus::Failed);
  EXPECT_EQ(report.items[0].reason, "trivy.sarif: 1 finding at or above high: CVE-2024-0003 (critical)");

  auto findings = parseVulnerabilityReport("trivy.sarif", kSarif);
  ASSERT_TRUE(findings) << findings.error().message;
  ASSERT_EQ(findings->size(), 3u);
  EXPECT_EQ((*findings)[0].severity, config::Severity::Medium);  // 5.3 from its rule
  EXPECT_EQ((*findings)[2].severity, config::Severity::Low);     // no score: level note
}

TEST(ChecklistTest, AFindingOfUnknownSeverityIsNotPassed) {
  const std::string unknown = R"({"SchemaVersion": 2, "Results": [{"Vulnerabilities": [
      {"VulnerabilityID": "CVE-2024-7777", "PkgName": "x", "Severity": "UNKNOWN"}]}]})";
  const auto report = judgeChecklist(vulnerabilitiesOnly(), withReport("vulnerabilities", "t.json", unknown));
  EXPECT_EQ(report.items[0].status, ChecklistStatus::Failed);
  EXPECT_THAT(report.items[0].reason, HasSubstr("CVE-2024-7777 (severity unknown, x)"));
}

TEST(ChecklistTest, MalformedOrMissingReportsFailNamingTheFileAndTheReason) {
  const auto reasonFor = [](const std::string& content) {
    auto r = judgeChecklist(vulnerabilitiesOnly(), withReport("vulnerabilities", "scan.json", content));
    EXPECT_EQ(r.items.at(0).status, ChecklistStatus::Failed) << content;
    return r.items.at(0).reason;
  };
  EXPECT_THAT(reasonFor("{\"Results\": [ "), StartsWith("cannot judge the report: scan.json: not JSON: "));
  EXPECT_EQ(reasonFor("[]"), "cannot judge the report: scan.json: not a JSON object");
  EXPECT_EQ(reasonFor(R"({"vulns": []})"),
            "cannot judge the report: scan.json: not a SARIF, Trivy or Grype report (none of \"runs\", "
            "\"Results\", \"matches\" at the top)");
  EXPECT_EQ(reasonFor(R"({"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-1"}]}]})"),
            "cannot judge the report: scan.json: Results[0].Vulnerabilities[0].Severity is missing");
  EXPECT_EQ(reasonFor(R"({"matches": {"a": 1}})"), "cannot judge the report: scan.json: matches is not a list");
  EXPECT_EQ(reasonFor(R"({"runs": [{"results": [{"level": "error"}]}]})"),
            "cannot judge the report: scan.json: runs[0].results[0].ruleId is missing");

  ChecklistInput none;
  none.version = "v1.4.0";
  auto r = judgeChecklist(vulnerabilitiesOnly(), none);
  EXPECT_EQ(r.items[0].status, ChecklistStatus::Failed);
  EXPECT_EQ(r.items[0].reason, "no vulnerability report attached (runway deploy --attach vulnerabilities=FILE)");
}

config::Checklist testsOnly(int min) {
  config::Checklist c;
  c.tests = config::TestsItem{};
  c.tests->min_tests = min;
  return c;
}

TEST(ChecklistTest, JUnitReportsPassOnlyWithoutFailuresAndWithEnoughTests) {
  const std::string passing = R"(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="4">
  <testsuite name="quotes" tests="3">
    <testcase classname="QuoteTest" name="prices" time="0.01"/>
    <testcase classname="QuoteTest" name="rounds"><system-out>ok</system-out></testcase>
    <testcase classname="QuoteTest" name="later"><skipped message="flaky"/></testcase>
  </testsuite>
  <testsuite name="leads"><testcase classname="LeadTest" name="creates"/></testsuite>
</testsuites>
)";
  auto r = judgeChecklist(testsOnly(3), withReport("tests", "junit.xml", passing));
  EXPECT_EQ(r.items.at(0).status, ChecklistStatus::Passed) << r.items[0].reason;
  EXPECT_EQ(r.items[0].reason, "junit.xml: 3 tests passed (1 skipped)");

  r = judgeChecklist(testsOnly(4), withReport("tests", "junit.xml", passing));
  EXPECT_EQ(r.items[0].status, ChecklistStatus::Failed);
  EXPECT_EQ(r.items[0].reason, "junit.xml: 3 tests ran (1 skipped), fewer than the 4 required");

  const std::string failing = R"(<testsuite name="e2e">
  <testcase classname="Checkout" name="pays"><failure message="expected 201, got 500">trace</failure></testcase>
  <testcase classname="Checkout" name="refunds"><error message="timeout"/></testcase>
  <testcase classname="Checkout" name="lists"/>
</testsuite>)";
  r = judgeChecklist(testsOnly(1), withReport("tests", "e2e.xml", failing));
  EXPECT_EQ(r.items[0].status, ChecklistStatus::Failed);
  EXPECT_EQ(r.items[0].reason, "e2e.xml: 2 of 3 tests failed (first: Checkout.pays: expected 201, got 500)");
}

TEST(ChecklistTest, MalformedJUnitFailsWithFileLineAndColumn) {
  const auto reasonFor = [](const std::string& content) {
    auto r = judgeChecklist(testsOnly(1), withReport("tests", "junit.xml", content));
    EXPECT_EQ(r.items.at(0).status, ChecklistStatus::Failed) << content;
    return r.items.at(0).reason;
  };
  EXPECT_EQ(reasonFor("<testsuite>\n  <testcase name=\"a\">\n</testsuite>"),
            "cannot judge the report: junit.xml: 3:3: not well-formed XML: mismatched tag");
  EXPECT_EQ(reasonFor("<report><testcase/></report>"),
            "cannot judge the report: junit.xml: the root element is <report>, expected <testsuites> or <testsuite>");
  EXPECT_EQ(reasonFor("<!DOCTYPE lol [<!ENTITY a \"aaaa\">]>\n<testsuite>&a;</testsuite>"),
            "cannot judge the report: junit.xml: 1:15: a document type declaration is not accepted in a JUnit report");
  EXPECT_THAT(reasonFor(""), StartsWith("cannot judge the report: junit.xml: 1:1: not well-formed XML: "));
}

TEST(ChecklistTest, SemverNeedsASemanticVersionNewerThanTheCurrentRelease) {
  config::Checklist c;
  c.semver = config::SemverItem{};
  ChecklistInput in;
  in.version = "v1.4.0";
  in.current_release = "v1.3.9";
  auto r = judgeChecklist(c, in);
  EXPECT_EQ(r.items.at(0).status, ChecklistStatus::Passed) << r.items[0].reason;
  EXPECT_EQ(r.items[0].reason, "v1.4.0 is a semantic version newer than v1.3.9");

  in.current_release = "v1.4.0";
  r = judgeChecklist(c, in);
  EXPECT_EQ(r.items[0].status, ChecklistStatus::Failed);
  EXPECT_EQ(r.items[0].reason, "v1.4.0 is not newer than the current release v1.4.0");

  in.current_release = "3f2c1ab";
  r = judgeChecklist(c, in);
  EXPECT_EQ(r.items[0].status, ChecklistStatus::Failed);
  EXPECT_EQ(r.items[0].reason, "the current release 3f2c1ab is not a semantic version: cannot tell whether v1.4.0 is newer");

  in.version = "build-42";
  in.current_release.clear();
  r = judgeChecklist(c, in);
  EXPECT_EQ(r.items[0].status, ChecklistStatus::Failed);
  EXPECT_EQ(r.items[0].reason, "build-42 is not a semantic version (MAJOR.MINOR.PATCH, e.g. v1.4.0)");

  c.semver->require_newer = false;
  in.version = "1.0.0-rc.1";
  in.current_release = "v2.0.0";
  r = judgeChecklist(c, in);
  EXPECT_EQ(r.items[0].status, ChecklistStatus::Passed) << r.items[0].reason;
}

TEST(ChecklistTest, SemanticVersionPrecedenceFollowsTheSpecification) {
  // semver.org §11's example, in increasing order.
  const char* ordered[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                           "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "v1.0.1", "1.2.0", "2.0.0+build.5"};
  for (std::size_t i = 0; i + 1 < std::size(ordered); ++i) {
    auto a = parseSemanticVersion(ordered[i]);
    auto b = parseSemanticVersion(ordered[i + 1]);
    ASSERT_TRUE(a && b) << ordered[i] << " " << ordered[i + 1];
    EXPECT_LT(compare(*a, *b), 0) << ordered[i] << " < " << ordered[i + 1];
    EXPECT_GT(compare(*b, *a), 0) << ordered[i + 1] << " > " << ordered[i];
  }
  EXPECT_EQ(compare(*parseSemanticVersion("1.0.0+a"), *parseSemanticVersion("v1.0.0+b")), 0);
  for (const char* bad : {"1.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "1.0.0-a..b", "x1.0.0", "1.0.0.0", ""}) {
    EXPECT_FALSE(parseSemanticVersion(bad)) << bad;
  }
}

TEST(ChecklistTest, AnEmptyChecklistHasNoItemsAndPasses) {
  const auto r = judgeChecklist(config::Checklist{}, ChecklistInput{});
  EXPECT_TRUE(r.items.empty());
  EXPECT_TRUE(r.passed());
  EXPECT_EQ(r.firstFailure(), "");
}

}  // namespace
}  // namespace runway::checks
