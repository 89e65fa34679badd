// Issue 14 leads 1, 2 and 3 end to end with the real `runway serve`: a two-service canary (api
// and backend, both the demo app) whose background analysis reads one web metric per service and
// version from a metric server on loopback, so that each service's measurements are chosen by
// the test:
//   - lead 2: api's metric cannot be measured (500) while backend's passes. One service's
//     errors must not hide behind another's successes: the deployment rolls back, naming api.
//   - lead 3: each service fails exactly once against `failureLimit: 1`. The limit applies once,
//     per service and metric, where the analysis decides it: both are within it, and the
//     release goes on (it used to be tallied again across services by the engine: 2 > 1).
//   - lead 1: the template is renamed by a reload before the analysis starts. The deployment
//     still judges its version with the template it was requested under, and rolls back the
//     failing build (the run that could not be built used to count as a pass).
// Each of these gave the opposite verdict on the main before issue 14 (b13d732).

#include <map>
#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "serve_fixture.hpp"
#include "support/http.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// GET /<service>/<version> answers by the mode given for it on the command line
// ("api/v2=error"; default good): good {"value": 0}; fail {"value": 1}; fail-once {"value": 1}
// the first time, then {"value": 0}; error 500. GET /_counts: requests per path.
constexpr const char* kMetricServer = R"PY(
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
modes = dict(a.split("=", 1) for a in sys.argv[1:])
counts = {}
lock = threading.Lock()
class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        path = self.path.strip("/")
        if path == "_counts":
            with lock:
                return self.reply(200, counts)
        with lock:
            n = counts.get(path, 0)
            counts[path] = n + 1
        mode = modes.get(path, "good")
        if mode == "error":
            return self.reply(500, {"error": "the metric backend failed"})
        failing = mode == "fail" or (mode == "fail-once" and n == 0)
        self.reply(200, {"value": 1 if failing else 0})
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
)PY";

class MetricServer {
 public:
  explicit MetricServer(std::vector<std::string> modes) {
    SubprocessOptions o;
    o.argv = {"/usr/bin/python3", "-u", "-c", kMetricServer};
    for (auto& m : modes) o.argv.push_back(std::move(m));
    auto p = Subprocess::start(std::move(o));
    if (!p) {
      ADD_FAILURE() << p.error().message;
      return;
    }
    process_.emplace(std::move(*p));
    auto port = process_->readListeningPort(deadlineIn(20s));
    if (!port) {
      ADD_FAILURE() << port.error().message;
      return;
    }
    port_ = *port;
  }
  int port() const { return port_; }
  // Requests per "service/version" so far.
  std::map<std::string, std::int64_t> counts() const {
    std::map<std::string, std::int64_t> out;
    auto r = httpGet(fmt::format("http://127.0.0.1:{}/_counts", port_), 5s);
    if (!r || r->status != 200) return out;
    const json::value body = json::parse(r->body);  // kept: the loop walks into it
    for (const auto& kv : body.as_object()) {
      out[std::string(kv.key())] = kv.value().to_number<std::int64_t>();
    }
    return out;
  }

 private:
  std::optional<Subprocess> process_;
  int port_ = 0;
};

struct Knobs {
  int port = 0;
  std::string template_name = "probe";
  int starting_step = 0;
  int failure_limit = 0;
  int consecutive_error_limit = 2;
};

std::string configFor(const Knobs& k) {
  return fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata:
  name: shop
spec:
  services:
    - name: api
      local:
        command: ["runway-demo-app", "--port", "${{PORT}}"]
      env:
        VERSION: "${{VERSION}}"
      health:
        path: /health
        period: 100ms
        failureThreshold: 3
    - name: backend
      local:
        command: ["runway-demo-app", "--port", "${{PORT}}"]
      env:
        VERSION: "${{VERSION}}"
      health:
        path: /health
        period: 100ms
        failureThreshold: 3
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: prod
spec:
  runtime:
    local: {{}}
  strategy: canary
  canary:
    steps:
      - setWeight: 20
      - pause: {{ duration: 3s }}
      - setWeight: 50
      - pause: {{ duration: 6s }}
      - setWeight: 100
    analysis:
      templates: [{name}]
      startingStep: {start}
    abortScaleDownDelay: 1s
  progressDeadline: 1m
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata:
  name: {name}
spec:
  metrics:
    - name: probe
      provider: web
      web:
        url: "http://127.0.0.1:{port}/${{service}}/${{version}}"
        jsonPointer: /value
        timeout: 2s
      interval: 1s
      failureCondition: "result > 0.5"
      failureLimit: {failures}
      consecutiveErrorLimit: {errors}
)",
                     fmt::arg("name", k.template_name), fmt::arg("start", k.starting_step),
                     fmt::arg("port", k.port), fmt::arg("failures", k.failure_limit),
                     fmt::arg("errors", k.consecutive_error_limit));
}

class PerServiceVerdictTest : public ::testing::Test {
 protected:
  // Starts the server with `knobs` and ships v1 (a first release: nothing to judge it against).
  void startWith(const Knobs& knobs) {
    server_.emplace(dir_.path());
    server_->writeConfig(configFor(knobs));
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().message;
    std::string error;
    const std::string v1 = server_->deploy("prod", "v1", &error);
    ASSERT_FALSE(v1.empty()) << error;
    ASSERT_EQ(server_->waitTerminal(v1, 60s), "Succeeded");
  }

