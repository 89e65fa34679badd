#pragma once

// A loopback stand-in for PagerDuty's REST API as the checklist's onCall item reads it: `GET
// /oncalls`. It validates every request as PagerDuty documents it (`Authorization: Token
// token=KEY` or 401 `{"error":{"message":"Unauthorized","code":2006}}`; `Accept:
// application/vnd.pagerduty+json;version=2`; `schedule_ids[]`; `since` and `until` ISO 8601 with
// since before until, else 400 `{"error":{"message":"Invalid Input Provided","code":2001,...}}`;
// `limit` 1..100 and `offset` >= 0) and answers as PagerDuty does: the on-calls overlapping the
// range, paginated with `limit`, `offset`, `more`; 429 `Rate Limit Exceeded` (code 2020) with
// `ratelimit-*` headers when the limit is exhausted.

#include <charconv>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "loopback_server.hpp"
#include "runway/api/http_server.hpp"
#include "runway/core/clock.hpp"

namespace runway::testing {

class FakePagerDutyApi {
 public:
  struct OnCall {
    std::string schedule;
    std::string user;
    TimePoint start, end;
  };
  struct Received {
    std::map<std::string, std::string> query;
    int status = 0;
  };

  explicit FakePagerDutyApi(std::string key) : key_(std::move(key)) {}
  ~FakePagerDutyApi() { stop(); }

  Result<void> start() {
    std::vector<api::Route> routes;
    for (const char* method : {"GET", "POST"}) {
      routes.push_back({method, "/oncalls", std::nullopt, [this](api::HttpRequest& req) { return handle(req); }});
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

  void addOnCall(OnCall o) {
    std::lock_guard lock(mu_);
    oncalls_.push_back(std::move(o));
  }
  // The most entries a page holds whatever `limit` asks (to exercise pagination).
  void setPageCap(int cap) {
    std::lock_guard lock(mu_);
    page_cap_ = cap;
  }
  void exhaustRateLimit(int reset_seconds) {
    std::lock_guard lock(mu_);
    rate_limited_ = reset_seconds;
  }
  std::vector<Received> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mu_);
    return violations_;
  }

 private:
  static std::string errorBody(const std::string& message, int code, std::vector<std::string> errors = {}) {
    boost::json::object e{{"message", message}, {"code", code}};
    if (!errors.empty()) {
      boost::json::array list;
      for (auto& x : errors) list.emplace_back(x);
      e["errors"] = std::move(list);
    }
    return boost::json::serialize(boost::json::object{{"error", std::move(e)}});
  }
  api::HttpResponse answer(const api::HttpRequest& req, int status, std::string body) {
    received_.push_back(Received{req.query, status});
    return api::HttpResponse::json(status, std::move(body));
  }
  static std::optional<int> integer(const std::map<std::string, std::string>& q, const std::string& key, int fallback) {
    auto it = q.find(key);
    if (it == q.end()) return fallback;
    int v = 0;
    const auto* end = it->second.data() + it->second.size();
    auto [p, ec] = std::from_chars(it->second.data(), end, v);
    if (ec != std::errc() || p != end) return std::nullopt;
    return v;
  }

  api::HttpResponse handle(api::HttpRequest& req) {
    std::lock_guard lock(mu_);
    if (req.method != "GET") violations_.push_back("method " + req.method);
    if (req.header("accept") != "application/vnd.pagerduty+json;version=2") {
      violations_.push_back("Accept is \"" + req.header("accept") + "\"");
    }
    if (req.header("authorization") != "Token token=" + key_) {
      if (req.header("authorization").rfind("Token token=", 0) != 0) violations_.push_back("Authorization is not Token token=…");
      return answer(req, 401, errorBody("Unauthorized", 2006));
    }
    if (rate_limited_) {
      auto res = answer(req, 429, errorBody("Rate Limit Exceeded", 2020));
      res.headers.emplace_back("ratelimit-limit", "960");
      res.headers.emplace_back("ratelimit-remaining", "0");
      res.headers.emplace_back("ratelimit-reset", std::to_string(*rate_limited_));
      return res;
    }
    const auto schedule = req.query.find("schedule_ids[]");
    if (schedule == req.query.end()) violations_.push_back("no schedule_ids[]");
    const auto since = parseTimestamp(req.query.count("since") ? req.query.at("since") : "");
    const auto until = parseTimestamp(req.query.count("until") ? req.query.at("until") : "");
    if (!since || !until) {
      violations_.push_back("since/until missing or not ISO 8601");
      return answer(req, 400, errorBody("Invalid Input Provided", 2001, {"Since and until must be ISO 8601 times"}));
    }
    if (!(*since < *until)) return answer(req, 400, errorBody("Invalid Input Provided", 2001, {"Since must be before until"}));
    const auto limit = integer(req.query, "limit", 25);
    const auto offset = integer(req.query, "offset", 0);
    if (!limit || !offset || *limit < 1 || *limit > 100 || *offset < 0) {
      violations_.push_back("limit must be 1..100 and offset >= 0");
      return answer(req, 400, errorBody("Invalid Input Provided", 2001, {"Limit or offset out of range"}));
    }
    boost::json::array all;
    for (const auto& o : oncalls_) {
      if (schedule != req.query.end() && o.schedule != schedule->second) continue;
      if (!(o.start < *until && *since < o.end)) continue;  // overlaps the range
      all.push_back(boost::json::object{
          {"escalation_policy", boost::json::object{{"id", "PEP0001"}, {"type", "escalation_policy_reference"}}},
          {"escalation_level", 1},
          {"schedule", boost::json::object{{"id", o.schedule}, {"type", "schedule_reference"}, {"summary", "Primary"}}},
          {"user", boost::json::object{{"id", "PUSER01"}, {"type", "user_reference"}, {"summary", o.user}}},
          {"start", formatTimestamp(o.start)},
          {"end", formatTimestamp(o.end)}});
    }
    const std::size_t size = static_cast<std::size_t>(std::min(*limit, page_cap_));
    const std::size_t first = static_cast<std::size_t>(*offset);
    boost::json::array page;
    for (std::size_t i = first; i < all.size() && i < first + size; ++i) page.push_back(all[i]);
    // PagerDuty pages by the `limit` asked: the next offset is offset + limit.
    const bool more = first + size < all.size();
    return answer(req, 200,
                  boost::json::serialize(boost::json::object{{"oncalls", std::move(page)},
                                                             {"limit", static_cast<int>(size)},
                                                             {"offset", *offset},
                                                             {"more", more},
                                                             {"total", nullptr}}));
  }

  std::string key_;
  std::unique_ptr<api::HttpServer> server_;
  mutable std::mutex mu_;
  std::vector<OnCall> oncalls_;
  int page_cap_ = 100;
  std::optional<int> rate_limited_;
  std::vector<Received> received_;
  std::vector<std::string> violations_;
};

}  // namespace runway::testing
