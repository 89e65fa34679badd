// Integration tests of examples/demo-app: the real binary, started on 127.0.0.1 port 0.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/http.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

using namespace std::chrono_literals;
using Env = std::vector<std::pair<std::string, std::string>>;

constexpr auto kStartTimeout = 10s;
constexpr auto kExitTimeout = 15s;
constexpr int kCrashExitCode = 70;
constexpr int kUsageExitCode = 2;
const char* const kPromtool = "/usr/bin/promtool";
// The app's knobs: unset in every child, so the test runner's environment cannot leak in.
const std::vector<std::string> kKnobVariables = {
    "PORT",       "BIND",        "VERSION",     "SERVICE", "ERROR_RATE",      "LATENCY_MS",
    "FAIL_HEALTH", "CRASH_AFTER", "SEED",       "THREADS", "DRAIN_TIMEOUT_MS"};

// A running demo app and where to reach it.
struct DemoApp {
  Subprocess process;
  int port = 0;
  std::filesystem::path stderr_path;

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
  }
  // What the app wrote to stderr so far, for failure messages.
  std::string stderrText() const {
    auto text = readFile(stderr_path);
    return text ? *text : "(no stderr file)";
  }
};

// Starts runway-demo-app on port 0 with `env` (and `args`) and reads its port.
Result<DemoApp> startDemoApp(const TempDir& dir, Env env, std::vector<std::string> args = {}) {
  const auto binary = binaryPath("runway-demo-app");
  if (!std::filesystem::exists(binary)) {
    return fail(ErrorCode::NotFound, binary.string() + " is not built");
  }
  SubprocessOptions options;
  options.argv = {binary.string()};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.unset_env = kKnobVariables;
  options.env = {{"PORT", "0"}};
  options.env.insert(options.env.end(), env.begin(), env.end());
  static std::atomic<int> started{0};
  auto stderr_path = dir / ("demo-app-" + std::to_string(++started) + ".stderr");
  options.stderr_to = Output::file(stderr_path);
  auto process = Subprocess::start(std::move(options));
  if (!process) return fail(process.error());
  DemoApp app{std::move(*process), 0, std::move(stderr_path)};
  auto port = app.process.readListeningPort(deadlineIn(kStartTimeout));
  if (!port) {
    return fail(port.error().code, port.error().message + "\nstderr:\n" + app.stderrText());
  }
  app.port = *port;
  return app;
}

// The value of the sample whose name and labels are exactly `series`, e.g.
// `http_requests_total{method="GET",route="/",status="200"}`.
std::optional<double> sampleValue(const std::string& exposition, const std::string& series) {
  const std::string prefix = series + " ";
  std::size_t line_start = 0;
  while (line_start < exposition.size()) {
    auto line_end = exposition.find('\n', line_start);
    if (line_end == std::string::npos) line_end = exposition.size();
    const std::string_view line(exposition.data() + line_start, line_end - line_start);
    if (line.starts_with(prefix)) return std::stod(std::string(line.substr(prefix.size())));
    line_start = line_end + 1;
  }
  return std::nullopt;
}

std::string requestsSeries(std::string_view route, int status) {
  return "http_requests_total{method=\"GET\",route=\"" + std::string(route) + "\",status=\"" +
         std::to_string(status) + "\"}";
}

// Runs `promtool check metrics` with `exposition` on stdin; returns its exit status and output.
struct PromtoolVerdict {
  ExitStatus status;
  std::string output;
};
Result<PromtoolVerdict> promtoolCheck(const TempDir& dir, const std::string& exposition) {
  auto input = dir.write("metrics.txt", exposition);
  if (!input) return fail(input.error());
  SubprocessOptions options;
  options.argv = {kPromtool, "check", "metrics"};
  options.stdin_file = *input;
  options.stdout_to = Output::pipe();
  options.stderr_to = Output::pipe();
  auto process = Subprocess::start(std::move(options));
  if (!process) return fail(process.error());
  auto output = process->readToEnd(deadlineIn(30s));
  if (!output) return fail(output.error());
  auto status = process->waitExit(deadlineIn(30s));
  if (!status) return fail(status.error());
  return PromtoolVerdict{*status, output->out + output->err};
}