  // The deployment's document, and the highest canary weight seen until it ended.
  std::string runToEnd(const std::string& id, std::int64_t* max_weight) {
    std::string phase;
    pollUntil(
        [&] {
          auto d = server_->getJson("/api/v1/deployments/" + id);
          if (!d.is_object()) return false;
          *max_weight = std::max(*max_weight, d.at("canaryWeight").to_number<std::int64_t>());
          phase = std::string(d.at("phase").as_string());
          return phase == "Succeeded" || phase == "RolledBack" || phase == "Failed";
        },
        deadlineIn(90s));
    return phase;
  }

  std::string abortReason(const std::string& id) {
    auto d = server_->getJson("/api/v1/deployments/" + id);
    return d.is_object() ? std::string(d.at("abortReason").as_string()) : std::string("?");
  }

  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->down(), 0);
    }
  }

  TempDir dir_;
  std::optional<ServeFixture> server_;
};

// Lead 2: api's metric errors at every measurement (consecutiveErrorLimit 2) while backend's
// passes every time. The old engine counted errors per metric name across services and reset the
// run of errors at any success, so backend's successes hid api's errors and v2 went to 100 %.
TEST_F(PerServiceVerdictTest, OneServicesErrorsAreNotHiddenByAnothersSuccesses) {
  MetricServer metrics({"api/v2=error"});
  ASSERT_NE(metrics.port(), 0);
  Knobs knobs;
  knobs.port = metrics.port();
  knobs.consecutive_error_limit = 2;
  startWith(knobs);

  std::string error;
  const std::string v2 = server_->deploy("prod", "v2", &error);
  ASSERT_FALSE(v2.empty()) << error;
  std::int64_t max_weight = 0;
  EXPECT_EQ(runToEnd(v2, &max_weight), "RolledBack");
  EXPECT_LT(max_weight, 100);
  const std::string reason = abortReason(v2);
  EXPECT_NE(reason.find("api"), std::string::npos) << reason;
  EXPECT_NE(reason.find("probe"), std::string::npos) << reason;
  EXPECT_EQ(server_->getJson("/api/v1/environments/prod").at("currentRelease").as_string(), "v1");
  const auto counts = metrics.counts();
  EXPECT_GE(counts.count("api/v2") ? counts.at("api/v2") : 0, 3);
  EXPECT_GE(counts.count("backend/v2") ? counts.at("backend/v2") : 0, 1);
}

// Lead 3: each service fails its first measurement and passes after; `failureLimit: 1` allows
// one failure per service and metric. Decided once, per service, by the analysis: v2 passes.
// The old engine applied the limit a second time to failures tallied across both services
// (2 > 1) and rolled back a release each service's own analysis had passed.
TEST_F(PerServiceVerdictTest, LimitsApplyOncePerServiceAndMetric) {
  MetricServer metrics({"api/v2=fail-once", "backend/v2=fail-once"});
  ASSERT_NE(metrics.port(), 0);
  Knobs knobs;
  knobs.port = metrics.port();
  knobs.failure_limit = 1;
  startWith(knobs);

  std::string error;
  const std::string v2 = server_->deploy("prod", "v2", &error);
  ASSERT_FALSE(v2.empty()) << error;
  std::int64_t max_weight = 0;
  EXPECT_EQ(runToEnd(v2, &max_weight), "Succeeded") << abortReason(v2);
  EXPECT_EQ(server_->getJson("/api/v1/environments/prod").at("currentRelease").as_string(), "v2");
  // Both services were measured past their one failure: the verdict rests on judged values.
  const auto counts = metrics.counts();
  EXPECT_GE(counts.count("api/v2") ? counts.at("api/v2") : 0, 2);
  EXPECT_GE(counts.count("backend/v2") ? counts.at("backend/v2") : 0, 2);
}

// Lead 1: the analysis starts at step 2; before it does, a reload renames its template. On the
// old main the run could not be built ("template probe is no longer configured"), and that one
// error with the run marked complete counted as a pass: a build failing every measurement went
// to 100 %. Now the deployment keeps the spec it was requested under, its analysis runs and
// judges, and v2 rolls back.
TEST_F(PerServiceVerdictTest, AnAnalysisThatCouldNotBeBuiltNeverCountsAsAPass) {
  MetricServer metrics({"api/v2=fail", "backend/v2=fail"});
  ASSERT_NE(metrics.port(), 0);
  Knobs knobs;
  knobs.port = metrics.port();
  knobs.starting_step = 2;
  startWith(knobs);

  std::string error;
  const std::string v2 = server_->deploy("prod", "v2", &error);
  ASSERT_FALSE(v2.empty()) << error;
  ASSERT_TRUE(pollUntil(
      [&] {
        auto d = server_->getJson("/api/v1/deployments/" + v2);
        return d.is_object() && d.at("stepIndex").to_number<std::int64_t>() == 1;  // the pause at 20 %
      },
      deadlineIn(30s)));
  Knobs renamed = knobs;
  renamed.template_name = "probe-renamed";
  server_->writeConfig(configFor(renamed));
  auto reloaded = server_->call("POST", "/api/v1/config/reload", "{}");
  ASSERT_TRUE(reloaded);
  ASSERT_EQ(reloaded->status, 200) << reloaded->body;

  std::int64_t max_weight = 0;
  EXPECT_EQ(runToEnd(v2, &max_weight), "RolledBack");
  EXPECT_LT(max_weight, 100);
  const std::string reason = abortReason(v2);
  EXPECT_NE(reason.find("probe"), std::string::npos) << reason;
  EXPECT_EQ(server_->getJson("/api/v1/environments/prod").at("currentRelease").as_string(), "v1");
}

}  // namespace
}  // namespace runway::test
