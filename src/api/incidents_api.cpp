#include "incidents_api.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/incident/service.hpp"

namespace runway::api {
namespace {

namespace json = boost::json;

json::value optionalTime(const std::optional<TimePoint>& t) {
  return t ? json::value(formatTimestamp(*t)) : json::value(nullptr);
}

json::object incidentJson(const incident::Incident& inc, bool with_timeline) {
  json::array deployments;
  for (const auto& d : inc.deployments) deployments.emplace_back(d);
  json::object evidence;
  for (const auto& [k, v] : inc.evidence) evidence[k] = v;
  json::object o{{"id", inc.id},
                 {"title", inc.title},
                 {"severity", inc.severity},
                 {"status", std::string(incident::toString(inc.status))},
                 {"commander", inc.commander},
                 {"environment", inc.environment},
                 {"deployments", std::move(deployments)},
                 {"evidence", std::move(evidence)},
                 {"openedAt", formatTimestamp(inc.opened_at)},
                 {"acknowledgedAt", optionalTime(inc.acknowledged_at)},
                 {"mitigatedAt", optionalTime(inc.mitigated_at)},
                 {"resolvedAt", optionalTime(inc.resolved_at)},
                 {"lastUpdateAt", formatTimestamp(inc.last_update_at)}};
  if (with_timeline) {
    json::array timeline;
    for (const auto& t : inc.timeline) {
      timeline.push_back(json::object{{"at", formatTimestamp(t.at)}, {"actor", t.actor}, {"kind", t.kind}, {"text", t.text}});
    }
    o["timeline"] = std::move(timeline);
  }
  return o;
}

HttpResponse fromError(const HttpRequest& req, const Error& e) { return errorResponse(e, req.request_id); }

// The request body as an object with only `allowed` keys (an empty body is {}).
Result<json::object> bodyObject(const HttpRequest& req, std::initializer_list<std::string_view> allowed) {
  if (req.body.empty()) return json::object{};
  boost::system::error_code ec;
  auto v = json::parse(req.body, ec);
  if (ec || !v.is_object()) return fail(ErrorCode::InvalidArgument, "request body must be a JSON object");
  for (const auto& kv : v.as_object()) {
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
      return fail(ErrorCode::InvalidArgument, fmt::format("unknown field \"{}\"", std::string(kv.key())));
    }
  }
  return v.as_object();
}

Result<std::string> bodyText(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) return fail(ErrorCode::InvalidArgument, fmt::format("field \"{}\" must be a string", key));
  return std::string(v->as_string());
}

std::string actorName(const HttpRequest& req) { return req.identity ? req.identity->name : "unknown"; }

HttpResponse openIncident(const std::shared_ptr<ApiContext>& c, HttpRequest& req) {
  auto b = bodyObject(req, {"title", "severity", "environment", "deployment", "reason"});
  if (!b) return fromError(req, b.error());
  incident::Opening o;
  auto title = bodyText(*b, "title");
  auto env = bodyText(*b, "environment");
  auto deployment = bodyText(*b, "deployment");
  auto reason = bodyText(*b, "reason");
  for (const auto* r : {&title, &env, &deployment, &reason}) {
    if (!*r) return fromError(req, r->error());
  }
  o.title = *title;
  o.environment = *env;
  o.deployment = *deployment;
  o.reason = *reason;
  if (const auto* s = b->if_contains("severity"); s != nullptr) {
    if (!s->is_int64() || s->as_int64() < 1 || s->as_int64() > 9) {
      return fromError(req, Error{ErrorCode::InvalidArgument, "field \"severity\" must be a level 1-9"});
    }
    o.severity = static_cast<int>(s->as_int64());
  }
  if (!o.environment.empty() && c->controller->config()->findEnvironment(o.environment) == nullptr) {
    return fromError(req, Error{ErrorCode::InvalidArgument, fmt::format("no environment named \"{}\"", o.environment)});
  }
  o.actor = actorName(req);
  auto inc = c->incidents->open(std::move(o));
  if (!inc) return fromError(req, inc.error());
  return HttpResponse::json(201, json::serialize(incidentJson(*inc, true)));
}

HttpResponse verbHandler(const std::shared_ptr<ApiContext>& c, HttpRequest& req, incident::Verb verb) {
  const bool commander = verb == incident::Verb::Commander;
  auto b = commander ? bodyObject(req, {"commander"}) : bodyObject(req, {"message"});
  if (!b) return fromError(req, b.error());
  auto t = bodyText(*b, commander ? "commander" : "message");
  if (!t) return fromError(req, t.error());
  auto inc = c->incidents->apply(req.params.at("id"), verb, actorName(req), *t);
  if (!inc) return fromError(req, inc.error());
  return HttpResponse::json(200, json::serialize(incidentJson(*inc, true)));
}

}  // namespace

std::vector<Route> incidentRoutes(std::shared_ptr<ApiContext> c) {
  std::vector<Route> routes;
  const std::string viewer(kViewer);
  const std::string deployer(kDeployer);
  routes.push_back({"GET", "/api/v1/incidents", viewer, [c](HttpRequest& req) {
                      const auto all = req.query.find("all");
                      if (all != req.query.end() && all->second != "true" && all->second != "false") {
                        return fromError(req, Error{ErrorCode::InvalidArgument,
                                                    fmt::format("all must be true or false, got \"{}\"", all->second)});
                      }
                      auto list = c->incidents->list(all != req.query.end() && all->second == "true");
                      if (!list) return fromError(req, list.error());
                      json::array out;
                      for (const auto& inc : *list) out.push_back(incidentJson(inc, false));
                      return HttpResponse::json(200, json::serialize(json::object{{"incidents", std::move(out)}}));
                    }});
  routes.push_back({"POST", "/api/v1/incidents", deployer, [c](HttpRequest& req) { return openIncident(c, req); }});
  routes.push_back({"GET", "/api/v1/incidents/{id}", viewer, [c](HttpRequest& req) {
                      auto inc = c->incidents->get(req.params.at("id"));
                      if (!inc) return fromError(req, inc.error());
                      return HttpResponse::json(200, json::serialize(incidentJson(*inc, true)));
                    }});
  routes.push_back({"GET", "/api/v1/incidents/{id}/postmortem", viewer, [c](HttpRequest& req) {
                      auto inc = c->incidents->get(req.params.at("id"));
                      if (!inc) return fromError(req, inc.error());
                      const std::string markdown = incident::postmortem(*inc);
                      if (req.header("accept").find("application/json") != std::string::npos) {
                        return HttpResponse::json(200, json::serialize(json::object{{"markdown", markdown}}));
                      }
                      return HttpResponse::text(200, markdown, "text/markdown; charset=utf-8");
                    }});
  const std::pair<const char*, incident::Verb> verbs[] = {
      {"acknowledge", incident::Verb::Acknowledge}, {"update", incident::Verb::Update},
      {"mitigate", incident::Verb::Mitigate},       {"resolve", incident::Verb::Resolve},
      {"note", incident::Verb::Note},               {"commander", incident::Verb::Commander}};
  for (const auto& [name, verb] : verbs) {
    routes.push_back({"POST", fmt::format("/api/v1/incidents/{{id}}/{}", name), deployer,
                      [c, v = verb](HttpRequest& req) { return verbHandler(c, req, v); }});
  }
  return routes;
}

}  // namespace runway::api