// Starts a request to /api/leads (slow under LATENCY_MS) and waits until the app is handling
// it: in flight = it plus the scrape that looks.
std::future<Result<HttpResponse>> startSlowRequest(const DemoApp& app) {
  auto slow = std::async(std::launch::async, [url = app.url("/api/leads")] {
    return httpGet(url, 20s);
  });
  // The gauge counts a request until its response exists, so once a client has read a response
  // (the start-up probe's, an earlier scrape's) it is no longer counted: past this scrape, the
  // count is the slow request. (It used to count until the write finished, and an answered probe
  // was once taken for the slow request, which then found the app already shut.)
  HttpClient scraper;
  const bool in_flight = pollUntil(
      [&] {
        auto metrics = scraper.get(app.url("/metrics"));
        return metrics && sampleValue(metrics->body, "http_requests_in_flight").value_or(0) >= 2;
      },
      deadlineIn(10s));
  EXPECT_TRUE(in_flight) << "the slow request never showed up as in flight";
  return slow;
}

class DemoAppTest : public ::testing::Test {
 protected:
  TempDir dir_{"demo-app-test"};
};

TEST_F(DemoAppTest, ErrorRateOverTwoThousandRequestsIsNearTheKnobAndMetricsAgree) {
  auto app = startDemoApp(dir_, {{"ERROR_RATE", "0.1"}});
  ASSERT_TRUE(app) << app.error().message;

  constexpr int kRequests = 2000;
  int ok = 0;
  int failed = 0;
  HttpClient client;  // one keep-alive connection, as a load balancer would use
  for (int i = 0; i < kRequests; ++i) {
    auto response = client.get(app->url("/api/leads"));
    ASSERT_TRUE(response) << response.error().message << "\n" << app->stderrText();
    if (response->status == 200) {
      ++ok;
    } else if (response->status == 500) {
      ++failed;
    } else {
      FAIL() << "unexpected status " << response->status << ": " << response->body;
    }
  }
  const double share = static_cast<double>(failed) / kRequests;
  EXPECT_GE(share, 0.07) << failed << " of " << kRequests << " answered 500";
  EXPECT_LE(share, 0.13) << failed << " of " << kRequests << " answered 500";

  auto metrics = httpGet(app->url("/metrics"));
  ASSERT_TRUE(metrics) << metrics.error().message;
  ASSERT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = metrics->body;
  EXPECT_EQ(sampleValue(text, requestsSeries("/api/leads", 200)), ok) << text;
  EXPECT_EQ(sampleValue(text, requestsSeries("/api/leads", 500)), failed) << text;
  EXPECT_EQ(sampleValue(text, "http_request_duration_seconds_count{route=\"/api/leads\"}"),
            kRequests)
      << text;
  EXPECT_EQ(
      sampleValue(text, "http_request_duration_seconds_bucket{route=\"/api/leads\",le=\"+Inf\"}"),
      kRequests)
      << text;
  EXPECT_TRUE(sampleValue(text, "http_request_duration_seconds_sum{route=\"/api/leads\"}"))
      << text;
  EXPECT_NE(text.find("# TYPE http_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE http_request_duration_seconds histogram"), std::string::npos);

  ASSERT_TRUE(std::filesystem::exists(kPromtool))
      << kPromtool << " is missing: run scripts/install-deps.sh (Debian package prometheus)";
  auto verdict = promtoolCheck(dir_, text);
  ASSERT_TRUE(verdict) << verdict.error().message;
  EXPECT_TRUE(verdict->status.exitedWith(0)) << verdict->status.describe() << "\n"
                                             << verdict->output << "\n" << text;
  EXPECT_EQ(verdict->output, "") << text;
}

