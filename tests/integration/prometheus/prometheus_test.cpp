// The analysis module against a real Prometheus: Debian's /usr/bin/prometheus started on
// 127.0.0.1 with a temp storage dir, scraping two runway-demo-app instances (a good v1 and a
// v2 with ERROR_RATE=0.2) every second while the test sends them traffic. Everything waits by
// polling with deadlines.

#include <signal.h>

#include <atomic>
#include <cmath>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runway/analysis/analysis.hpp"
#include "runway/analysis/prometheus.hpp"
#include "runway/analysis/validate.hpp"
#include "runway/config/loader.hpp"
#include "support/http.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace runway::analysis {
namespace {

using namespace std::chrono_literals;
using test::Deadline;
using test::deadlineIn;
using test::pollUntil;

const char* const kPrometheus = "/usr/bin/prometheus";
const std::string kExampleAddress = "http://127.0.0.1:9090";

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The runbook templates from examples/prometheus, pointed at `address`.
Result<config::Config> loadExamples(const std::string& address) {
  const auto path = std::filesystem::path(RUNWAY_SOURCE_DIR) / "examples/prometheus/analysis-templates.yaml";
  std::string text = slurp(path);
  for (std::size_t at = 0; (at = text.find(kExampleAddress, at)) != std::string::npos;) {
    text.replace(at, kExampleAddress.size(), address);
    at += address.size();
  }
  auto loaded = config::loadConfigText(text, path.string());
  if (!loaded.ok()) {
    std::string all;
    for (const auto& d : loaded.diagnostics) all += d.format() + "\n";
    return fail(ErrorCode::InvalidArgument, "examples do not load:\n" + all);
  }
  return *loaded.config;
}

struct DemoApp {
  test::Subprocess process;
  int port = 0;
};

Result<DemoApp> startDemoApp(const test::TempDir& dir, const std::string& version,
                             const std::string& error_rate) {
  const auto binary = test::binaryPath("runway-demo-app");
  if (!std::filesystem::exists(binary)) {
    return fail(ErrorCode::NotFound, binary.string() + " is not built");
  }
  test::SubprocessOptions options;
  options.argv = {binary.string()};
  options.unset_env = {"PORT", "BIND", "VERSION", "SERVICE", "ERROR_RATE", "LATENCY_MS",
                       "FAIL_HEALTH", "CRASH_AFTER", "SEED", "THREADS"};
  options.env = {{"PORT", "0"}, {"VERSION", version}, {"SERVICE", "api"},
                 {"ERROR_RATE", error_rate}, {"SEED", "7"}, {"THREADS", "1"}};
  options.stderr_to = test::Output::file(dir / ("demo-" + version + ".log"));
  auto process = test::Subprocess::start(std::move(options));
  if (!process) return fail(process.error());
  auto port = process->readListeningPort(deadlineIn(10s));
  if (!port) return fail(port.error());
  return DemoApp{std::move(*process), *port};
}

// Prometheus, two demo apps and a traffic loop; torn down in reverse order.
class PrometheusStack : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kPrometheus))
        << kPrometheus << " is missing: run scripts/install-deps.sh (Debian package prometheus)";
    auto good = startDemoApp(dir_, "v1", "0");
    ASSERT_TRUE(good) << good.error().message;
    good_ = std::move(*good);
    auto bad = startDemoApp(dir_, "v2", "0.2");
    ASSERT_TRUE(bad) << bad.error().message;
    bad_ = std::move(*bad);

    auto port = test::freeLoopbackPort();
    ASSERT_TRUE(port) << port.error().message;
    address_ = "http://127.0.0.1:" + std::to_string(*port);
    const std::string config =
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: demo\n    scrape_interval: 1s\n    static_configs:\n"
        "      - targets: ['127.0.0.1:" + std::to_string(good_->port) + "']\n"
        "        labels: {service: api, version: v1}\n"
        "      - targets: ['127.0.0.1:" + std::to_string(bad_->port) + "']\n"
        "        labels: {service: api, version: v2}\n";
    ASSERT_TRUE(dir_.write("prometheus.yml", config));
    test::SubprocessOptions options;
    options.argv = {kPrometheus, "--config.file=" + (dir_ / "prometheus.yml").string(),
                    "--storage.tsdb.path=" + (dir_ / "data").string(),
                    "--web.listen-address=127.0.0.1:" + std::to_string(*port),
                    "--log.level=warn"};
    options.stdout_to = test::Output::file(dir_ / "prometheus.log");
    options.stderr_to = test::Output::file(dir_ / "prometheus.log");
    auto prom = test::Subprocess::start(std::move(options));
    ASSERT_TRUE(prom) << prom.error().message;
    prometheus_ = std::move(*prom);
    const bool ready = pollUntil(
        [&] {
          auto r = test::httpGet(address_ + "/-/ready", 1s);
          return r && r->status == 200;
        },
        deadlineIn(20s), 100ms);
    ASSERT_TRUE(ready) << "Prometheus did not become ready:\n" << slurp(dir_ / "prometheus.log");

    traffic_ = std::thread([this] { sendTraffic(); });

    auto examples = loadExamples(address_);
    ASSERT_TRUE(examples) << examples.error().message;
    examples_ = std::move(*examples);
    const auto* tmpl = examples_.findTemplate("prom-error-rate");
    ASSERT_NE(tmpl, nullptr);
    error_rate_ = tmpl->metrics.at(0);

    // Both versions have an error rate once two scrapes with traffic are in.
    for (const char* version : {"v1", "v2"}) {
      const bool has_data = pollUntil(
          [&] {
            auto v = makePrometheusProvider()->measure(error_rate_, context(version));
            return v && v->value.has_value() && !std::isnan(*v->value) &&
                   (std::string(version) == "v1" || *v->value > 0);
          },
          deadlineIn(20s), 200ms);
      ASSERT_TRUE(has_data) << "no error-rate data for " << version;
    }
  }

  void TearDown() override {
    stop_ = true;
    if (traffic_.joinable()) traffic_.join();
  }

  // A bounded traffic loop to both apps (about 150 requests a second each at most).
  void sendTraffic() {
    test::HttpClient client;
    for (int i = 0; i < 20000 && !stop_; ++i) {
      (void)client.get("http://127.0.0.1:" + std::to_string(good_->port) + "/api/leads", 2s);
      (void)client.get("http://127.0.0.1:" + std::to_string(bad_->port) + "/api/leads", 2s);
      // Pacing only, so the load stays modest on a small machine; correctness never waits here.
      std::this_thread::sleep_for(5ms);
    }
  }

  MeasureContext context(const std::string& version) const {
    MeasureContext ctx;
    ctx.service = "api";
    ctx.version = version;
    ctx.environment = "test";
    ctx.now = systemClock()->now();
    return ctx;
  }

  // Drives `run` on the real clock until it completes; `after` runs after each tick.
  Phase drive(AnalysisRun& run, MetricProvider& provider, Deadline deadline,
              const std::function<void(const AnalysisRun&)>& after = {}) {
    while (!isComplete(run.phase())) {
      const auto next = run.nextWakeup();
      if (!next) break;
      if (!pollUntil([&] { return systemClock()->now() >= *next; }, deadline, 20ms)) {
        ADD_FAILURE() << "analysis did not finish in time; phase " << toString(run.phase());
        break;
      }
      run.tick(systemClock()->now(), provider);
      if (after) after(run);
    }
    return run.phase();
  }

  test::TempDir dir_{"runway-prometheus"};
  std::optional<DemoApp> good_;
  std::optional<DemoApp> bad_;
  std::optional<test::Subprocess> prometheus_;
  std::string address_;
  std::thread traffic_;
  std::atomic<bool> stop_{false};
  config::Config examples_;
  config::MetricSpec error_rate_;
};

