// The API's contract (src/api/openapi.json): the document the server embeds and serves names
// exactly the operations the server registers, each with the role it requires, and exactly the
// operations docs/api.md documents. A new route without a schema, a schema without a route, or
// either without its documentation fails here.

#include "runway/api/openapi.hpp"

#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "runway/api/dashboard.hpp"
#include "runway/api/sessions.hpp"
#include "runway/api/tokens.hpp"
#include "runway/api/v1.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/ids.hpp"
#include "runway/incident/service.hpp"
#include "runway/store/store.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace runway::api {
namespace {

namespace json = boost::json;

// "GET /api/v1/deployments/{id}" -> the role it needs ("" = no token).
using Operations = std::map<std::string, std::string>;

json::value parsedDocument() {
  json::error_code ec;
  json::value doc = json::parse(openapi::document(), ec);
  EXPECT_FALSE(ec) << "src/api/openapi.json is not JSON: " << ec.message();
  return doc;
}

Operations documentOperations(const json::value& doc) {
  Operations out;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      std::string upper(method);
      for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      const auto* role = op.as_object().if_contains("x-runway-role");
      EXPECT_NE(role, nullptr) << upper << " " << std::string_view(path) << " has no x-runway-role";
      out[upper + " " + std::string(path)] =
          role != nullptr && role->is_string() ? std::string(role->as_string()) : std::string();
    }
  }
  return out;
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::openSqliteStore((dir_.path() / "runway.db").string());
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    store_ = std::move(*opened);
    context_ = std::make_shared<ApiContext>();
    context_->store = store_;
    context_->clock = clock_;
    context_->incidents = std::make_shared<incident::IncidentService>(
        store_, clock_, [] { return std::make_shared<const config::Config>(); }, systemRandom());
  }

  // What `runway serve` registers (serve_command.cpp), without the dashboard's static files.
  std::vector<Route> serverRoutes() {
    auto routes = v1Routes(context_);
    auto sessions = std::make_shared<SessionTable>(SessionOptions{clock_, std::chrono::hours(1), 10, false, store_});
    for (auto& r : dashboardRoutes(context_, storeAuthenticator(store_, clock_), sessions, {})) {
      routes.push_back(std::move(r));
    }
    return routes;
  }

  test::TempDir dir_{"runway-openapi"};
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::shared_ptr<store::Store> store_;
  std::shared_ptr<ApiContext> context_;
};

TEST_F(OpenApiTest, TheDocumentIsOpenApi31WithUniqueOperationIds) {
  const auto doc = parsedDocument();
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc.at("openapi").as_string(), "3.1.0");
  std::set<std::string> ids;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      const auto* id = op.as_object().if_contains("operationId");
      ASSERT_NE(id, nullptr) << method << " " << std::string_view(path);
      EXPECT_TRUE(ids.insert(std::string(id->as_string())).second) << "duplicate operationId " << id->as_string();
      // Every operation answers its errors in the one error shape.
      for (const auto& [status, response] : op.at("responses").as_object()) {
        if (status.starts_with("4") || status.starts_with("5")) {
          EXPECT_TRUE(response.as_object().contains("$ref"))
              << method << " " << std::string_view(path) << " " << std::string_view(status)
              << ": error responses refer to #/components/responses (the Error schema)";
        }
      }
    }
  }
  EXPECT_TRUE(doc.at("components").at("securitySchemes").as_object().contains("bearerAuth"));
  EXPECT_TRUE(doc.at("components").at("securitySchemes").as_object().contains("sessionCookie"));
}

