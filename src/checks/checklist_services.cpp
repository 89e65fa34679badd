// The checklist's items judged against the world outside the evidence (codeReview, ciChecks on
// GitHub; onCall on PagerDuty; backupVerified on the backup directory; notified on the
// notification outbox) and the whole checklist run.

#include <algorithm>
#include <filesystem>
#include <map>

#include <boost/json.hpp>

#include <fmt/format.h>

#include "runway/checks/checklist.hpp"
#include "runway/checks/api_token.hpp"
#include "runway/checks/github.hpp"
#include "runway/checks/hooks.hpp"
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

// "6d10h", "10h", "59m" (ages and limits in a reason).
std::string roughly(Duration d) {
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(d).count();
  const auto days = minutes / (24 * 60), hours = minutes / 60 % 24, rest = minutes % 60;
  std::string out;
  if (days > 0) out += fmt::format("{}d", days);
  if (hours > 0) out += fmt::format("{}h", hours);
  if (rest > 0 || out.empty()) out += fmt::format("{}m", rest);
  return out;
}

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
  if (checklist.backup_verified) {
    report.items.push_back(input.environment != nullptr
                               ? judgeBackupVerified(*checklist.backup_verified, input)
                               : item("backupVerified", ChecklistStatus::Failed, "cannot judge: no environment given"));
  }
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
  if (checklist.notified) {
    report.items.push_back(input.store != nullptr
                               ? judgeNotified(*checklist.notified, input)
                               : item("notified", ChecklistStatus::Failed, "cannot judge: no notification outbox"));
  }
  return report;
}

ChecklistItem judgeBackupVerified(const config::BackupVerifiedItem& cfg, const ChecklistInput& input) {
  const std::string name = "backupVerified";
  const auto& env = *input.environment;
  const auto backups = listBackups(env, input.data_dir);
  if (backups.empty()) {
    return item(name, ChecklistStatus::Failed,
                fmt::format("no backup of {} in {}", env.name, backupDirectory(env, input.data_dir).string()));
  }
  const auto& latest = backups.front();
  const std::string latest_name = std::filesystem::path(latest.path).filename().string();
  const Duration age = input.now - latest.taken;
  if (age > cfg.max_age) {
    return item(name, ChecklistStatus::Failed,
                fmt::format("the latest backup of {} ({}) is {} old, older than {}", env.name, latest_name,
                            roughly(age), roughly(cfg.max_age)));
  }
  std::string verdict = fmt::format("the latest backup of {} ({}) is {} old", env.name, latest_name, roughly(age));
  if (!cfg.require_restore_test) return item(name, ChecklistStatus::Passed, verdict);
  for (const auto& b : backups) {
    auto test = readRestoreTest(b.path);
    if (!test) return item(name, ChecklistStatus::Failed, "cannot judge: " + test.error().message);
    if (!*test) continue;
    const std::string tested = std::filesystem::path(b.path).filename().string();
    if (!(*test)->passed) {
      return item(name, ChecklistStatus::Failed,
                  fmt::format("the last restore test ({}) failed{}", tested,
                              (*test)->detail.empty() ? std::string() : ": " + (*test)->detail));
    }
    return item(name, ChecklistStatus::Passed, fmt::format("{}; the last restore test ({}) passed", verdict, tested));
  }
  return item(name, ChecklistStatus::Failed,
              fmt::format("{}, but no restore test of its backups is recorded (the backup hook writes \"passed\" or "
                          "\"failed: why\" to $RUNWAY_RESTORE_TEST_FILE)",
                          verdict));
}

ChecklistItem judgeNotified(const config::NotifiedItem& cfg, const ChecklistInput& input) {
  const std::string name = "notified";
  store::NotificationFilter filter;
  filter.status = std::string(store::kNotificationDelivered);
  filter.limit = 1000;
  auto delivered = input.store->listNotifications(filter);
  if (!delivered) return item(name, ChecklistStatus::Failed, "cannot judge: " + delivered.error().message);
  const TimePoint since = input.now - cfg.within;
  for (const auto& n : *delivered) {  // newest first (by when they were enqueued)
    if (n.created_at < since) continue;
    if (n.channel != cfg.channel) continue;
    if (!cfg.events.empty() && std::find(cfg.events.begin(), cfg.events.end(), n.event) == cfg.events.end()) continue;
    boost::system::error_code ec;
    const auto message = boost::json::parse(n.message_json, ec);
    if (ec || !message.is_object()) continue;
    const auto* version = message.as_object().if_contains("version");
    const auto* application = message.as_object().if_contains("application");
    if (version == nullptr || !version->is_string() || version->get_string() != input.version) continue;
    if (!input.application.empty() &&
        (application == nullptr || !application->is_string() || application->get_string() != input.application)) {
      continue;
    }
    return item(name, ChecklistStatus::Passed,
                fmt::format("{} of {} {} ({}) delivered to {} at {}", n.event, n.environment, input.version,
                            n.subject, cfg.channel, formatTimestamp(n.created_at)));
  }
  return item(name, ChecklistStatus::Failed,
              fmt::format("no notification about {} was delivered to {} in the last {}{}", input.version, cfg.channel,
                          roughly(cfg.within),
                          cfg.events.empty() ? std::string() : " (events: " + joined(cfg.events) + ")"));
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