TEST_F(PrometheusStack, GoodVersionIsSuccessfulOnTheRunbookErrorRateTemplate) {
  auto spec = error_rate_;
  spec.interval = 1s;
  spec.count = 3;
  auto run = AnalysisRun::create("good", {spec}, context("v1"), systemClock()->now());
  ASSERT_TRUE(run) << run.error().message;
  auto provider = ProviderSet::standard(nullptr);
  EXPECT_EQ(drive(*run, provider, deadlineIn(20s)), Phase::Successful) << run->message();
  const auto& status = run->metrics()[0].status();
  ASSERT_EQ(status.measurements.size(), 3u);
  for (const auto& m : status.measurements) {
    ASSERT_TRUE(m.value.has_value()) << m.message;
    EXPECT_EQ(*m.value, 0.0) << m.message;
    EXPECT_EQ(m.outcome, MeasurementOutcome::Successful);
  }
}

TEST_F(PrometheusStack, FailingVersionFailsAfterHoldingForItsDuration) {
  auto spec = error_rate_;
  spec.interval = 1s;
  spec.for_duration = 2s;  // the template's 2m, shortened: still needs three breaching measurements
  auto run = AnalysisRun::create("bad", {spec}, context("v2"), systemClock()->now());
  ASSERT_TRUE(run) << run.error().message;
  auto provider = ProviderSet::standard(nullptr);
  EXPECT_EQ(drive(*run, provider, deadlineIn(20s)), Phase::Failed) << run->message();
  const auto& status = run->metrics()[0].status();
  ASSERT_GE(status.measurements.size(), 3u);
  EXPECT_EQ(status.measurements.front().outcome, MeasurementOutcome::Breaching);
  const auto& last = status.measurements.back();
  EXPECT_EQ(last.outcome, MeasurementOutcome::Failed);
  ASSERT_TRUE(last.value.has_value());
  EXPECT_GT(*last.value, 0.1);  // ERROR_RATE=0.2
  EXPECT_LT(*last.value, 0.3);
  EXPECT_NE(last.message.find("failureCondition 'result > 0.01' holds"), std::string::npos)
      << last.message;
}

