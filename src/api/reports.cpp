#include "runway/api/reports.hpp"

#include <boost/json.hpp>

#include "runway/report/delivery.hpp"
#include "runway/report/history.hpp"
#include "runway/report/release.hpp"

namespace runway::api {
namespace {

namespace json = boost::json;

std::string queryValue(const HttpRequest& req, const std::string& key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? std::string() : it->second;
}

// GET /api/v1/reports/delivery?environment=E&since=T&until=T&by=week|month
// since/until: RFC 3339 or a date; until defaults to now, since to 30 days before until.
HttpResponse deliveryReport(const std::shared_ptr<ApiContext>& c, const HttpRequest& req) {
  report::DeliveryOptions o;
  o.now = c->clock->now();
  o.environment = queryValue(req, "environment");
  o.until = o.now;
  if (const auto until = queryValue(req, "until"); !until.empty()) {
    auto t = report::parseReportTime(until);
    if (!t) return errorResponse(Error{ErrorCode::InvalidArgument, "until: " + t.error().message}, req.request_id);
    o.until = *t;
  }
  o.since = o.until - std::chrono::hours(24 * 30);
  if (const auto since = queryValue(req, "since"); !since.empty()) {
    auto t = report::parseReportTime(since);
    if (!t) return errorResponse(Error{ErrorCode::InvalidArgument, "since: " + t.error().message}, req.request_id);
    o.since = *t;
  }
  auto by = report::parseGrouping(queryValue(req, "by"));
  if (!by) return errorResponse(by.error(), req.request_id);
  o.by = *by;
  if (!o.environment.empty() && c->controller->config()->findEnvironment(o.environment) == nullptr) {
    return errorResponse(Error{ErrorCode::NotFound, "no environment named \"" + o.environment + "\""},
                         req.request_id);
  }
  auto history = report::loadHistory(*c->store);
  if (!history) return errorResponse(history.error(), req.request_id);
  auto out = report::deliveryReport(*history, o);
  if (!out) return errorResponse(out.error(), req.request_id);
  return HttpResponse::json(200, json::serialize(*out));
}

// GET /api/v1/reports/deployments/{id}
HttpResponse releaseReport(const std::shared_ptr<ApiContext>& c, const HttpRequest& req) {
  const auto cfg = c->controller->config();
  auto out = report::releaseReport(*c->store, req.params.at("id"), cfg.get(), c->clock->now());
  if (!out) return errorResponse(out.error(), req.request_id);
  return HttpResponse::json(200, json::serialize(*out));
}

}  // namespace

std::vector<Route> reportRoutes(std::shared_ptr<ApiContext> c) {
  const std::string viewer(kViewer);
  std::vector<Route> routes;
  routes.push_back(Route{"GET", "/api/v1/reports/delivery", viewer,
                         [c](HttpRequest& req) { return deliveryReport(c, req); }});
  routes.push_back(Route{"GET", "/api/v1/reports/deployments/{id}", viewer,
                         [c](HttpRequest& req) { return releaseReport(c, req); }});
  return routes;
}

}  // namespace runway::api
