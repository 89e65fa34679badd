#pragma once

// The web dashboard's routes (docs/dashboard.md): its static files, and the session routes
// that exchange an API token for a browser session (sessions.hpp).
//
//   GET    /                    the page (index.html); no token
//   GET    /assets/{name}       its script, style sheet and icon; no token
//   POST   /api/v1/session      {"token": "rwy_..."} -> 201, Set-Cookie: the session; no token
//   GET    /api/v1/session      the caller and the session's CSRF token; viewer
//   DELETE /api/v1/session      sign out; viewer (with a cookie: X-CSRF-Token too)
//
// The static files are answered with their Content-Type, a strong ETag (304 for a matching
// If-None-Match), Cache-Control: no-cache, and a Content-Security-Policy that allows only the
// server's own scripts, styles and connections.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runway/api/http_server.hpp"
#include "runway/api/sessions.hpp"
#include "runway/api/v1.hpp"

namespace runway::api {

// One file of the built dashboard, embedded in the binary.
struct StaticAsset {
  std::string path;          // "/" for the page, "/assets/app.js", ...
  std::string content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;     // REQUIRES: outlives the server (static storage)
  std::string etag;          // quoted, e.g. "\"3f9a0c12b7d54e61\""
};

// The Content-Security-Policy every dashboard file is served with.
inline constexpr std::string_view kDashboardCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

std::vector<Route> dashboardRoutes(std::shared_ptr<ApiContext> context,
                                   std::shared_ptr<Authenticator> authenticator,
                                   std::shared_ptr<SessionTable> sessions,
                                   std::vector<StaticAsset> assets);

// The sequence number of the newest event in the store, 0 when there is none. The dashboard
// starts its event stream there.
Result<std::int64_t> lastEventSeq(store::Store& store);

}  // namespace runway::api