TEST_F(DemoAppTest, PromtoolRejectsBrokenExpositionSoItsVerdictMeansSomething) {
  ASSERT_TRUE(std::filesystem::exists(kPromtool))
      << kPromtool << " is missing: run scripts/install-deps.sh (Debian package prometheus)";
  auto verdict = promtoolCheck(dir_, "# TYPE requests counter\nrequests{a=\"1\" 3\n");
  ASSERT_TRUE(verdict) << verdict.error().message;
  EXPECT_FALSE(verdict->status.exitedWith(0)) << verdict->output;
}

TEST_F(DemoAppTest, ServesConcurrentClientsAndCountsEveryRequest) {
  auto app = startDemoApp(dir_, {});
  ASSERT_TRUE(app) << app.error().message;
  constexpr int kClients = 4;
  constexpr int kPerClient = 500;
  std::atomic<int> ok{0};
  std::atomic<int> other{0};
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      HttpClient client;
      for (int i = 0; i < kPerClient; ++i) {
        auto response = client.get(app->url(i % 2 == 0 ? "/" : "/api/leads"));
        (response && response->status == 200 ? ok : other).fetch_add(1);
      }
    });
  }
  for (auto& client : clients) client.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("demo-app: %d requests from %d clients in %.3f s (%.0f req/s)\n",
              kClients * kPerClient, kClients, seconds, kClients * kPerClient / seconds);
  EXPECT_EQ(ok.load(), kClients * kPerClient);
  EXPECT_EQ(other.load(), 0);

  auto metrics = httpGet(app->url("/metrics"));
  ASSERT_TRUE(metrics) << metrics.error().message;
  EXPECT_EQ(sampleValue(metrics->body, requestsSeries("/", 200)), kClients * kPerClient / 2);
  EXPECT_EQ(sampleValue(metrics->body, requestsSeries("/api/leads", 200)),
            kClients * kPerClient / 2);
}

TEST_F(DemoAppTest, EndpointsAnswerJsonWithServiceAndVersion) {
  auto app = startDemoApp(dir_, {{"VERSION", "v2.3.4"}, {"SERVICE", "api"}});
  ASSERT_TRUE(app) << app.error().message;

  auto root = httpGet(app->url("/"));
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(root->status, 200);
  EXPECT_EQ(root->header("content-type"), "application/json");
  EXPECT_EQ(root->header("x-version"), "v2.3.4");
  EXPECT_NE(root->body.find(R"("service":"api")"), std::string::npos) << root->body;
  EXPECT_NE(root->body.find(R"("version":"v2.3.4")"), std::string::npos) << root->body;

  auto leads = httpGet(app->url("/api/leads?limit=3"));
  ASSERT_TRUE(leads) << leads.error().message;
  EXPECT_EQ(leads->status, 200);
  ASSERT_FALSE(leads->body.empty());
  EXPECT_EQ(leads->body.front(), '[') << leads->body;
  EXPECT_NE(leads->body.find(R"("product":"auto")"), std::string::npos) << leads->body;

  auto health = httpGet(app->url("/health"));
  ASSERT_TRUE(health) << health.error().message;
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "{\"status\":\"ok\"}\n");

  auto missing = httpGet(app->url("/no/such/path"));
  ASSERT_TRUE(missing) << missing.error().message;
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->header("content-type"), "application/json");
  EXPECT_NE(missing->body.find(R"("error":"not found")"), std::string::npos) << missing->body;

  auto post = httpRequest(app->url("/api/leads"), "POST", "{}");
  ASSERT_TRUE(post) << post.error().message;
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->header("allow"), "GET");

  auto metrics = httpGet(app->url("/metrics"));
  ASSERT_TRUE(metrics) << metrics.error().message;
  EXPECT_EQ(sampleValue(metrics->body, requestsSeries("unmatched", 404)), 1) << metrics->body;
  EXPECT_EQ(sampleValue(metrics->body,
                        "http_requests_total{method=\"POST\",route=\"/api/leads\",status=\"405\"}"),
            1)
      << metrics->body;
  EXPECT_EQ(sampleValue(metrics->body, R"(demo_app_build_info{service="api",version="v2.3.4"})"),
            1)
      << metrics->body;
}

