#pragma once

// The pre-deployment checklist (docs/checklist.md): the items an environment's `checklist:`
// names, judged against the release evidence of a deploy request. Pure: no I/O, time passed in.
//
// An item passes or fails with its reason. Nothing that could not be judged passes: a missing
// or malformed report, a finding of unknown severity, a current release that is not a semantic
// version all fail, saying why.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/store/evidence.hpp"
#include "runway/store/store.hpp"

namespace runway::checks {

enum class ChecklistStatus { Passed, Failed };
std::string_view toString(ChecklistStatus status);  // "passed", "failed"

struct ChecklistItem {
  std::string name;  // "codeReview", "ciChecks", "vulnerabilities", "tests", "semver"
  ChecklistStatus status = ChecklistStatus::Failed;
  std::string reason;
};

struct ChecklistReport {
  // In the order of config::Checklist::itemNames().
  std::vector<ChecklistItem> items;
  // Every item passed (an empty checklist passes: nothing was asked).
  bool passed() const;
  // The first failed item as "name: reason", or "".
  std::string firstFailure() const;
};

struct ChecklistInput {
  std::string version;          // the version to deploy
  std::string current_release;  // what the environment serves now; "" = nothing
  store::ReleaseEvidence evidence;
  TimePoint now;
  // For backupVerified: the environment (its backups) and the server's data directory.
  const config::Environment* environment = nullptr;
  std::filesystem::path data_dir;
  // For notified: the store whose notification outbox is read; application of the release.
  store::Store* store = nullptr;
  std::string application;
};

// The items judged from the evidence alone (vulnerabilities, tests, semver). Pure.
ChecklistReport judgeChecklist(const config::Checklist& checklist, const ChecklistInput& input);

// The whole checklist: codeReview and ciChecks through GitHub (the checklist's `github`
// settings), judgeChecklist's items, backupVerified (input.environment, input.data_dir),
// onCall through PagerDuty (`pagerduty` settings) and notified (input.store). A token that
// cannot be read, a service that cannot be reached or answers an error, an input missing fails
// the item, saying why. Blocking: a worker thread.
ChecklistReport runChecklist(const config::Checklist& checklist, const ChecklistInput& input, const Clock& clock);

class GitHubClient;
// The commit's pull request is approved by `item.min_approvals` reviewers (each one's latest
// review that approves, asks for changes or was dismissed counts; comments do not), and no
// latest review asks for changes when `item.no_changes_requested`. Blocking.
ChecklistItem judgeCodeReview(const config::CodeReviewItem& item, GitHubClient& github,
                              const store::ReleaseEvidence& evidence);
// The environment's latest backup (hooks.hpp: listBackups) was taken less than
// `item.max_age` before `input.now`, and (require_restore_test) the newest restore test recorded
// for its backups passed. REQUIRES: input.environment.
ChecklistItem judgeBackupVerified(const config::BackupVerifiedItem& item, const ChecklistInput& input);
// A notification about `input.version` of `input.application` (of one of `item.events`, any
// when empty) was delivered to `item.channel` after input.now - item.within. REQUIRES:
// input.store.
ChecklistItem judgeNotified(const config::NotifiedItem& item, const ChecklistInput& input);

class PagerDutyClient;
// Someone is on call now (`now`) for `item.schedule`: an on-call of that schedule whose start is
// not after now and whose end is after now (or open). Blocking.
ChecklistItem judgeOnCall(const config::OnCallItem& item, PagerDutyClient& pagerduty, TimePoint now);
// Every name in `item.required` is a check run of the commit completed with success, neutral or
// skipped, or a commit status (context) in state success. Blocking.
ChecklistItem judgeCiChecks(const config::CiChecksItem& item, GitHubClient& github,
                            const store::ReleaseEvidence& evidence);

// --- the parts, for tests and for `runway checklist` ----------------------------------------

// One finding of a vulnerability report.
struct Finding {
  std::string id;                         // CVE-..., GHSA-..., or a SARIF rule id
  std::optional<config::Severity> severity;  // nullopt = the report gives none we can read
  std::string package;                    // "openssl 3.0.2", or "" when the report names none
};

// Reads a SARIF 2.1.0, Trivy JSON or Grype JSON report (told apart by their top-level members).
// InvalidArgument naming the file (`name`) and what is wrong: not JSON, none of the three
// formats, a member of the wrong type.
// Severities: Trivy's and Grype's as written (Grype's Negligible is low); SARIF's from a
// result's or its rule's properties."security-severity" (CVSS: >= 9 critical, >= 7 high, >= 4
// medium, else low), else from its level (error high, warning medium, note low).
Result<std::vector<Finding>> parseVulnerabilityReport(std::string_view name, std::string_view content);

struct TestSummary {
  int tests = 0;    // test cases run (skipped ones not counted)
  int failed = 0;   // with a <failure> or an <error>
  int skipped = 0;
  std::string first_failure;  // "classname.name: message" of the first failed test case
};

// Reads a JUnit XML report (<testsuites> or <testsuite> at the root), counting <testcase>
// elements. InvalidArgument naming the file and line:column for XML that is not well formed,
// a document type declaration (refused: no entity expansion), or another root element.
Result<TestSummary> parseJUnitReport(std::string_view name, std::string_view content);

// A semantic version (semver.org 2.0.0), with an optional leading "v".
struct SemanticVersion {
  unsigned long long major = 0, minor = 0, patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers; empty = a release
};
std::optional<SemanticVersion> parseSemanticVersion(std::string_view text);
// <0, 0, >0 by semver precedence (build metadata ignored).
int compare(const SemanticVersion& a, const SemanticVersion& b);

}  // namespace runway::checks
