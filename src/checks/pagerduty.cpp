// PagerDuty's REST API for the checklist's onCall item (pagerduty.hpp).

#include "runway/checks/pagerduty.hpp"

#include <cstdint>
#include <cstdlib>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/http/client.hpp"

namespace runway::checks {
namespace {

namespace json = boost::json;

constexpr int kPageSize = 100;  // PagerDuty's largest `limit`
constexpr int kMaxOnCallPages = 20;

// PagerDuty's error body: {"error": {"message": "...", "code": 2006, "errors": [...]}}.
std::string pagerDutyMessage(const std::string& body) {
  json::error_code ec;
  const auto v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const auto* e = v.as_object().if_contains("error"); e != nullptr && e->is_object()) {
      const auto& o = e->get_object();
      std::string out;
      if (const auto* m = o.if_contains("message"); m != nullptr && m->is_string()) out = std::string(m->get_string());
      if (const auto* c = o.if_contains("code"); c != nullptr && c->is_int64()) out += fmt::format(" (code {})", c->get_int64());
      if (const auto* list = o.if_contains("errors"); list != nullptr && list->is_array()) {
        for (const auto& detail : list->get_array()) {
          if (detail.is_string()) out += fmt::format(": {}", std::string_view(detail.get_string()));
        }
      }
      if (!out.empty()) return out;
    }
  }
  return body.size() > 200 ? body.substr(0, 200) + "…" : body;
}

std::string stringMember(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::optional<TimePoint> timeOf(const json::object& o, std::string_view key) {
  const std::string t = stringMember(o, key);
  if (t.empty()) return std::nullopt;
  auto parsed = parseTimestamp(t);
  if (!parsed) return std::nullopt;
  return *parsed;
}

}  // namespace

PagerDutyClient::PagerDutyClient(config::PagerDutySettings settings, std::string token, const Clock& clock)
    : settings_(std::move(settings)), token_(std::move(token)), clock_(clock) {}

Result<std::vector<OnCallEntry>> PagerDutyClient::onCalls(const std::string& schedule_id, TimePoint since,
                                                           TimePoint until) {
  std::vector<OnCallEntry> out;
  const std::string where = "PagerDuty: GET /oncalls";
  std::int64_t offset = 0;
  for (int page = 0;; ++page) {
    if (page == kMaxOnCallPages) return fail(ErrorCode::Unavailable, fmt::format("{}: more than {} pages", where, kMaxOnCallPages));
    http::Request req;
    req.url = fmt::format("{}/oncalls?schedule_ids%5B%5D={}&since={}&until={}&limit={}&offset={}", settings_.api_url,
                          http::urlEncode(schedule_id), http::urlEncode(formatTimestamp(since)),
                          http::urlEncode(formatTimestamp(until)), kPageSize, offset);
    req.headers = {{"Accept", "application/vnd.pagerduty+json;version=2"},
                   {"Authorization", "Token token=" + token_},
                   {"Content-Type", "application/json"}};
    req.log_name = settings_.api_url + "/oncalls";
    auto res = http::get(req);
    if (!res) return fail(res.error().code, "PagerDuty: " + res.error().message);
    const long status = res->status;
    if (status == 401) return fail(ErrorCode::Unauthenticated, fmt::format("{}: 401 {}", where, pagerDutyMessage(res->body)));
    if (status == 403) return fail(ErrorCode::PermissionDenied, fmt::format("{}: 403 {}", where, pagerDutyMessage(res->body)));
    if (status == 429) {
      // PagerDuty says when the limit resets in seconds (ratelimit-reset), or Retry-After.
      std::string after = res->header("ratelimit-reset");
      if (after.empty()) after = res->header("retry-after");
      char* end = nullptr;
      const long long seconds = std::strtoll(after.c_str(), &end, 10);
      const std::string until_text = !after.empty() && end != after.c_str() && *end == '\0'
                                         ? formatTimestamp(clock_.now() + Duration{seconds * 1000})
                                         : std::string("later");
      return fail(ErrorCode::Unavailable, fmt::format("{}: PagerDuty rate limit exhausted until {} (429 {})", where,
                                                      until_text, pagerDutyMessage(res->body)));
    }
    if (status < 200 || status >= 300) {
      return fail(ErrorCode::Unavailable, fmt::format("{}: {} {}", where, status, pagerDutyMessage(res->body)));
    }
    json::error_code ec;
    auto v = json::parse(res->body, ec);
    const json::array* list = nullptr;
    if (!ec && v.is_object()) {
      if (const auto* l = v.as_object().if_contains("oncalls")) list = l->if_array();
    }
    if (list == nullptr) return fail(ErrorCode::InvalidArgument, where + ": the answer has no \"oncalls\" array");
    for (const auto& item : *list) {
      if (!item.is_object()) return fail(ErrorCode::InvalidArgument, where + ": an on-call that is not an object");
      const auto& o = item.get_object();
      OnCallEntry e;
      if (const auto* u = o.if_contains("user"); u != nullptr && u->is_object()) e.user = stringMember(u->get_object(), "summary");
      if (const auto* s = o.if_contains("schedule"); s != nullptr && s->is_object()) e.schedule_id = stringMember(s->get_object(), "id");
      if (const auto* l = o.if_contains("escalation_level"); l != nullptr && l->is_int64()) {
        e.escalation_level = static_cast<int>(l->get_int64());
      }
      e.start = timeOf(o, "start");
      e.end = timeOf(o, "end");
      if (e.user.empty()) return fail(ErrorCode::InvalidArgument, where + ": an on-call without user.summary");
      out.push_back(std::move(e));
    }
    const auto* more = v.as_object().if_contains("more");
    if (more == nullptr || !more->is_bool() || !more->get_bool()) break;
    // The next page starts after this one: PagerDuty says how many it put on it (`limit`).
    const auto* limit = v.as_object().if_contains("limit");
    const std::int64_t step = limit != nullptr && limit->is_int64() ? limit->get_int64() : static_cast<std::int64_t>(list->size());
    if (step <= 0) return fail(ErrorCode::InvalidArgument, where + ": \"more\" pages announced with an empty one");
    offset += step;
  }
  return out;
}

}  // namespace runway::checks
