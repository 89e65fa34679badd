#pragma once

// A loopback stand-in for the parts of GitHub's REST API the checklist reads (codeReview,
// ciChecks): the pull requests of a commit, a pull request's reviews, a commit's check runs and
// its combined status. It validates every request as GitHub documents it (GET; `Accept:
// application/vnd.github+json`; `X-GitHub-Api-Version: 2022-11-28`; a User-Agent, which GitHub
// requires; `Authorization: Bearer TOKEN` or 401 `{"message":"Bad credentials",...}`; per_page
// at most 100, page a positive integer) and answers as GitHub does: lists paginated with a
// `Link` header (rel="next", "last", "first", "prev"), the rate-limit headers on every answer,
// 403 with `x-ratelimit-remaining: 0` once the limit is exhausted, 404 `{"message":"Not
// Found",...}` for an unknown repository, 422 for an unknown commit.

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "loopback_server.hpp"
#include "runway/api/http_server.hpp"

namespace runway::testing {

class FakeGitHub {
 public:
  struct Received {
    std::string path;  // without the query
    std::map<std::string, std::string> query;
    int status = 0;
  };

  explicit FakeGitHub(std::string token) : token_(std::move(token)) {}
  ~FakeGitHub() { stop(); }

  // Listens on 127.0.0.1, any free port.
  Result<void> start() {
    const auto handler = [this](api::HttpRequest& req) { return handle(req); };
    std::vector<api::Route> routes;
    for (const char* pattern :
         {"/repos/{owner}/{repo}/commits/{sha}/pulls", "/repos/{owner}/{repo}/pulls/{number}/reviews",
          "/repos/{owner}/{repo}/commits/{sha}/check-runs", "/repos/{owner}/{repo}/commits/{sha}/status"}) {
      for (const char* method : {"GET", "POST", "PUT", "DELETE"}) routes.push_back({method, pattern, std::nullopt, handler});
    }
    auto server = startLoopbackServer(std::move(routes));
    if (!server) return fail(server.error());
    server_ = std::move(*server);
    return {};
  }

  void stop() {
    if (server_) server_->stop(std::chrono::milliseconds(2000));
    server_.reset();
  }

  std::string url() const { return fmt::format("http://127.0.0.1:{}", server_ ? server_->port() : 0); }

  // --- what GitHub knows ---------------------------------------------------------------------
  void addRepository(const std::string& repo) {
    std::lock_guard lock(mu_);
    repos_[repo];
  }
  void addCommit(const std::string& repo, const std::string& sha) {
    std::lock_guard lock(mu_);
    repos_[repo].commits[sha];
  }
  void addPull(const std::string& repo, const std::string& sha, int number, bool merged) {
    std::lock_guard lock(mu_);
    auto& r = repos_[repo];
    r.commits[sha].pulls.push_back(number);
    r.pulls[number].merged = merged;
  }
  // Reviews are listed in the order they were added (GitHub: oldest first).
  void addReview(const std::string& repo, int number, const std::string& user, const std::string& state) {
    std::lock_guard lock(mu_);
    auto& pr = repos_[repo].pulls[number];
    pr.reviews.push_back(Review{next_id_++, user, state});
  }
  void addCheckRun(const std::string& repo, const std::string& sha, const std::string& name, const std::string& status,
                   const std::string& conclusion) {
    std::lock_guard lock(mu_);
    repos_[repo].commits[sha].runs.push_back(CheckRun{next_id_++, name, status, conclusion});
  }
  void addStatus(const std::string& repo, const std::string& sha, const std::string& context, const std::string& state) {
    std::lock_guard lock(mu_);
    repos_[repo].commits[sha].statuses.push_back(Status{next_id_++, context, state});
  }
  // The most items a page holds whatever per_page asks (to exercise pagination).
  void setPageCap(int cap) {
    std::lock_guard lock(mu_);
    page_cap_ = cap;
  }
  // Requests left before the limit is exhausted; reset at `reset_epoch_seconds`.
  void setRateLimit(int remaining, long long reset_epoch_seconds) {
    std::lock_guard lock(mu_);
    remaining_ = remaining;
    reset_ = reset_epoch_seconds;
  }

  std::vector<Received> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }
  // Requests that broke the documented format.
  std::vector<std::string> violations() const {
    std::lock_guard lock(mu_);
    return violations_;
  }

