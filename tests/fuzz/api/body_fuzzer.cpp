// libFuzzer target over the API's JSON request bodies: each input is one POST to a v1 route,
// handled in process by the real handlers (src/api) over a real SQLite store (a temp
// directory) and a real controller (src/controller) with the fake runtime, hooks and checks of
// the controller's own tests. The first byte picks the route (the POST routes sorted by pattern),
// the second its path parameters
// (a real environment, deployment or incident, or an unknown one), the rest is the body.
//
// What must hold: no crash, leak or undefined behaviour; never a 500 (a handler that does not
// know what went wrong); every error answers in the one error shape with a stable code.

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "fake_runtime.hpp"
#include "fakes.hpp"
#include "runway/api/dashboard.hpp"
#include "runway/api/sessions.hpp"
#include "runway/api/tokens.hpp"
#include "runway/api/v1.hpp"
#include "runway/config/loader.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/ids.hpp"
#include "runway/incident/service.hpp"
#include "runway/store/store.hpp"

namespace {

using namespace runway;

// A canary whose start waits for a tech-lead and whose second step is an indefinite pause, so
// that the commands and decisions the inputs send meet a live deployment; a checklist, so that
// the waiver and the checklist route judge something.
constexpr const char* kConfig = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: ["web", "--port", "${PORT}"]}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: staging}
spec:
  strategy: canary
  approvals: {roles: [tech-lead], preventSelfApproval: false}
  canary:
    steps:
      - setWeight: 20
      - pause: {}
      - setWeight: 100
---
apiVersion: runway/v1
kind: Environment
metadata: {name: production}
spec:
  strategy: rolling
  promotesFrom: staging
  checklist:
    semver: {waivableBy: [tech-lead]}
)";

struct World {
  std::filesystem::path dir;
  std::shared_ptr<store::Store> store;
  std::shared_ptr<controller::Controller> controller;
  std::vector<api::Route> routes;  // the POST routes
  std::string deployment;          // a live deployment of staging
  std::string incident;

  World() {
    // The controller logs every transition: millions of lines for nothing here.
    spdlog::set_level(spdlog::level::off);
    char pattern[] = "/tmp/runway-api-fuzz-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) std::abort();
    dir = pattern;
    // libFuzzer ends with exit(): the store's directory goes with the process.
    static std::filesystem::path removed_at_exit;
    removed_at_exit = dir;
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(removed_at_exit, ignored);
    });
    auto opened = store::openSqliteStore((dir / "runway.db").string());
    if (!opened) std::abort();
    store = std::move(*opened);
    auto loaded = config::loadConfigText(kConfig, "runway.yaml");
    if (!loaded.ok()) std::abort();
    auto cfg = std::make_shared<const config::Config>(std::move(*loaded.config));
    auto clock = std::make_shared<FakeClock>();
    auto runtime = std::make_shared<testing::FakeRuntime>();
    auto options = controller::testing::optionsFor(store, runtime, std::make_shared<controller::testing::FakeProvider>(),
                                                   std::make_shared<controller::testing::FakeHooks>(), clock, cfg);
    // semver fails: a deployment of production is blocked until someone waives it.
    auto checklist = std::make_shared<controller::testing::FakeChecklist>();
    checklist->by_name["semver"] = controller::ChecklistItemResult{"semver", false, "not newer (fuzz)"};
    options.checklist = checklist;
    options.workers = 1;
    auto started = controller::Controller::start(std::move(options));
    if (!started) std::abort();
    controller = std::move(*started);

    auto context = std::make_shared<api::ApiContext>();
    context->store = store;
    context->controller = controller;
    context->runtime = runtime;
    context->clock = clock;
    context->load_config = [] { return config::loadConfigText(kConfig, "runway.yaml"); };
    context->ready = [] { return true; };
    context->version = "fuzz";
    context->checklist = checklist;
    context->incidents = std::make_shared<incident::IncidentService>(store, clock, [c = controller] { return c->config(); },
                                                                     systemRandom());
    auto sessions = std::make_shared<api::SessionTable>(api::SessionOptions{clock, std::chrono::hours(1), 100, false, store});
    auto all = api::v1Routes(context);
    for (auto& r : api::dashboardRoutes(context, api::storeAuthenticator(store, clock), sessions, {})) {
      all.push_back(std::move(r));
    }
    for (auto& r : all) {
      if (r.method == "POST") routes.push_back(std::move(r));
    }
    // By pattern, so that a corpus input picks the same route whatever order they register in.
    std::sort(routes.begin(), routes.end(), [](const api::Route& a, const api::Route& b) { return a.pattern < b.pattern; });
    controller::DeployRequest d;
    d.environment = "staging";
    d.version = "v1";
    d.actor.name = "fuzz";
    auto admitted = controller->deploy(d);
    if (!admitted) std::abort();
    deployment = admitted->deployment_id;
    incident::Opening o;
    o.title = "seeded";
    o.actor = "fuzz";
    auto inc = context->incidents->open(o);
    if (!inc) std::abort();
    incident = inc->id;
  }
};

World& world() {
  static World* w = new World();  // lives as long as the process: the fuzzer never returns
  return *w;
}

// `pattern` with its {parameters} filled from `variant`: the seeded objects, or unknown ones.
api::HttpRequest requestFor(const World& w, const api::Route& route, std::uint8_t variant, std::string body) {
  api::HttpRequest req;
  req.method = route.method;
  req.request_id = "req-fuzz";
  req.body = std::move(body);
  req.headers.emplace_back("content-type", "application/json");
  const bool known = (variant & 1) == 0;
  std::string path;
  std::string_view rest = route.pattern;
  while (!rest.empty()) {
    const auto open = rest.find('{');
    if (open == std::string_view::npos) {
      path += rest;
      break;
    }
    const auto close = rest.find('}', open);
    path += rest.substr(0, open);
    const std::string name(rest.substr(open + 1, close - open - 1));
    std::string value;
    if (name == "env") value = known ? ((variant & 2) != 0 ? "production" : "staging") : "nowhere";
    else if (name == "id") value = !known ? "dep-unknown" : route.pattern.find("incidents") != std::string::npos ? w.incident : w.deployment;
    else value = known ? "web" : "nothing";
    req.params[name] = value;
    path += value;
    rest = rest.substr(close + 1);
  }
  req.path = path;
  // Roles that pass every route's check: handlers see an admin who also approves and waives.
  req.identity = api::Identity{"fuzzer", {"admin", "tech-lead"}, "0000000000000000"};
  return req;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  World& w = world();
  const auto& route = w.routes[data[0] % w.routes.size()];
  auto req = requestFor(w, route, data[1], std::string(reinterpret_cast<const char*>(data) + 2, size - 2));
  const auto response = route.handler(req);
  if (response.status == 500) std::abort();  // the handler did not know what went wrong
  if (response.status >= 400) {
    boost::json::error_code ec;
    const auto v = boost::json::parse(response.body, ec);
    if (ec || !v.is_object()) std::abort();
    const auto* error = v.as_object().if_contains("error");
    if (error == nullptr || !error->is_object() || !error->as_object().contains("code") ||
        !error->as_object().at("code").is_string()) {
      std::abort();
    }
  }
  return 0;
}
