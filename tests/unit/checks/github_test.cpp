// The checklist's GitHub items (issue 25) against a loopback GitHub (tests/fakes/fake_github.hpp)
// that checks every request as GitHub documents it: the commit's pull request approved by
// enough reviewers (each one's latest verdict, over pages), the named check runs and statuses
// succeeded, and whatever could not be judged (no token, bad credentials, the rate limit
// exhausted, an unknown repository) failing with the reason, never passing.

#include "runway/checks/github.hpp"

#include <cstdlib>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_github.hpp"
#include "runway/checks/checklist.hpp"
#include "runway/core/clock.hpp"

namespace runway::checks {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kRepo = "acme/shop";
const std::string kSha = "0123456789abcdef0123456789abcdef01234567";
const std::string kToken = "ghp_fakeToken123";

class GitHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(github_.start());
    github_.addRepository(kRepo);
    github_.addCommit(kRepo, kSha);
    settings_.api_url = github_.url();
    settings_.token_env = "";
    evidence_.commit = kSha;
    evidence_.repository = kRepo;
  }
  void TearDown() override { EXPECT_THAT(github_.violations(), IsEmpty()); }

  GitHubClient client(const std::string& token = kToken) { return GitHubClient(settings_, token, clock_); }

  ChecklistItem review(int min_approvals, const std::string& token = kToken) {
    config::CodeReviewItem item;
    item.min_approvals = min_approvals;
    auto c = client(token);
    return judgeCodeReview(item, c, evidence_);
  }
  ChecklistItem ci(std::vector<std::string> required) {
    config::CiChecksItem item;
    item.required = std::move(required);
    auto c = client();
    return judgeCiChecks(item, c, evidence_);
  }

  testing::FakeGitHub github_{kToken};
  config::GitHubSettings settings_;
  store::ReleaseEvidence evidence_;
  FakeClock clock_{*parseTimestamp("2026-12-07T12:00:00Z")};
};

TEST_F(GitHubTest, ApprovedByEnoughReviewersPassesOverSeveralPages) {
  github_.setPageCap(1);  // one review per page: three pages of reviews
  github_.addPull(kRepo, kSha, 42, true);
  github_.addReview(kRepo, 42, "alice", "APPROVED");
  github_.addReview(kRepo, 42, "bob", "APPROVED");
  github_.addReview(kRepo, 42, "alice", "COMMENTED");  // a comment does not take an approval back
  const auto item = review(2);
  EXPECT_EQ(item.status, ChecklistStatus::Passed) << item.reason;
  EXPECT_EQ(item.reason, "pull request #42 of acme/shop approved by alice, bob (2 required)");
  int review_pages = 0;
  for (const auto& r : github_.received()) {
    if (r.path == "/repos/acme/shop/pulls/42/reviews") {
      ++review_pages;
      EXPECT_EQ(r.query.at("per_page"), "100");
    }
  }
  EXPECT_EQ(review_pages, 3);
}

TEST_F(GitHubTest, AMissingReviewFailsWithTheCount) {
  github_.addPull(kRepo, kSha, 7, true);
  github_.addReview(kRepo, 7, "alice", "APPROVED");
  github_.addReview(kRepo, 7, "carol", "COMMENTED");
  const auto item = review(2);
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_EQ(item.reason, "pull request #7 of acme/shop is approved by 1 reviewer (alice), 2 required");
}

TEST_F(GitHubTest, TheLatestVerdictOfEachReviewerCounts) {
  github_.addPull(kRepo, kSha, 8, false);
  github_.addReview(kRepo, 8, "alice", "APPROVED");
  github_.addReview(kRepo, 8, "bob", "APPROVED");
  github_.addReview(kRepo, 8, "bob", "CHANGES_REQUESTED");
  auto item = review(1);
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_EQ(item.reason, "pull request #8 of acme/shop: changes requested by bob");
  github_.addReview(kRepo, 8, "bob", "DISMISSED");  // the request for changes dismissed
  item = review(2);
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_THAT(item.reason, HasSubstr("approved by 1 reviewer (alice), 2 required"));
}

TEST_F(GitHubTest, ACommitOutsideAnyPullRequestFails) {
  const auto item = review(1);
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_EQ(item.reason, "commit 0123456789ab belongs to no pull request of acme/shop: nothing reviewed it");
}

TEST_F(GitHubTest, BadCredentialsFailTheItemWithGitHubsMessage) {
  github_.addPull(kRepo, kSha, 42, true);
  const auto item = review(1, "ghp_wrong");
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_THAT(item.reason, HasSubstr("cannot judge: GitHub: GET /repos/acme/shop/commits/" + kSha +
                                     "/pulls: 401 Bad credentials"));
  EXPECT_THAT(item.reason, ::testing::Not(HasSubstr("ghp_wrong")));
}