 private:
  struct Review {
    long long id;
    std::string user, state;
  };
  struct CheckRun {
    long long id;
    std::string name, status, conclusion;
  };
  struct Status {
    long long id;
    std::string context, state;
  };
  struct Commit {
    std::vector<int> pulls;
    std::vector<CheckRun> runs;
    std::vector<Status> statuses;
  };
  struct Pull {
    bool merged = false;
    std::vector<Review> reviews;
  };
  struct Repo {
    std::map<std::string, Commit> commits;
    std::map<int, Pull> pulls;
  };

  static constexpr const char* kDocs = "https://docs.github.com/rest";

  static std::string errorBody(const std::string& message, int status, const std::string& docs = kDocs) {
    return boost::json::serialize(boost::json::object{
        {"message", message}, {"documentation_url", docs}, {"status", std::to_string(status)}});
  }

  api::HttpResponse answer(const api::HttpRequest& req, int status, std::string body) {
    auto res = api::HttpResponse::json(status, std::move(body));
    res.headers.emplace_back("x-ratelimit-limit", "5000");
    res.headers.emplace_back("x-ratelimit-remaining", std::to_string(std::max(remaining_, 0)));
    res.headers.emplace_back("x-ratelimit-reset", std::to_string(reset_));
    res.headers.emplace_back("x-ratelimit-used", std::to_string(5000 - std::max(remaining_, 0)));
    res.headers.emplace_back("x-ratelimit-resource", "core");
    res.headers.emplace_back("x-github-api-version-selected", "2022-11-28");
    received_.push_back(Received{req.path, req.query, status});
    return res;
  }

  void violation(const api::HttpRequest& req, const std::string& what) {
    violations_.push_back(req.method + " " + req.path + ": " + what);
  }

  static std::optional<int> positive(const std::map<std::string, std::string>& q, const std::string& key, int fallback) {
    auto it = q.find(key);
    if (it == q.end()) return fallback;
    int v = 0;
    const auto* end = it->second.data() + it->second.size();
    auto [p, ec] = std::from_chars(it->second.data(), end, v);
    if (ec != std::errc() || p != end || v < 1) return std::nullopt;
    return v;
  }

  // One page of `items` with GitHub's Link header; `wrap` names the array member of an object
  // body (check runs, statuses) or "" for a bare array.
  api::HttpResponse page(const api::HttpRequest& req, const boost::json::array& items, const std::string& wrap,
                         boost::json::object envelope = {}) {
    auto per_page = positive(req.query, "per_page", 30);
    auto page_no = positive(req.query, "page", 1);
    if (!per_page || !page_no || *per_page > 100) {
      violation(req, "per_page must be 1..100 and page a positive integer");
      return answer(req, 422, errorBody("Validation Failed", 422));
    }
    const std::size_t size = static_cast<std::size_t>(std::min(*per_page, page_cap_));
    const std::size_t pages = std::max<std::size_t>(1, (items.size() + size - 1) / size);
    const std::size_t first = static_cast<std::size_t>(*page_no - 1) * size;
    boost::json::array slice;
    for (std::size_t i = first; i < items.size() && i < first + size; ++i) slice.push_back(items[i]);
    std::string body;
    if (wrap.empty()) {
      body = boost::json::serialize(slice);
    } else {
      envelope["total_count"] = items.size();
      envelope[wrap] = std::move(slice);
      body = boost::json::serialize(envelope);
    }
    auto res = answer(req, 200, std::move(body));
    const auto link = [&](std::size_t n, const char* rel) {
      return fmt::format("<{}{}?per_page={}&page={}>; rel=\"{}\"", url(), req.path, *per_page, n, rel);
    };
    std::vector<std::string> links;
    const auto at = static_cast<std::size_t>(*page_no);
    if (at > 1) links.push_back(link(at - 1, "prev"));
    if (at < pages) links.push_back(link(at + 1, "next"));
    if (at < pages) links.push_back(link(pages, "last"));
    if (at > 1) links.push_back(link(1, "first"));
    if (!links.empty()) {
      std::string header;
      for (const auto& l : links) header += (header.empty() ? "" : ", ") + l;
      res.headers.emplace_back("link", header);
    }
    return res;
  }