TEST_F(OpenApiTest, EveryRouteTheServerRegistersIsInTheDocumentWithItsRole) {
  const auto documented = documentOperations(parsedDocument());
  Operations registered;
  for (const auto& r : serverRoutes()) {
    const std::string key = r.method + " " + r.pattern;
    EXPECT_TRUE(registered.emplace(key, r.role.value_or("")).second) << "registered twice: " << key;
  }
  for (const auto& [op, role] : registered) {
    const auto it = documented.find(op);
    if (it == documented.end()) {
      ADD_FAILURE() << op << " is registered but not in src/api/openapi.json";
      continue;
    }
    // The alert webhook authenticates itself (a deployer token or a signature): its route has
    // no role, the document names the role a token needs.
    if (op == "POST /api/v1/alerts/alertmanager") {
      EXPECT_EQ(role, "");
      EXPECT_EQ(it->second, "deployer");
      continue;
    }
    EXPECT_EQ(it->second, role) << op << ": x-runway-role differs from the route's role";
  }
  for (const auto& [op, role] : documented) {
    EXPECT_TRUE(registered.contains(op)) << op << " is in src/api/openapi.json but the server has no such route";
  }
  EXPECT_GE(registered.size(), 50u);  // the whole API, not an empty table agreeing with an empty document
}

// The operations docs/api.md documents: its authorization matrix (every route, one row each, or
// one row for siblings: "`/api/v1/incidents/{id}/acknowledge`, `/update`") and its
// "### `METHOD /path`" headings, without the dashboard's static files.
struct DocumentedInApiMd {
  std::set<std::string> matrix;
  std::set<std::string> headings;
};

DocumentedInApiMd readApiMd() {
  DocumentedInApiMd out;
  std::ifstream in(std::string(RUNWAY_SOURCE_DIR) + "/docs/api.md");
  EXPECT_TRUE(in.good()) << "cannot read docs/api.md";
  const std::regex row(R"(^\| (GET|POST|PUT|PATCH|DELETE) \| ([^|]*) \|)");
  const std::regex heading(R"(^### `(GET|POST|PUT|PATCH|DELETE) (/[^` ]*)`)");
  const std::regex quoted("`(/[^`]*)`");
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, heading)) out.headings.insert(m[1].str() + " " + m[2].str());
    if (!std::regex_search(line, m, row)) continue;
    const std::string method = m[1].str();
    const std::string cell = m[2].str();
    std::string first;
    for (auto it = std::sregex_iterator(cell.begin(), cell.end(), quoted); it != std::sregex_iterator(); ++it) {
      std::string path = (*it)[1].str();
      if (first.empty()) {
        first = path;
      } else if (path.find('/', 1) == std::string::npos && first.starts_with("/api/")) {
        path = first.substr(0, first.rfind('/')) + path;  // a sibling of the first
      }
      if (path.starts_with("/api/") || path == "/healthz" || path == "/readyz" || path == "/metrics") {
        out.matrix.insert(method + " " + path);
      }
    }
  }
  return out;
}

TEST_F(OpenApiTest, TheDocumentAndDocsApiMdNameTheSameOperations) {
  const auto documented = documentOperations(parsedDocument());
  const auto md = readApiMd();
  ASSERT_GE(md.matrix.size(), 50u) << "docs/api.md's authorization matrix was not found";
  for (const auto& op : md.matrix) {
    EXPECT_TRUE(documented.contains(op)) << op << " is in docs/api.md but not in src/api/openapi.json";
  }
  for (const auto& [op, role] : documented) {
    EXPECT_TRUE(md.matrix.contains(op)) << op << " is in src/api/openapi.json but not in docs/api.md's authorization matrix";
  }
  for (const auto& op : md.headings) {
    EXPECT_TRUE(documented.contains(op)) << "docs/api.md has a section on " << op << ", src/api/openapi.json does not";
  }
}

