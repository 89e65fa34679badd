#include "runway/api/dashboard.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace runway::api {
namespace {

namespace json = boost::json;

HttpResponse staticFile(const StaticAsset& asset, const HttpRequest& req) {
  HttpResponse r;
  r.content_type = asset.content_type;
  r.headers = {{"ETag", asset.etag},
               {"Cache-Control", "no-cache"},
               {"Content-Security-Policy", std::string(kDashboardCsp)},
               {"X-Content-Type-Options", "nosniff"},
               {"X-Frame-Options", "DENY"},
               {"Referrer-Policy", "no-referrer"}};
  // A strong validator: the whole If-None-Match list is searched for it, or "*".
  const std::string match = req.header("if-none-match");
  if (!match.empty() && (match == "*" || match.find(asset.etag) != std::string::npos)) {
    r.status = 304;
    return r;
  }
  r.status = 200;
  r.body = std::string(asset.body);
  return r;
}

// The JSON describing a signed-in caller; `session` null for a bearer-token caller.
json::object sessionJson(const Identity& who, const Session* session, std::int64_t last_seq) {
  json::array roles;
  for (const auto& r : who.roles) roles.emplace_back(r);
  return json::object{
      {"name", who.name},
      {"roles", std::move(roles)},
      {"tokenId", who.token_id},
      {"csrfToken", session != nullptr ? json::value(session->csrf_token) : json::value(nullptr)},
      {"expiresAt", session != nullptr ? json::value(formatTimestamp(session->expires_at))
                                       : json::value(nullptr)},
      {"lastEventSeq", last_seq}};
}

// The bearer text of a sign-in request: {"token": "rwy_..."} sent as application/json (a
// cross-site form cannot send that type, so no other site can sign a browser in).
Result<std::string> signInToken(const HttpRequest& req) {
  constexpr std::string_view kShape =
      "sign in with a JSON body {\"token\": \"rwy_...\"} (Content-Type: application/json)";
  if (req.header("content-type").rfind("application/json", 0) != 0) {
    return fail(ErrorCode::InvalidArgument, std::string(kShape));
  }
  json::error_code ec;
  const json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object() || v.get_object().size() != 1)
    return fail(ErrorCode::InvalidArgument, std::string(kShape));
  const auto* token = v.get_object().if_contains("token");
  if (token == nullptr || !token->is_string() || token->get_string().empty()) {
    return fail(ErrorCode::InvalidArgument, std::string(kShape));
  }
  return std::string(token->get_string());
}

struct SessionRoutes {
  std::shared_ptr<ApiContext> context;
  std::shared_ptr<Authenticator> authenticator;
  std::shared_ptr<SessionTable> sessions;

  std::int64_t lastSeq() const {
    auto seq = lastEventSeq(*context->store);
    return seq ? *seq : 0;
  }

  void record(const std::string& kind, const Identity& who, const std::string& reason) const {
    // Who signed in and out is part of the audit trail; the event names the token by its
    // public id only.
    (void)context->store->appendEvent(
        store::NewEvent{context->clock->now(), who.name, kind, who.token_id, reason, "{}"});
  }

  HttpResponse signIn(const HttpRequest& req) const {
    auto bearer = signInToken(req);
    if (!bearer) return errorResponse(bearer.error(), req.request_id);
    auto who = authenticator->authenticate(*bearer);
    if (!who) return errorResponse(who.error(), req.request_id);
    auto session = sessions->open(*who);
    if (!session) return errorResponse(session.error(), req.request_id);
    record("session.opened", *who, "signed in to the dashboard");
    spdlog::info("dashboard: {} signed in (token {})", who->name, who->token_id);
    auto r = HttpResponse::json(201, json::serialize(sessionJson(*who, &*session, lastSeq())));
    r.headers = {{"Set-Cookie", sessions->setCookie(*session)}, {"Cache-Control", "no-store"}};
    return r;
  }

  // The session the request's cookie names, when it came with one.
  std::optional<Session> sessionOf(const HttpRequest& req) const {
    if (!req.header("authorization").empty()) return std::nullopt;
    auto id = cookieValue(req.header("cookie"), kSessionCookie);
    if (!id) return std::nullopt;
    auto session = sessions->find(*id);
    if (!session) return std::nullopt;
    return std::move(*session);
  }

  HttpResponse current(const HttpRequest& req) const {
    const auto session = sessionOf(req);
    auto r = HttpResponse::json(
        200, json::serialize(sessionJson(*req.identity, session ? &*session : nullptr, lastSeq())));
    r.headers = {{"Cache-Control", "no-store"}};
    return r;
  }

  HttpResponse signOut(const HttpRequest& req) const {
    const auto session = sessionOf(req);
    if (session) {
      sessions->close(session->id);
      record("session.closed", *req.identity, "signed out of the dashboard");
    }
    auto r =
        HttpResponse::json(200, json::serialize(json::object{{"signedOut", session.has_value()}}));
    r.headers = {{"Set-Cookie", sessions->clearCookie()}, {"Cache-Control", "no-store"}};
    return r;
  }
};

}  // namespace

Result<std::int64_t> lastEventSeq(store::Store& store) {
  // Sequence numbers run 1, 2, 3 ... without gaps (the audit chain checks that), so the newest
  // is found by bisection on "is there an event after n": a few indexed lookups.
  std::int64_t low = 0;  // an event after `low` is known to exist, or low == 0
  std::int64_t high = 1;
  const auto after = [&](std::int64_t n) -> Result<bool> {
    auto list = store.listEvents(store::EventFilter{n, "", 1});
    if (!list) return fail(std::move(list).error());
    return !list->empty();
  };
  for (;;) {  // grow `high` until no event comes after it
    auto more = after(high);
    if (!more) return fail(std::move(more).error());
    if (!*more) break;
    low = high;
    high *= 2;
  }
  auto any = after(low);
  if (!any) return fail(std::move(any).error());
  if (!*any) return low;  // only when low == 0 and the log is empty
  // Invariant: an event after `low` exists, none after `high`.
  while (high - low > 1) {
    const std::int64_t mid = low + (high - low) / 2;
    auto more = after(mid);
    if (!more) return fail(std::move(more).error());
    (*more ? low : high) = mid;
  }
  return high;
}

std::vector<Route> dashboardRoutes(std::shared_ptr<ApiContext> context,
                                   std::shared_ptr<Authenticator> authenticator,
                                   std::shared_ptr<SessionTable> sessions,
                                   std::vector<StaticAsset> assets) {
  std::vector<Route> routes;
  for (auto& asset : assets) {
    auto shared = std::make_shared<const StaticAsset>(std::move(asset));
    routes.push_back(Route{"GET", shared->path, std::nullopt,
                           [shared](HttpRequest& req) { return staticFile(*shared, req); }});
  }
  auto s = std::make_shared<const SessionRoutes>(
      SessionRoutes{std::move(context), std::move(authenticator), std::move(sessions)});
  const std::string viewer(kViewer);
  routes.push_back(Route{"POST", "/api/v1/session", std::nullopt,
                         [s](HttpRequest& req) { return s->signIn(req); }});
  routes.push_back(
      Route{"GET", "/api/v1/session", viewer, [s](HttpRequest& req) { return s->current(req); }});
  routes.push_back(Route{"DELETE", "/api/v1/session", viewer,
                         [s](HttpRequest& req) { return s->signOut(req); }});
  return routes;
}

}  // namespace runway::api
