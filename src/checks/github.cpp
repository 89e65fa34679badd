// GitHub's REST API for the checklist (github.hpp): requests, pagination by Link headers, and
// the error bodies and rate-limit headers GitHub documents.

#include "runway/checks/github.hpp"

#include <cstdlib>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/checks/api_token.hpp"
#include "runway/http/client.hpp"

namespace runway::checks {
namespace {

namespace json = boost::json;

constexpr int kMaxPages = 50;  // 5000 items: more reviews or checks than any release has

// The URL of `rel="next"` in a Link header (RFC 8288), or "".
std::string nextLink(const std::string& link) {
  std::size_t at = 0;
  while (at < link.size()) {
    const auto open = link.find('<', at);
    if (open == std::string::npos) break;
    const auto close = link.find('>', open);
    if (close == std::string::npos) break;
    const auto end = link.find(',', close);
    const std::string params = link.substr(close + 1, end == std::string::npos ? std::string::npos : end - close - 1);
    if (params.find("rel=\"next\"") != std::string::npos) return link.substr(open + 1, close - open - 1);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return {};
}

// GitHub's error body: {"message": "...", "documentation_url": "..."}; the raw text otherwise.
std::string messageOf(const std::string& body) {
  json::error_code ec;
  const auto v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const auto* m = v.as_object().if_contains("message"); m != nullptr && m->is_string()) {
      return std::string(m->get_string());
    }
  }
  return body.size() > 200 ? body.substr(0, 200) + "…" : body;
}

std::string text(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// Every element of every page, as objects. InvalidArgument when one is not an object.
Result<std::vector<json::object>> objectsOf(const std::vector<std::string>& pages, const std::string& member,
                                            const std::string& what) {
  std::vector<json::object> out;
  for (const auto& page : pages) {
    json::error_code ec;
    auto v = json::parse(page, ec);
    if (ec) return fail(ErrorCode::InvalidArgument, fmt::format("GitHub's answer for {} is not JSON", what));
    const json::array* items = nullptr;
    if (member.empty()) {
      items = v.if_array();
    } else if (const auto* o = v.if_object()) {
      if (const auto* m = o->if_contains(member)) items = m->if_array();
    }
    if (items == nullptr) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("GitHub's answer for {} has no {}", what, member.empty() ? "array" : "\"" + member + "\" array"));
    }
    for (const auto& item : *items) {
      if (!item.is_object()) {
        return fail(ErrorCode::InvalidArgument, fmt::format("GitHub's answer for {} lists something that is not an object", what));
      }
      out.push_back(item.get_object());
    }
  }
  return out;
}

}  // namespace

GitHubClient::GitHubClient(config::GitHubSettings settings, std::string token, const Clock& clock)
    : settings_(std::move(settings)), token_(std::move(token)), clock_(clock) {}

Result<std::vector<std::string>> GitHubClient::pages(const std::string& path) {
  std::vector<std::string> out;
  std::string url = settings_.api_url + path + (path.find('?') == std::string::npos ? "?" : "&") + "per_page=100";
  for (int page = 0; !url.empty(); ++page) {
    if (page == kMaxPages) {
      return fail(ErrorCode::Unavailable, fmt::format("GitHub: GET {}: more than {} pages", path, kMaxPages));
    }
    http::Request req;
    req.url = url;
    req.headers = {{"Accept", "application/vnd.github+json"},
                   {"X-GitHub-Api-Version", "2022-11-28"},
                   {"User-Agent", "runway-checklist"}};
    req.bearer_token = token_;
    req.max_body = 8 * 1024 * 1024;
    auto res = http::get(req);
    if (!res) return fail(res.error().code, "GitHub: " + res.error().message);
    const std::string where = "GitHub: GET " + path;
    const long status = res->status;
    if (status == 401) {
      return fail(ErrorCode::Unauthenticated,
                  fmt::format("{}: 401 {} (check the token in the checklist's github settings)", where, messageOf(res->body)));
    }
    const bool exhausted = res->header("x-ratelimit-remaining") == "0";
    if ((status == 403 || status == 429) && (exhausted || !res->header("retry-after").empty())) {
      std::string until = "later";
      if (const auto reset = res->header("x-ratelimit-reset"); exhausted && !reset.empty()) {
        char* end = nullptr;
        const long long seconds = std::strtoll(reset.c_str(), &end, 10);
        if (end != reset.c_str() && *end == '\0') {
          until = formatTimestamp(TimePoint{Duration{seconds * 1000}});
        }
      } else if (const auto after = res->header("retry-after"); !after.empty()) {
        char* end = nullptr;
        const long long seconds = std::strtoll(after.c_str(), &end, 10);
        if (end != after.c_str() && *end == '\0') until = formatTimestamp(clock_.now() + Duration{seconds * 1000});
      }
      return fail(ErrorCode::Unavailable, fmt::format("{}: GitHub rate limit exhausted until {} ({} {})", where,
                                                      until, status, messageOf(res->body)));
    }
    if (status == 404) {
      return fail(ErrorCode::NotFound,
                  fmt::format("{}: 404 {} (no such repository or commit, or the token cannot read it)", where,
                              messageOf(res->body)));
    }
    if (status < 200 || status >= 300) {
      return fail(ErrorCode::Unavailable, fmt::format("{}: {} {}", where, status, messageOf(res->body)));
    }
    out.push_back(std::move(res->body));
    url = nextLink(res->header("link"));
    // The token goes to the configured API only, whatever a Link header says.
    if (!url.empty() && url.rfind(settings_.api_url + "/", 0) != 0) {
      return fail(ErrorCode::Unavailable,
                  fmt::format("{}: the next page's link leaves {} ({})", where, settings_.api_url, http::redactedUrl(url)));
    }
  }
  return out;
}