TEST_F(OpenApiTest, TheServerServesTheEmbeddedDocumentWithoutAToken) {
  for (auto& r : serverRoutes()) {
    if (r.method != "GET" || r.pattern != "/api/v1/openapi.json") continue;
    EXPECT_FALSE(r.role.has_value());
    HttpRequest req;
    req.method = "GET";
    req.path = r.pattern;
    const auto response = r.handler(req);
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.content_type, "application/json");
    EXPECT_EQ(response.body, openapi::document());
    // The file in the repository is what the binary holds (a stale build would differ).
    std::ifstream in(std::string(RUNWAY_SOURCE_DIR) + "/src/api/openapi.json");
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), response.body);
    return;
  }
  FAIL() << "no GET /api/v1/openapi.json route";
}

}  // namespace
}  // namespace runway::api

namespace runway::api {
namespace {

// What Schemathesis found accepted against the document (each a 200 or 201 before): a limit out
// of range or not a number, a boolean query parameter that is neither true nor false, an event
// sequence number with trailing junk, a body on the configuration reload, an empty commitTime,
// an empty tail of the logs route. Each is refused with 400 before the handler acts.
class RefusedNotIgnoredTest : public OpenApiTest {
 protected:
  HttpResponse call(const std::string& method, const std::string& pattern, std::map<std::string, std::string> query,
                    std::string body = "", std::map<std::string, std::string> params = {}) {
    for (auto& r : serverRoutes()) {
      if (r.method != method || r.pattern != pattern) continue;
      HttpRequest req;
      req.method = method;
      req.path = pattern;
      req.query = std::move(query);
      req.params = std::move(params);
      req.body = std::move(body);
      req.request_id = "req-test";
      req.identity = Identity{"tester", {"admin"}, "0000000000000000"};
      return r.handler(req);
    }
    ADD_FAILURE() << "no route " << method << " " << pattern;
    return HttpResponse{};
  }
  static std::string codeOf(const HttpResponse& r) {
    return std::string(json::parse(r.body).at("error").at("code").as_string());
  }
};

TEST_F(RefusedNotIgnoredTest, MalformedQueryParametersAre400) {
  for (const auto* limit : {"0", "1001", "abc", "5x", ""}) {
    for (const auto* pattern : {"/api/v1/deployments", "/api/v1/notifications", "/api/v1/events"}) {
      const auto r = call("GET", pattern, {{"limit", limit}, {"stream", "false"}});
      EXPECT_EQ(r.status, 400) << pattern << "?limit=" << limit << ": " << r.body;
    }
  }
  EXPECT_EQ(call("GET", "/api/v1/notifications", {{"limit", "1000"}}).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/events", {{"stream", "maybe"}}).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/events", {{"stream", "false"}, {"after", "12abc"}}).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/events", {{"stream", "false"}, {"after", "-5"}}).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/events", {{"stream", "false"}, {"after", "0"}}).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/incidents", {{"all", "AAA"}}).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/incidents", {{"all", "false"}}).status, 200);
  const std::map<std::string, std::string> logs{{"env", "staging"}, {"service", "web"}};
  EXPECT_EQ(call("GET", "/api/v1/environments/{env}/services/{service}/logs", {{"tail", ""}}, "", logs).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/environments/{env}/services/{service}/logs", {{"follow", ""}}, "", logs).status, 400);
}

TEST_F(RefusedNotIgnoredTest, ABodyTheRouteDoesNotTakeIs400) {
  bool reloaded = false;
  context_->load_config = [&reloaded] {
    reloaded = true;
    return config::LoadResult{};
  };
  const auto r = call("POST", "/api/v1/config/reload", {}, std::string("\0", 1));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(codeOf(r), "invalid_argument");
  EXPECT_EQ(call("POST", "/api/v1/config/reload", {}, R"({"force":true})").status, 400);
  EXPECT_FALSE(reloaded);
  const auto empty_time = call("POST", "/api/v1/deployments", {}, R"({"environment":"staging","version":"v1","commitTime":""})");
  EXPECT_EQ(empty_time.status, 400);
  EXPECT_NE(empty_time.body.find("commitTime"), std::string::npos) << empty_time.body;
}

}  // namespace
}  // namespace runway::api