TEST_F(PrometheusStack, StoppingPrometheusGivesErrorsThatExhaustTheBudget) {
  auto spec = error_rate_;
  spec.interval = 1s;
  spec.count = 0;  // until stopped
  spec.consecutive_error_limit = 2;
  auto run = AnalysisRun::create("outage", {spec}, context("v1"), systemClock()->now());
  ASSERT_TRUE(run) << run.error().message;
  auto provider = ProviderSet::standard(nullptr);
  bool stopped = false;
  const Phase phase = drive(*run, provider, deadlineIn(30s), [&](const AnalysisRun& r) {
    if (!stopped && r.metrics()[0].status().successful >= 2) {
      ASSERT_TRUE(prometheus_->signal(SIGTERM));
      auto exited = prometheus_->waitExit(deadlineIn(15s));
      ASSERT_TRUE(exited) << exited.error().message;
      stopped = true;
    }
  });
  ASSERT_TRUE(stopped);
  EXPECT_EQ(phase, Phase::Error) << run->message();
  const auto& status = run->metrics()[0].status();
  EXPECT_EQ(status.successful, 2);
  EXPECT_EQ(status.consecutive_errors, 3);  // limit 2: the third consecutive error decides
  EXPECT_EQ(status.failed, 0);
  const auto& last = status.measurements.back();
  EXPECT_EQ(last.outcome, MeasurementOutcome::Error);
  EXPECT_NE(last.message.find(address_), std::string::npos) << last.message;
  EXPECT_NE(status.message.find("consecutiveErrorLimit 2"), std::string::npos) << status.message;
}

TEST_F(PrometheusStack, MalformedQueryReturnsPrometheusBadDataMessage) {
  auto spec = error_rate_;
  spec.query = "sum(rate(http_requests_total{version=\"${version}\"}[1m])";  // missing ')'
  auto run = AnalysisRun::create("typo", {spec}, context("v1"), systemClock()->now());
  ASSERT_TRUE(run) << run.error().message;
  auto provider = ProviderSet::standard(nullptr);
  run->tick(systemClock()->now(), provider);
  const auto& m = run->metrics()[0].status().measurements.at(0);
  EXPECT_EQ(m.outcome, MeasurementOutcome::Error);
  EXPECT_EQ(m.message.rfind("bad_data: ", 0), 0u) << m.message;
  EXPECT_NE(m.message.find("parse error"), std::string::npos) << m.message;
}