Result<std::vector<GitHubPullRequest>> GitHubClient::pullRequestsOf(const std::string& repository,
                                                                   const std::string& sha) {
  const std::string path = fmt::format("/repos/{}/commits/{}/pulls", repository, sha);
  auto body = pages(path);
  if (!body) return fail(body.error());
  auto items = objectsOf(*body, "", path);
  if (!items) return fail(items.error());
  std::vector<GitHubPullRequest> out;
  for (const auto& o : *items) {
    GitHubPullRequest pr;
    const auto* n = o.if_contains("number");
    if (n == nullptr || !n->is_int64()) {
      return fail(ErrorCode::InvalidArgument, "GitHub's answer for " + path + " has a pull request without a number");
    }
    pr.number = static_cast<int>(n->get_int64());
    pr.state = text(o, "state");
    const auto* merged = o.if_contains("merged_at");
    pr.merged = merged != nullptr && merged->is_string();
    pr.html_url = text(o, "html_url");
    out.push_back(std::move(pr));
  }
  return out;
}

Result<std::vector<GitHubReview>> GitHubClient::reviewsOf(const std::string& repository, int pull_number) {
  const std::string path = fmt::format("/repos/{}/pulls/{}/reviews", repository, pull_number);
  auto body = pages(path);
  if (!body) return fail(body.error());
  auto items = objectsOf(*body, "", path);
  if (!items) return fail(items.error());
  std::vector<GitHubReview> out;
  for (const auto& o : *items) {
    GitHubReview r;
    if (const auto* user = o.if_contains("user"); user != nullptr && user->is_object()) {
      r.user = text(user->get_object(), "login");
    }
    r.state = text(o, "state");
    if (r.user.empty() || r.state.empty()) {
      return fail(ErrorCode::InvalidArgument, "GitHub's answer for " + path + " has a review without user.login or state");
    }
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<GitHubCheckRun>> GitHubClient::checkRunsOf(const std::string& repository, const std::string& ref) {
  const std::string path = fmt::format("/repos/{}/commits/{}/check-runs", repository, ref);
  auto body = pages(path);
  if (!body) return fail(body.error());
  auto items = objectsOf(*body, "check_runs", path);
  if (!items) return fail(items.error());
  std::vector<GitHubCheckRun> out;
  for (const auto& o : *items) {
    out.push_back(GitHubCheckRun{text(o, "name"), text(o, "status"), text(o, "conclusion")});
  }
  return out;
}

Result<std::vector<GitHubCommitStatus>> GitHubClient::statusesOf(const std::string& repository,
                                                                const std::string& ref) {
  const std::string path = fmt::format("/repos/{}/commits/{}/status", repository, ref);
  auto body = pages(path);
  if (!body) return fail(body.error());
  auto items = objectsOf(*body, "statuses", path);
  if (!items) return fail(items.error());
  std::vector<GitHubCommitStatus> out;
  for (const auto& o : *items) out.push_back(GitHubCommitStatus{text(o, "context"), text(o, "state")});
  return out;
}

Result<std::string> gitHubToken(const config::GitHubSettings& settings) {
  return readApiToken(settings.token_file, settings.token_env.empty() ? "GITHUB_TOKEN" : settings.token_env, "GitHub",
                      "github");
}

}  // namespace runway::checks