TEST_F(GitHubTest, AnExhaustedRateLimitIsAClearFailureNotAPass) {
  github_.addPull(kRepo, kSha, 42, true);
  github_.addReview(kRepo, 42, "alice", "APPROVED");
  github_.setRateLimit(1, 1796000000);  // the pulls request passes, the reviews request is refused
  const auto item = review(1);
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_THAT(item.reason, HasSubstr("GitHub rate limit exhausted until 2026-11-30T"));
  EXPECT_THAT(item.reason, HasSubstr("(403 API rate limit exceeded"));
  const auto received = github_.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received.back().status, 403);
}

TEST_F(GitHubTest, AnUnknownRepositoryIsNotFound) {
  evidence_.repository = "acme/other";
  auto c = client();
  auto pulls = c.pullRequestsOf(evidence_.repository, kSha);
  ASSERT_FALSE(pulls);
  EXPECT_EQ(pulls.error().code, ErrorCode::NotFound);
  EXPECT_THAT(pulls.error().message, HasSubstr("404 Not Found"));
}

TEST_F(GitHubTest, EvidenceWithoutACommitFailsBothItems) {
  evidence_ = {};
  EXPECT_EQ(review(1).status, ChecklistStatus::Failed);
  const auto item = ci({"build"});
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_THAT(item.reason, HasSubstr("--commit SHA --repo OWNER/NAME"));
  EXPECT_THAT(github_.received(), IsEmpty());
}

TEST_F(GitHubTest, NamedCheckRunsAndStatusesSucceeded) {
  github_.setPageCap(2);
  github_.addCheckRun(kRepo, kSha, "lint", "completed", "success");
  github_.addCheckRun(kRepo, kSha, "build", "completed", "failure");
  github_.addCheckRun(kRepo, kSha, "build", "completed", "success");  // the re-run: latest first
  github_.addCheckRun(kRepo, kSha, "docs", "completed", "skipped");
  github_.addCheckRun(kRepo, kSha, "e2e", "completed", "neutral");
  github_.addStatus(kRepo, kSha, "ci/jenkins", "pending");
  github_.addStatus(kRepo, kSha, "ci/jenkins", "success");
  const auto item = ci({"build", "lint", "docs", "ci/jenkins"});
  EXPECT_EQ(item.status, ChecklistStatus::Passed) << item.reason;
  EXPECT_EQ(item.reason, "commit 0123456789ab of acme/shop: build, lint, docs, ci/jenkins succeeded");
}

TEST_F(GitHubTest, FailedRunningOrMissingChecksFailTheItem) {
  github_.addCheckRun(kRepo, kSha, "build", "completed", "failure");
  github_.addCheckRun(kRepo, kSha, "e2e", "in_progress", "");
  github_.addStatus(kRepo, kSha, "security/snyk", "error");
  const auto item = ci({"build", "e2e", "security/snyk", "deploy-preview"});
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_EQ(item.reason,
            "commit 0123456789ab of acme/shop: build concluded failure, e2e has not completed (in_progress), "
            "security/snyk is error, deploy-preview was not reported for the commit");
}

TEST_F(GitHubTest, AnUnknownCommitFailsWithGitHubsMessage) {
  evidence_.commit = "fedcba9876543210";
  const auto item = ci({"build"});
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_THAT(item.reason, HasSubstr("422 No commit found for SHA: fedcba9876543210"));
}

TEST_F(GitHubTest, TheTokenComesFromAFileOrTheEnvironmentAndIsRequired) {
  config::GitHubSettings s;
  s.token_env = "RUNWAY_TEST_GITHUB_TOKEN_UNSET";
  ::unsetenv("RUNWAY_TEST_GITHUB_TOKEN_UNSET");
  auto none = gitHubToken(s);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message,
            "no GitHub token: set the variable RUNWAY_TEST_GITHUB_TOKEN_UNSET or the checklist's github.tokenFile");
  ::setenv("RUNWAY_TEST_GITHUB_TOKEN_UNSET", "from-env", 1);
  EXPECT_EQ(gitHubToken(s).value_or(""), "from-env");
  ::unsetenv("RUNWAY_TEST_GITHUB_TOKEN_UNSET");
  const std::string file = ::testing::TempDir() + "/github-token";
  std::ofstream(file) << "from-file\n";
  s.token_file = file;
  EXPECT_EQ(gitHubToken(s).value_or(""), "from-file");

  // The whole checklist: a token that cannot be read fails both GitHub items, and says so.
  config::Checklist list;
  list.code_review = config::CodeReviewItem{};
  list.ci_checks = config::CiChecksItem{{"build"}, {}, {}};
  list.github.api_url = github_.url();
  list.github.token_file = file + ".missing";
  ChecklistInput input;
  input.version = "v1.0.0";
  input.evidence = evidence_;
  const auto report = runChecklist(list, input, clock_);
  ASSERT_EQ(report.items.size(), 2u);
  EXPECT_EQ(report.items[0].name, "codeReview");
  EXPECT_EQ(report.items[1].name, "ciChecks");
  EXPECT_FALSE(report.passed());
  EXPECT_EQ(report.items[0].reason, "cannot judge: cannot read the GitHub token file " + file + ".missing");
}

}  // namespace
}  // namespace runway::checks