  api::HttpResponse handle(api::HttpRequest& req) {
    std::lock_guard lock(mu_);
    if (req.method != "GET") {
      violation(req, "the checklist only reads: method " + req.method);
      return answer(req, 404, errorBody("Not Found", 404));
    }
    if (req.header("accept") != "application/vnd.github+json") {
      violation(req, "Accept is \"" + req.header("accept") + "\", not application/vnd.github+json");
    }
    if (req.header("x-github-api-version") != "2022-11-28") {
      violation(req, "X-GitHub-Api-Version is \"" + req.header("x-github-api-version") + "\"");
    }
    if (req.header("user-agent").empty()) {
      violation(req, "no User-Agent");
      return answer(req, 403, errorBody("Request forbidden by administrative rules. Please make sure your request has a User-Agent header", 403));
    }
    if (req.header("authorization") != "Bearer " + token_) {
      if (req.header("authorization").rfind("Bearer ", 0) != 0) violation(req, "Authorization is not a Bearer token");
      return answer(req, 401, errorBody("Bad credentials", 401));
    }
    if (remaining_ <= 0) {
      return answer(req, 403, errorBody("API rate limit exceeded for user ID 1. If you reach out to GitHub Support for "
                                        "help, please include the request ID.", 403,
                                        "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"));
    }
    --remaining_;
    const std::string repo = req.params.at("owner") + "/" + req.params.at("repo");
    auto r = repos_.find(repo);
    if (r == repos_.end()) return answer(req, 404, errorBody("Not Found", 404));
    boost::json::array items;
    if (auto number = req.params.find("number"); number != req.params.end()) {
      int n = 0;
      std::from_chars(number->second.data(), number->second.data() + number->second.size(), n);
      auto pr = r->second.pulls.find(n);
      if (pr == r->second.pulls.end()) return answer(req, 404, errorBody("Not Found", 404));
      for (const auto& rv : pr->second.reviews) {
        items.push_back(boost::json::object{{"id", rv.id},
                                            {"user", boost::json::object{{"login", rv.user}, {"type", "User"}}},
                                            {"state", rv.state},
                                            {"body", ""},
                                            {"submitted_at", "2026-12-01T10:00:00Z"}});
      }
      return page(req, items, "");
    }
    const std::string sha = req.params.at("sha");
    auto c = r->second.commits.find(sha);
    if (c == r->second.commits.end()) {
      return answer(req, 422, errorBody("No commit found for SHA: " + sha, 422));
    }
    if (req.path.ends_with("/pulls")) {
      for (const int n : c->second.pulls) {
        const bool merged = r->second.pulls[n].merged;
        items.push_back(boost::json::object{
            {"number", n},
            {"state", merged ? "closed" : "open"},
            {"merged_at", merged ? boost::json::value("2026-12-01T11:00:00Z") : boost::json::value(nullptr)},
            {"html_url", fmt::format("https://github.com/{}/pull/{}", repo, n)},
            {"head", boost::json::object{{"sha", sha}}}});
      }
      return page(req, items, "");
    }
    if (req.path.ends_with("/check-runs")) {
      // The latest run of each name first, as filter=latest (the default) answers.
      for (auto it = c->second.runs.rbegin(); it != c->second.runs.rend(); ++it) {
        items.push_back(boost::json::object{
            {"id", it->id}, {"name", it->name}, {"head_sha", sha}, {"status", it->status},
            {"conclusion", it->conclusion.empty() ? boost::json::value(nullptr) : boost::json::value(it->conclusion)}});
      }
      return page(req, items, "check_runs");
    }
    // The combined status: the latest status of each context.
    std::vector<std::string> seen;
    std::string combined = "success";
    for (auto it = c->second.statuses.rbegin(); it != c->second.statuses.rend(); ++it) {
      if (std::find(seen.begin(), seen.end(), it->context) != seen.end()) continue;
      seen.push_back(it->context);
      if (it->state != "success") combined = it->state == "pending" && combined == "success" ? "pending" : "failure";
      items.push_back(boost::json::object{{"id", it->id}, {"context", it->context}, {"state", it->state}});
    }
    if (items.empty()) combined = "pending";
    return page(req, items, "statuses", boost::json::object{{"state", combined}, {"sha", sha}});
  }

  std::string token_;
  std::unique_ptr<api::HttpServer> server_;
  mutable std::mutex mu_;
  std::map<std::string, Repo> repos_;
  long long next_id_ = 1000;
  int page_cap_ = 100;
  int remaining_ = 5000;
  long long reset_ = 1796000000;
  std::vector<Received> received_;
  std::vector<std::string> violations_;
};

}  // namespace runway::testing
