#pragma once

// GitHub's REST API as the checklist's codeReview and ciChecks items read it
// (docs/checklist.md): the pull requests of a commit, a pull request's reviews, a commit's check
// runs and commit statuses. Every request carries `Accept: application/vnd.github+json`,
// `X-GitHub-Api-Version: 2022-11-28`, a User-Agent and `Authorization: Bearer TOKEN`; lists
// are read page by page (`per_page=100`, following the `Link` header's rel="next", which must
// stay on the configured API URL: the token is never sent elsewhere).
//
// Blocking (runway::http): call it from a worker thread. Thread-compatible.
//
// Errors name the request and what GitHub said: Unauthenticated (401, "Bad credentials"),
// Unavailable for an exhausted rate limit (403 or 429 with X-RateLimit-Remaining: 0, or a
// Retry-After: "GitHub rate limit exhausted until <time>"), NotFound (404), Unavailable for
// anything else GitHub answered or could not be reached, InvalidArgument for a body that is not
// what the documentation says.

#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::checks {

struct GitHubPullRequest {
  int number = 0;
  std::string state;  // "open" | "closed"
  bool merged = false;
  std::string html_url;
};

struct GitHubReview {
  std::string user;   // login
  std::string state;  // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
};

struct GitHubCheckRun {
  std::string name;
  std::string status;      // queued, in_progress, completed, ...
  std::string conclusion;  // success, failure, neutral, cancelled, skipped, timed_out, ...; "" = none yet
};

struct GitHubCommitStatus {
  std::string context;
  std::string state;  // success, pending, failure, error
};

class GitHubClient {
 public:
  // REQUIRES: `settings.api_url` has no trailing slash. `token` is sent, never logged.
  GitHubClient(config::GitHubSettings settings, std::string token, const Clock& clock);

  // `repository` is OWNER/NAME.
  Result<std::vector<GitHubPullRequest>> pullRequestsOf(const std::string& repository, const std::string& sha);
  Result<std::vector<GitHubReview>> reviewsOf(const std::string& repository, int pull_number);
  Result<std::vector<GitHubCheckRun>> checkRunsOf(const std::string& repository, const std::string& ref);
  Result<std::vector<GitHubCommitStatus>> statusesOf(const std::string& repository, const std::string& ref);

 private:
  // The bodies of every page of the list at `path`.
  Result<std::vector<std::string>> pages(const std::string& path);

  config::GitHubSettings settings_;
  std::string token_;
  const Clock& clock_;
};

// The token the settings name: the file `token_file` (trimmed), else the environment variable
// `token_env`. NotFound when neither gives one (the message names both).
Result<std::string> gitHubToken(const config::GitHubSettings& settings);

}  // namespace runway::checks
