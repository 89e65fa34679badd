// The checklist's items judged through SaaS APIs (codeReview, ciChecks on GitHub; onCall on
// PagerDuty) and the whole checklist run.

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "runway/checks/checklist.hpp"
#include "runway/checks/api_token.hpp"
#include "runway/checks/github.hpp"
#include "runway/checks/pagerduty.hpp"

namespace runway::checks {
namespace {

ChecklistItem item(std::string name, ChecklistStatus status, std::string reason) {
  return ChecklistItem{std::move(name), status, std::move(reason)};
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Why the evidence cannot name a commit on GitHub, or "".
std::string missingCommit(const store::ReleaseEvidence& e) {
  if (e.commit.empty() || e.repository.empty()) {
    return "the deploy request names no commit and repository (runway deploy --commit SHA --repo OWNER/NAME)";
  }
  return {};
}

std::string shortSha(const std::string& sha) { return sha.substr(0, 12); }

}  // namespace

ChecklistItem judgeCodeReview(const config::CodeReviewItem& cfg, GitHubClient& github,
                              const store::ReleaseEvidence& evidence) {
  const std::string name = "codeReview";
  if (auto why = missingCommit(evidence); !why.empty()) return item(name, ChecklistStatus::Failed, why);
  auto pulls = github.pullRequestsOf(evidence.repository, evidence.commit);
  if (!pulls) return item(name, ChecklistStatus::Failed, "cannot judge: " + pulls.error().message);
  if (pulls->empty()) {
    return item(name, ChecklistStatus::Failed,
                fmt::format("commit {} belongs to no pull request of {}: nothing reviewed it", shortSha(evidence.commit),
                            evidence.repository));
  }
  // The merged pull request that brought the commit in, else the first one GitHub lists.
  const auto merged = std::find_if(pulls->begin(), pulls->end(), [](const GitHubPullRequest& p) { return p.merged; });
  const GitHubPullRequest& pr = merged != pulls->end() ? *merged : pulls->front();
  auto reviews = github.reviewsOf(evidence.repository, pr.number);
  if (!reviews) return item(name, ChecklistStatus::Failed, "cannot judge: " + reviews.error().message);
  // GitHub lists reviews oldest first: the last verdict of each reviewer stands.
  std::map<std::string, std::string> latest;
  for (const auto& r : *reviews) {
    if (r.state == "APPROVED" || r.state == "CHANGES_REQUESTED" || r.state == "DISMISSED") latest[r.user] = r.state;
  }
  std::vector<std::string> approved, changes;
  for (const auto& [user, state] : latest) {
    if (state == "APPROVED") approved.push_back(user);
    if (state == "CHANGES_REQUESTED") changes.push_back(user);
  }
  const std::string which = fmt::format("pull request #{} of {}", pr.number, evidence.repository);
  if (cfg.no_changes_requested && !changes.empty()) {
    return item(name, ChecklistStatus::Failed, fmt::format("{}: changes requested by {}", which, joined(changes)));
  }
  if (static_cast<int>(approved.size()) < cfg.min_approvals) {
    return item(name, ChecklistStatus::Failed,
                fmt::format("{} is approved by {} reviewer{}{}, {} required", which, approved.size(),
                            approved.size() == 1 ? "" : "s", approved.empty() ? "" : " (" + joined(approved) + ")",
                            cfg.min_approvals));
  }
  return item(name, ChecklistStatus::Passed,
              fmt::format("{} approved by {} ({} required)", which, joined(approved), cfg.min_approvals));
}

ChecklistItem judgeCiChecks(const config::CiChecksItem& cfg, GitHubClient& github,
                            const store::ReleaseEvidence& evidence) {
  const std::string name = "ciChecks";
  if (auto why = missingCommit(evidence); !why.empty()) return item(name, ChecklistStatus::Failed, why);
  auto runs = github.checkRunsOf(evidence.repository, evidence.commit);
  if (!runs) return item(name, ChecklistStatus::Failed, "cannot judge: " + runs.error().message);
  auto statuses = github.statusesOf(evidence.repository, evidence.commit);
  if (!statuses) return item(name, ChecklistStatus::Failed, "cannot judge: " + statuses.error().message);
  std::vector<std::string> problems;
  for (const auto& required : cfg.required) {
    // GitHub lists the latest check run of each name first, and the latest status per context.
    const auto run = std::find_if(runs->begin(), runs->end(), [&](const GitHubCheckRun& r) { return r.name == required; });
    if (run != runs->end()) {
      if (run->status != "completed") {
        problems.push_back(fmt::format("{} has not completed ({})", required, run->status));
      } else if (run->conclusion != "success" && run->conclusion != "neutral" && run->conclusion != "skipped") {
        problems.push_back(fmt::format("{} concluded {}", required, run->conclusion.empty() ? "nothing" : run->conclusion));
      }
      continue;
    }
    const auto status = std::find_if(statuses->begin(), statuses->end(),
                                     [&](const GitHubCommitStatus& s) { return s.context == required; });
    if (status == statuses->end()) {
      problems.push_back(required + " was not reported for the commit");
    } else if (status->state != "success") {
      problems.push_back(fmt::format("{} is {}", required, status->state));
    }
  }
  const std::string commit = fmt::format("commit {} of {}", shortSha(evidence.commit), evidence.repository);
  if (!problems.empty()) {
    return item(name, ChecklistStatus::Failed, fmt::format("{}: {}", commit, joined(problems)));
  }
  return item(name, ChecklistStatus::Passed,
              fmt::format("{}: {} succeeded", commit, joined(cfg.required)));
}

ChecklistReport runChecklist(const config::Checklist& checklist, const ChecklistInput& input, const Clock& clock) {
  ChecklistReport report;
  if (checklist.code_review || checklist.ci_checks) {
    auto token = gitHubToken(checklist.github);
    if (!token) {
      if (checklist.code_review) report.items.push_back(item("codeReview", ChecklistStatus::Failed, "cannot judge: " + token.error().message));
      if (checklist.ci_checks) report.items.push_back(item("ciChecks", ChecklistStatus::Failed, "cannot judge: " + token.error().message));
    } else {
      GitHubClient github(checklist.github, *token, clock);
      if (checklist.code_review) report.items.push_back(judgeCodeReview(*checklist.code_review, github, input.evidence));
      if (checklist.ci_checks) report.items.push_back(judgeCiChecks(*checklist.ci_checks, github, input.evidence));
    }
  }
  auto rest = judgeChecklist(checklist, input);
  report.items.insert(report.items.end(), rest.items.begin(), rest.items.end());
  if (checklist.on_call) {
    const auto& pd = checklist.pagerduty;
    auto token = readApiToken(pd.token_file, pd.token_env, "PagerDuty", "pagerduty");
    if (!token) {
      report.items.push_back(item("onCall", ChecklistStatus::Failed, "cannot judge: " + token.error().message));
    } else {
      PagerDutyClient pagerduty(pd, *token, clock);
      report.items.push_back(judgeOnCall(*checklist.on_call, pagerduty, input.now));
    }
  }
  return report;
}

ChecklistItem judgeOnCall(const config::OnCallItem& cfg, PagerDutyClient& pagerduty, TimePoint now) {
  const std::string name = "onCall";
  // A one-minute window from now: PagerDuty lists the on-calls that overlap it.
  auto entries = pagerduty.onCalls(cfg.schedule, now, now + Duration{60'000});
  if (!entries) return item(name, ChecklistStatus::Failed, "cannot judge: " + entries.error().message);
  std::vector<std::string> people;
  std::optional<TimePoint> until;
  for (const auto& e : *entries) {
    if (e.schedule_id != cfg.schedule) continue;
    if (e.start && *e.start > now) continue;
    if (e.end && *e.end <= now) continue;
    if (std::find(people.begin(), people.end(), e.user) == people.end()) people.push_back(e.user);
    if (e.end && (!until || *e.end > *until)) until = e.end;
  }
  if (people.empty()) {
    return item(name, ChecklistStatus::Failed, fmt::format("nobody is on call now for PagerDuty schedule {}", cfg.schedule));
  }
  return item(name, ChecklistStatus::Passed,
              fmt::format("{} on call for PagerDuty schedule {}{}", joined(people), cfg.schedule,
                          until ? " until " + formatTimestamp(*until) : std::string()));
}

}  // namespace runway::checks