TEST_F(PrometheusStack, SeveralSeriesIsAnErrorAndRangeQueriesGiveMatrices) {
  config::PrometheusProvider prom;
  prom.address = address_;
  auto vector = prometheusQuery(prom, "up", systemClock()->now());
  ASSERT_TRUE(vector) << vector.error().message;
  EXPECT_EQ(vector->type, "vector");
  EXPECT_EQ(vector->series.size(), 2u);
  auto value = prometheusValue(*vector);
  ASSERT_FALSE(value);
  EXPECT_NE(value.error().message.find("returned 2 series"), std::string::npos);

  const auto now = systemClock()->now();
  auto matrix = prometheusQueryRange(prom, "sum(up)", now - 10s, now, 1s);
  ASSERT_TRUE(matrix) << matrix.error().message;
  EXPECT_EQ(matrix->type, "matrix");
  ASSERT_EQ(matrix->series.size(), 1u);
  EXPECT_GE(matrix->series[0].samples.size(), 2u);

  auto scalar = prometheusQuery(prom, "scalar(sum(up))", now);
  ASSERT_TRUE(scalar) << scalar.error().message;
  EXPECT_EQ(scalar->type, "scalar");
  auto two = prometheusValue(*scalar);
  ASSERT_TRUE(two && two->value);
  EXPECT_EQ(*two->value, 2.0);

  auto nan = prometheusQuery(prom, "0/0", now);
  ASSERT_TRUE(nan);
  auto nan_value = prometheusValue(*nan);
  ASSERT_TRUE(nan_value && nan_value->value);
  EXPECT_TRUE(std::isnan(*nan_value->value));
}

TEST_F(PrometheusStack, CheckQueriesReportsTheQueriesPrometheusRejects) {
  auto cfg = examples_;
  auto checks = checkQueries(cfg);
  ASSERT_EQ(checks.size(), cfg.templates.size());  // one Prometheus query per example template
  for (const auto& c : checks) {
    EXPECT_TRUE(c.ok) << c.template_name << "/" << c.metric << ": " << c.message << "\n" << c.query;
  }
  // Break one query.
  cfg.templates[0].metrics[0].query = "rate(http_requests_total[5m]";
  checks = checkQueries(cfg);
  ASSERT_FALSE(checks[0].ok);
  EXPECT_EQ(checks[0].template_name, "prom-error-rate");
  EXPECT_EQ(checks[0].message.rfind("bad_data: ", 0), 0u) << checks[0].message;
  EXPECT_GT(checks[0].location.line, 0);
  for (std::size_t i = 1; i < checks.size(); ++i) EXPECT_TRUE(checks[i].ok) << checks[i].message;
}

// The examples load with runway's config loader and pass the analysis checks (no server).
TEST(PrometheusExamples, LoadAndValidate) {
  auto examples = loadExamples(kExampleAddress);
  ASSERT_TRUE(examples) << examples.error().message;
  EXPECT_EQ(examples->templates.size(), 6u);
  const auto diagnostics = validateTemplates(*examples);
  for (const auto& d : diagnostics) ADD_FAILURE() << d.format();
}

TEST_F(PrometheusStack, WebProviderReadsTheDemoAppsJson) {
  config::MetricSpec spec;
  spec.name = "lead-score";
  spec.provider = config::MetricSpec::Provider::Web;
  spec.web.url = "http://127.0.0.1:" + std::to_string(good_->port) + "/api/leads";
  spec.web.json_pointer = "/0/score";
  auto v = makeWebProvider()->measure(spec, context("v1"));
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_TRUE(v->value.has_value());
  EXPECT_GT(*v->value, 0.0);
  spec.web.json_pointer = "/0/name";
  auto text = makeWebProvider()->measure(spec, context("v1"));
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().message.find("not a number"), std::string::npos);
}

}  // namespace
}  // namespace runway::analysis