TEST_F(DemoAppTest, QuotesAndBackslashesInNamesAreEscapedInJsonAndMetrics) {
  auto app = startDemoApp(dir_, {{"SERVICE", R"(lead "gen" \ api)"}, {"VERSION", "v1+build.7"}});
  ASSERT_TRUE(app) << app.error().message;
  auto root = httpGet(app->url("/"));
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_NE(root->body.find(R"("service":"lead \"gen\" \\ api")"), std::string::npos)
      << root->body;
  auto metrics = httpGet(app->url("/metrics"));
  ASSERT_TRUE(metrics) << metrics.error().message;
  const std::string series =
      R"(demo_app_build_info{service="lead \"gen\" \\ api",version="v1+build.7"})";
  EXPECT_EQ(sampleValue(metrics->body, series), 1)
      << metrics->body;
  ASSERT_TRUE(std::filesystem::exists(kPromtool))
      << kPromtool << " is missing: run scripts/install-deps.sh (Debian package prometheus)";
  auto verdict = promtoolCheck(dir_, metrics->body);
  ASSERT_TRUE(verdict) << verdict.error().message;
  EXPECT_TRUE(verdict->status.exitedWith(0)) << verdict->output << "\n" << metrics->body;
}

TEST_F(DemoAppTest, RejectsMalformedAndOversizedRequestsAndServesPipelinedOnes) {
  auto app = startDemoApp(dir_, {{"VERSION", "v7"}});
  ASSERT_TRUE(app) << app.error().message;

  auto malformed = exchangeRaw(app->port, "BAD REQUEST LINE\r\n\r\n", deadlineIn(10s));
  ASSERT_TRUE(malformed) << malformed.error().message;
  EXPECT_TRUE(malformed->starts_with("HTTP/1.1 400 ")) << *malformed;
  EXPECT_NE(malformed->find("X-Version: v7\r\n"), std::string::npos) << *malformed;

  auto pipelined = exchangeRaw(app->port,
                               "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
                               "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                               deadlineIn(10s));
  ASSERT_TRUE(pipelined) << pipelined.error().message;
  const auto second = pipelined->find("HTTP/1.1 200 OK", 1);
  EXPECT_TRUE(pipelined->starts_with("HTTP/1.1 200 OK")) << *pipelined;
  ASSERT_NE(second, std::string::npos) << *pipelined;
  EXPECT_TRUE(pipelined->ends_with("{\"status\":\"ok\"}\n")) << *pipelined;

  // Oversized requests get their answer even though the server stops reading them midway.
  for (int i = 0; i < 5; ++i) {
    auto big_body = httpRequest(app->url("/api/leads"), "POST", std::string(100 * 1024, 'x'));
    ASSERT_TRUE(big_body) << big_body.error().message;
    EXPECT_EQ(big_body->status, 413);
    auto big_header =
        httpRequest(app->url("/"), "GET", "", {{"X-Padding", std::string(20 * 1024, 'x')}});
    ASSERT_TRUE(big_header) << big_header.error().message;
    EXPECT_EQ(big_header->status, 431);
  }
  // The server is still fine.
  auto health = httpGet(app->url("/health"));
  ASSERT_TRUE(health) << health.error().message;
  EXPECT_EQ(health->status, 200);
}

TEST_F(DemoAppTest, FailHealthAnswers503) {
  auto app = startDemoApp(dir_, {{"FAIL_HEALTH", "1"}});
  ASSERT_TRUE(app) << app.error().message;
  auto health = httpGet(app->url("/health"));
  ASSERT_TRUE(health) << health.error().message;
  EXPECT_EQ(health->status, 503);
  auto root = httpGet(app->url("/"));
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(root->status, 200);
}

TEST_F(DemoAppTest, FaultsNeverTouchHealthAndMetrics) {
  // Every / fails and takes ~5 s; /health and /metrics must answer at once and succeed.
  auto app = startDemoApp(dir_, {{"ERROR_RATE", "1"}, {"LATENCY_MS", "5000"}});
  ASSERT_TRUE(app) << app.error().message;
  for (int i = 0; i < 20; ++i) {
    auto health = httpGet(app->url("/health"), 2s);
    ASSERT_TRUE(health) << health.error().message;
    EXPECT_EQ(health->status, 200);
    auto metrics = httpGet(app->url("/metrics"), 2s);
    ASSERT_TRUE(metrics) << metrics.error().message;
    EXPECT_EQ(metrics->status, 200);
  }
}

TEST_F(DemoAppTest, ErrorRateOneFailsEveryApplicationRequest) {
  auto app = startDemoApp(dir_, {{"ERROR_RATE", "1"}});
  ASSERT_TRUE(app) << app.error().message;
  for (const char* path : {"/", "/api/leads"}) {
    auto response = httpGet(app->url(path));
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 500) << path;
  }
}

TEST_F(DemoAppTest, FlagsWinOverEnvironment) {
  auto app = startDemoApp(dir_, {{"ERROR_RATE", "1"}, {"VERSION", "from-env"}},
                          {"--error-rate", "0", "--version-label=from-flag"});
  ASSERT_TRUE(app) << app.error().message;
  auto root = httpGet(app->url("/"));
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(root->status, 200);
  EXPECT_EQ(root->header("x-version"), "from-flag");
}

TEST_F(DemoAppTest, LatencyKnobDelaysApplicationRequests) {
  auto app = startDemoApp(dir_, {{"LATENCY_MS", "50"}});
  ASSERT_TRUE(app) << app.error().message;
  HttpClient client;
  for (int i = 0; i < 5; ++i) {
    const auto started = std::chrono::steady_clock::now();
    auto response = client.get(app->url("/api/leads"));
    const auto elapsed = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    // 50 ms with ±20% jitter is at least 40 ms.
    EXPECT_GE(elapsed, 40ms) << std::chrono::duration<double, std::milli>(elapsed).count()
                             << " ms";
  }
  auto metrics = httpGet(app->url("/metrics"));
  ASSERT_TRUE(metrics) << metrics.error().message;
  EXPECT_EQ(sampleValue(metrics->body,
                        "http_request_duration_seconds_bucket{route=\"/api/leads\",le=\"0.025\"}"),
            0)
      << metrics->body;
}

TEST_F(DemoAppTest, CrashAfterExitsWithSeventyAfterThatManyRequests) {
  auto app = startDemoApp(dir_, {{"CRASH_AFTER", "5"}});
  ASSERT_TRUE(app) << app.error().message;
  for (int i = 0; i < 4; ++i) {
    auto response = httpGet(app->url("/"));
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_FALSE(app->process.tryWait()) << "exited after " << i + 1 << " requests";
  }
  auto fifth = httpGet(app->url("/"));
  ASSERT_TRUE(fifth) << fifth.error().message;
  EXPECT_EQ(fifth->status, 200);
  auto status = app->process.waitExit(deadlineIn(kExitTimeout));
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_TRUE(status->exitedWith(kCrashExitCode)) << status->describe();
  EXPECT_NE(app->stderrText().find("CRASH_AFTER"), std::string::npos) << app->stderrText();
  auto after = httpGet(app->url("/"), 2s);
  EXPECT_FALSE(after) << "still answering after the crash";
}

TEST_F(DemoAppTest, SigtermLetsTheInFlightRequestFinishThenExitsZero) {
  auto app = startDemoApp(dir_, {{"LATENCY_MS", "500"}});
  ASSERT_TRUE(app) << app.error().message;

  // An idle keep-alive connection must not hold up the shutdown.
  HttpClient idle;
  auto warmup = idle.get(app->url("/health"));
  ASSERT_TRUE(warmup) << warmup.error().message;

  auto slow = startSlowRequest(*app);
  ASSERT_FALSE(HasFailure());

  ASSERT_TRUE(app->process.signal(SIGTERM));
  // It stops accepting: a new connection is refused while the slow request still runs.
  const bool refused = pollUntil([&] { return !httpGet(app->url("/health"), 1s); },
                                 deadlineIn(10s));
  EXPECT_TRUE(refused) << "still accepting connections after SIGTERM";

  auto response = slow.get();
  ASSERT_TRUE(response) << response.error().message << "\n" << app->stderrText();
  EXPECT_EQ(response->status, 200) << response->body;

  auto status = app->process.waitExit(deadlineIn(kExitTimeout));
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_TRUE(status->exitedWith(0)) << status->describe() << "\n" << app->stderrText();
}

TEST_F(DemoAppTest, DrainIsBoundedByTheDrainTimeout) {
  auto app = startDemoApp(dir_, {{"LATENCY_MS", "8000"}, {"DRAIN_TIMEOUT_MS", "200"}});
  ASSERT_TRUE(app) << app.error().message;
  auto slow = startSlowRequest(*app);
  ASSERT_FALSE(HasFailure());
  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_TRUE(app->process.signal(SIGTERM));
  auto status = app->process.waitExit(deadlineIn(kExitTimeout));
  ASSERT_TRUE(status) << status.error().message;
  // Gone long before the request's 6.4 s minimum: the drain gave up after its bound.
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 6s);
  EXPECT_TRUE(status->exitedWith(0)) << status->describe();
  EXPECT_NE(app->stderrText().find("drain timeout"), std::string::npos) << app->stderrText();
  auto response = slow.get();
  EXPECT_FALSE(response) << "the abandoned request was answered " << response->status;
}

TEST_F(DemoAppTest, SecondSignalStopsWithoutWaitingForInFlightRequests) {
  auto app = startDemoApp(dir_, {{"LATENCY_MS", "8000"}});
  ASSERT_TRUE(app) << app.error().message;
  auto slow = startSlowRequest(*app);
  ASSERT_FALSE(HasFailure());
  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_TRUE(app->process.signal(SIGTERM));
  ASSERT_TRUE(pollUntil([&] { return app->stderrText().find("draining") != std::string::npos; },
                        deadlineIn(10s)))
      << app->stderrText();
  ASSERT_TRUE(app->process.signal(SIGINT));
  auto status = app->process.waitExit(deadlineIn(kExitTimeout));
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 6s);
  EXPECT_TRUE(status->exitedWith(0)) << status->describe();
  EXPECT_NE(app->stderrText().find("second signal"), std::string::npos) << app->stderrText();
  EXPECT_FALSE(slow.get());
}

TEST_F(DemoAppTest, SigintWhenIdleExitsZeroPromptly) {
  auto app = startDemoApp(dir_, {});
  ASSERT_TRUE(app) << app.error().message;
  HttpClient idle;
  ASSERT_TRUE(idle.get(app->url("/health")));
  ASSERT_TRUE(app->process.signal(SIGINT));
  // Far below the 10 s drain bound: nothing is in flight, the idle connection is closed.
  auto status = app->process.waitExit(deadlineIn(5s));
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_TRUE(status->exitedWith(0)) << status->describe();
}

TEST_F(DemoAppTest, PortInUseExitsOneWithMessage) {
  auto first = startDemoApp(dir_, {});
  ASSERT_TRUE(first) << first.error().message;
  auto second = startDemoApp(dir_, {{"PORT", std::to_string(first->port)}});
  ASSERT_FALSE(second) << "two servers bound port " << first->port;
  EXPECT_EQ(second.error().code, ErrorCode::Unavailable) << second.error().message;
  EXPECT_NE(second.error().message.find("cannot bind"), std::string::npos)
      << second.error().message;
}

struct InvalidKnob {
  const char* name;
  Env env;
  std::vector<std::string> args;
  const char* message;  // expected on stderr
};

class DemoAppInvalidKnobTest : public ::testing::TestWithParam<InvalidKnob> {};

TEST_P(DemoAppInvalidKnobTest, ExitsTwoWithAMessage) {
  const InvalidKnob& knob = GetParam();
  SubprocessOptions options;
  options.argv = {binaryPath("runway-demo-app").string()};
  options.argv.insert(options.argv.end(), knob.args.begin(), knob.args.end());
  options.unset_env = kKnobVariables;
  // Valid knobs beside the bad one must not mask it; PORT=0 first so a knob that is wrongly
  // accepted cannot collide with a real port.
  options.env = {{"PORT", "0"}, {"THREADS", "1"}};
  options.env.insert(options.env.end(), knob.env.begin(), knob.env.end());
  options.stdout_to = Output::pipe();
  options.stderr_to = Output::pipe();
  auto process = Subprocess::start(std::move(options));
  ASSERT_TRUE(process) << process.error().message;
  auto output = process->readToEnd(deadlineIn(kExitTimeout));
  ASSERT_TRUE(output) << output.error().message;
  auto status = process->waitExit(deadlineIn(kExitTimeout));
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_TRUE(status->exitedWith(kUsageExitCode)) << status->describe();
  EXPECT_EQ(output->out, "");
  EXPECT_NE(output->err.find(knob.message), std::string::npos) << output->err;
}

INSTANTIATE_TEST_SUITE_P(
    Knobs, DemoAppInvalidKnobTest,
    ::testing::Values(
        InvalidKnob{"ErrorRateAboveOne", {{"ERROR_RATE", "2"}}, {},
                    "invalid ERROR_RATE=2: must be a number from 0 to 1"},
        InvalidKnob{"ErrorRateNotANumber", {{"ERROR_RATE", "ten"}}, {},
                    "invalid ERROR_RATE=ten: must be a number from 0 to 1"},
        InvalidKnob{"NegativeLatency", {{"LATENCY_MS", "-1"}}, {},
                    "invalid LATENCY_MS=-1: must be an integer from 0 to 600000"},
        InvalidKnob{"PortNotANumber", {{"PORT", "abc"}}, {},
                    "invalid PORT=abc: must be an integer from 0 to 65535"},
        InvalidKnob{"PortTooLarge", {{"PORT", "70000"}}, {},
                    "invalid PORT=70000: must be an integer from 0 to 65535"},
        InvalidKnob{"FailHealthNotABoolean", {{"FAIL_HEALTH", "maybe"}}, {},
                    "invalid FAIL_HEALTH=maybe: must be 1/0"},
        InvalidKnob{"CrashAfterNegative", {{"CRASH_AFTER", "-3"}}, {},
                    "invalid CRASH_AFTER=-3: must be a non-negative integer"},
        InvalidKnob{"ControlCharacterInVersion", {{"VERSION", "v1\nX-Evil: 1"}}, {},
                    "must not contain control characters"},
        InvalidKnob{"EmptyServiceFlag", {}, {"--service="},
                    "invalid --service : must not be empty"},
        InvalidKnob{"BadBindAddress", {{"BIND", "localhost:80"}}, {},
                    "invalid BIND=localhost:80: must be an IPv4 or IPv6 address"},
        InvalidKnob{"FlagErrorRate", {}, {"--error-rate", "1.5"},
                    "invalid --error-rate 1.5: must be a number from 0 to 1"},
        InvalidKnob{"FlagWithoutValue", {}, {"--latency-ms"}, "--latency-ms needs a value"},
        InvalidKnob{"UnknownFlag", {}, {"--colour"}, "unknown argument '--colour'"}),
    [](const ::testing::TestParamInfo<InvalidKnob>& param_info) {
      return param_info.param.name;
    });

}  // namespace
}  // namespace runway::test
