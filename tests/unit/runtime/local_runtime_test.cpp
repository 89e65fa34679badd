#include "runway/runtime/local_runtime.hpp"

#include <signal.h>

#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "fakes.hpp"
#include "support/temp_dir.hpp"

namespace runway::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::FakeLauncher;
using testing::FakeProber;
using testing::FakeTraffic;
using testing::Journal;

class LocalRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto app = dir_.write("bin/app", "#!/bin/sh\nexit 0\n");
    ASSERT_TRUE(app);
    fs::permissions(*app, fs::perms::owner_all);
    env_.name = "staging";
    env_.runtime.local.ports["api"] = 8080;
    service_.name = "api";
    service_.local = config::LocalRun{};
    service_.local->command = {"app", "--port", "${PORT}", "--version", "${VERSION}"};
    service_.local->working_dir = dir_.path().string();
    service_.env = {{"GREETING", "hi from ${SERVICE} in ${ENVIRONMENT}"}};
    service_.health.path = "/health";
    service_.health.initial_delay = 1s;
    service_.health.period = 1s;
    service_.health.timeout = 500ms;
    service_.health.failure_threshold = 3;
    open();
  }

  void open() {
    LocalRuntimeOptions o;
    o.data_dir = dir_.path();
    o.clock = clock_;
    o.launcher = launcher_;
    o.prober = prober_;
    o.traffic = traffic_;
    o.port_allocator = [this]() -> Result<int> { return next_port_++; };
    o.extra_path = {dir_ / "bin"};
    o.restart.initial_backoff = 500ms;
    o.restart.max_backoff = 30s;
    o.restart.max_restarts = 3;
    o.restart.window = 5min;
    o.kill_timeout = 10s;
    o.scale_down_grace = 30s;
    o.supervisor_thread = false;
    auto rt = LocalRuntime::open(std::move(o));
    ASSERT_TRUE(rt) << rt.error().message;
    runtime_ = std::move(*rt);
    runtime_->setEventHandler([this](const RuntimeEvent& e) { events_.push_back(e); });
  }

  std::vector<InstanceInfo> list(std::string_view version = {}) {
    auto all = runtime_->instances("staging", "api");
    EXPECT_TRUE(all);
    std::vector<InstanceInfo> out;
    for (auto& i : *all) {
      if (version.empty() || i.version == version) out.push_back(i);
    }
    return out;
  }

  int countEvents(RuntimeEvent::Kind kind) const {
    return static_cast<int>(std::count_if(events_.begin(), events_.end(),
                                          [&](const RuntimeEvent& e) { return e.kind == kind; }));
  }

  // Probes due now, answered, and applied.
  void probeAll(bool ok) {
    runtime_->tick();
    prober_->answer(ok);
    runtime_->tick();
  }

  // Starts `version` with n instances and makes them all Ready.
  void startReady(const std::string& version, int n) {
    ASSERT_TRUE(runtime_->startVersion(env_, service_, version, n));
    clock_->advance(1s);
    probeAll(true);
    for (const auto& i : list(version)) ASSERT_EQ(i.state, InstanceState::Ready);
  }

  std::size_t journalIndex(const std::string& entry) const {
    auto it = std::find(journal_->begin(), journal_->end(), entry);
    EXPECT_NE(it, journal_->end()) << "journal has no '" << entry << "'";
    return static_cast<std::size_t>(it - journal_->begin());
  }

  test::TempDir dir_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::shared_ptr<Journal> journal_ = std::make_shared<Journal>();
  std::shared_ptr<FakeLauncher> launcher_ = std::make_shared<FakeLauncher>(journal_);
  std::shared_ptr<FakeProber> prober_ = std::make_shared<FakeProber>();
  std::shared_ptr<FakeTraffic> traffic_ = std::make_shared<FakeTraffic>(journal_);
  int next_port_ = 20000;
  config::Environment env_;
  config::Service service_;
  std::unique_ptr<LocalRuntime> runtime_;
  std::vector<RuntimeEvent> events_;
};

// --- start, substitution, idempotence ---------------------------------------------------------

// Lead 9: the deploy request's artifacts reach the process: ${ARTIFACT} in the command and env,
// RUNWAY_ARTIFACT and RUNWAY_ARTIFACT_<SERVICE> for every service of the release; they survive
// a restart of the runtime with the version record.
TEST_F(LocalRuntimeTest, ArtifactsReachTheCommandAndTheEnvironment) {
  service_.local->command = {"app", "--bundle", "${ARTIFACT}"};
  service_.env = {{"BUNDLE", "/srv/${ARTIFACT}"}};
  const std::map<std::string, std::string> artifacts{{"api", "api-build-77.tar"},
                                                     {"data-service", "ds-3.tar"}};
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 1, artifacts));
  ASSERT_EQ(launcher_->processes.size(), 1u);
  const auto& spec = launcher_->processes.begin()->second.spec;
  EXPECT_EQ(spec.argv, (std::vector<std::string>{(dir_ / "bin/app").string(), "--bundle",
                                                 "api-build-77.tar"}));
  auto has = [&](const std::string& entry) {
    return std::find(spec.env.begin(), spec.env.end(), entry) != spec.env.end();
  };
  EXPECT_TRUE(has("BUNDLE=/srv/api-build-77.tar"));
  EXPECT_TRUE(has("RUNWAY_ARTIFACT=api-build-77.tar"));
  EXPECT_TRUE(has("RUNWAY_ARTIFACT_API=api-build-77.tar"));
  EXPECT_TRUE(has("RUNWAY_ARTIFACT_DATA_SERVICE=ds-3.tar"));

  // Without artifacts the version is the artifact.
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v2", 1));
  bool found = false;
  for (const auto& [pid, p] : launcher_->processes) {
    if (p.spec.argv.size() == 3 && p.spec.argv[2] == "v2") found = true;
  }
  EXPECT_TRUE(found);
}

TEST_F(LocalRuntimeTest, StartsInstancesWithSubstitutedCommandAndEnvironment) {
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 2));
  ASSERT_EQ(launcher_->processes.size(), 2u);
  const auto& spec = launcher_->processes.at(1000).spec;
  EXPECT_EQ(spec.argv, (std::vector<std::string>{(dir_ / "bin/app").string(), "--port", "20000",
                                                 "--version", "v1"}));
  auto has = [&](const std::string& entry) {
    return std::find(spec.env.begin(), spec.env.end(), entry) != spec.env.end();
  };
  EXPECT_TRUE(has("PORT=20000"));
  EXPECT_TRUE(has("GREETING=hi from api in staging"));
  EXPECT_TRUE(has("RUNWAY_VERSION=v1"));
  const auto path = std::find_if(spec.env.begin(), spec.env.end(),
                                 [](const std::string& e) { return e.starts_with("PATH="); });
  ASSERT_NE(path, spec.env.end());
  EXPECT_TRUE(path->starts_with("PATH=" + (dir_ / "bin").string() + ":")) << *path;
  EXPECT_EQ(spec.working_dir, dir_.path().string());
  EXPECT_EQ(spec.log_path, (dir_ / "logs/staging/api/v1-0.log").string());
  EXPECT_EQ(launcher_->processes.at(1001).spec.argv[2], "20001");

  const auto instances = list();
  ASSERT_EQ(instances.size(), 2u);
  EXPECT_EQ(instances[0].state, InstanceState::Starting);
  EXPECT_EQ(instances[0].pid, 1000);
  EXPECT_EQ(instances[0].port, 20000);
  EXPECT_EQ(instances[1].index, 1);
  EXPECT_TRUE(fs::exists(dir_ / "run/staging/api/v1-0.pid"));
  EXPECT_TRUE(fs::exists(dir_ / "run/staging/api/v1.version.json"));
}

TEST_F(LocalRuntimeTest, StartIsIdempotentAndScales) {
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 3));
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 3));
  runtime_->tick();
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 3));
  EXPECT_EQ(launcher_->processes.size(), 3u);
  EXPECT_EQ(list().size(), 3u);

  ASSERT_TRUE(runtime_->scale("staging", "api", "v1", 5));
  ASSERT_TRUE(runtime_->scale("staging", "api", "v1", 5));
  EXPECT_EQ(launcher_->processes.size(), 5u);

  ASSERT_TRUE(runtime_->scale("staging", "api", "v1", 2));
  runtime_->tick();  // not routed: SIGTERM right away
  runtime_->tick();  // exited: gone
  const auto left = list();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].index, 0);
  EXPECT_EQ(left[1].index, 1);
  EXPECT_EQ(launcher_->runningPids().size(), 2u);
  auto status = runtime_->versionStatus("staging", "api", "v1");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->desired, 2);
}

TEST_F(LocalRuntimeTest, StartRejectsWhatCannotRun) {
  auto bad_version = runtime_->startVersion(env_, service_, "../v1", 1);
  ASSERT_FALSE(bad_version);
  EXPECT_EQ(bad_version.error().code, ErrorCode::InvalidArgument);

  auto too_many = runtime_->startVersion(env_, service_, "v1", 1001);
  ASSERT_FALSE(too_many);
  EXPECT_NE(too_many.error().message.find("0..1000"), std::string::npos);

  auto missing = service_;
  missing.local->command[0] = "no-such-program-xyz";
  auto not_found = runtime_->startVersion(env_, missing, "v1", 1);
  ASSERT_FALSE(not_found);
  EXPECT_EQ(not_found.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(not_found.error().message.find("no-such-program-xyz"), std::string::npos);

  auto typo = service_;
  typo.local->command[2] = "${PROT}";
  auto unknown = runtime_->startVersion(env_, typo, "v1", 1);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("did you mean ${PORT}"), std::string::npos);

  auto no_local = service_;
  no_local.local.reset();
  EXPECT_FALSE(runtime_->startVersion(env_, no_local, "v1", 1));

  auto k8s = env_;
  k8s.runtime.kind = config::RuntimeSpec::Kind::Kubernetes;
  auto wrong_runtime = runtime_->startVersion(k8s, service_, "v1", 1);
  ASSERT_FALSE(wrong_runtime);
  EXPECT_NE(wrong_runtime.error().message.find("local runtime"), std::string::npos);

  EXPECT_TRUE(launcher_->processes.empty());
  EXPECT_TRUE(list().empty());
  EXPECT_EQ(runtime_->scale("staging", "api", "v1", 1).error().code, ErrorCode::NotFound);
}

// --- readiness ---------------------------------------------------------------------------------

TEST_F(LocalRuntimeTest, ReadinessFollowsProbesAndTheFailureThreshold) {
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 1));
  runtime_->tick();
  EXPECT_EQ(prober_->pendingCount(), 0u) << "probed before the initial delay";
  clock_->advance(999ms);
  runtime_->tick();
  EXPECT_EQ(prober_->pendingCount(), 0u);
  clock_->advance(1ms);
  runtime_->tick();
  ASSERT_EQ(prober_->pendingCount(), 1u);
  const auto request = prober_->pendingRequests().front();
  EXPECT_EQ(request.port, 20000);
  EXPECT_EQ(request.path, "/health");
  EXPECT_EQ(request.timeout, 500ms);
  EXPECT_TRUE(traffic_->endpoints("api").empty()) << "routed before ready";

  prober_->answer(true);
  runtime_->tick();
  EXPECT_EQ(list()[0].state, InstanceState::Ready);
  EXPECT_EQ(countEvents(RuntimeEvent::Kind::InstanceReady), 1);
  EXPECT_EQ(countEvents(RuntimeEvent::Kind::VersionReady), 1);
  ASSERT_EQ(traffic_->endpoints("api").size(), 1u);
  EXPECT_EQ(traffic_->endpoints("api")[0].port, 20000);

  // Two failures are tolerated, the third takes it out of the router.
  for (int i = 0; i < 2; ++i) {
    clock_->advance(1s);
    probeAll(false);
    EXPECT_EQ(list()[0].state, InstanceState::Ready) << "after failure " << i + 1;
  }
  clock_->advance(1s);
  probeAll(false);
  EXPECT_EQ(list()[0].state, InstanceState::Unhealthy);
  EXPECT_TRUE(traffic_->endpoints("api").empty());
  EXPECT_EQ(countEvents(RuntimeEvent::Kind::InstanceUnhealthy), 1);
  EXPECT_EQ(runtime_->versionStatus("staging", "api", "v1")->state, VersionState::Progressing);

  clock_->advance(1s);
  probeAll(true);
  EXPECT_EQ(list()[0].state, InstanceState::Ready);
  EXPECT_EQ(traffic_->endpoints("api").size(), 1u);
  EXPECT_EQ(countEvents(RuntimeEvent::Kind::VersionReady), 2);
}

TEST_F(LocalRuntimeTest, ANeverHealthyInstanceStaysStartingAndUnrouted) {
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 1));
  for (int i = 0; i < 10; ++i) {
    clock_->advance(1s);
    probeAll(false);
  }
  EXPECT_EQ(list()[0].state, InstanceState::Starting);
  EXPECT_TRUE(traffic_->endpoints("api").empty());
  EXPECT_EQ(countEvents(RuntimeEvent::Kind::InstanceReady), 0);
  EXPECT_EQ(runtime_->versionStatus("staging", "api", "v1")->ready, 0);
}

TEST_F(LocalRuntimeTest, OneProbeAtATimeAndStaleResultsAreIgnored) {
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 1));
  clock_->advance(1s);
  runtime_->tick();
  clock_->advance(5s);
  runtime_->tick();
  EXPECT_EQ(prober_->pendingCount(), 1u) << "a second probe while one is in flight";
  // The process dies with its probe outstanding; the late answer must not make the new
  // process Ready.
  launcher_->crash(1000);
  runtime_->tick();
  prober_->answer(true);
  clock_->advance(500ms);
  runtime_->tick();
  runtime_->tick();
  const auto now = list();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].pid, 1001);
  EXPECT_EQ(now[0].state, InstanceState::Starting);
}

// --- restarts ----------------------------------------------------------------------------------

TEST_F(LocalRuntimeTest, CrashRestartsWithExponentialBackoffThenFails) {
  startReady("v1", 1);
  int pid = list()[0].pid;
  const std::vector<Duration> expected{500ms, 1000ms, 2000ms};
  for (std::size_t round = 0; round < expected.size(); ++round) {
    launcher_->crash(pid, "killed by signal 9");
    runtime_->tick();
    auto now = list()[0];
    EXPECT_EQ(now.state, InstanceState::Restarting);
    EXPECT_EQ(now.pid, 0);
    EXPECT_EQ(now.last_exit, "killed by signal 9");
    EXPECT_TRUE(launcher_->processes.at(pid).released) << "exited process not reaped";
    EXPECT_TRUE(traffic_->endpoints("api").empty()) << "crashed instance still routed";

    clock_->advance(expected[round] - 1ms);
    runtime_->tick();
    EXPECT_EQ(list()[0].state, InstanceState::Restarting) << "restarted early, round " << round;
    clock_->advance(1ms);
    runtime_->tick();
    now = list()[0];
    EXPECT_EQ(now.state, InstanceState::Starting) << "round " << round;
    EXPECT_NE(now.pid, pid);
    EXPECT_EQ(now.restarts, static_cast<int>(round) + 1);
    pid = now.pid;
  }
  EXPECT_EQ(countEvents(RuntimeEvent::Kind::InstanceExited), 3);

  // The fourth crash within the window is one too many.
  launcher_->crash(pid);
  runtime_->tick();
  EXPECT_EQ(list()[0].state, InstanceState::Failed);
  EXPECT_EQ(countEvents(RuntimeEvent::Kind::InstanceFailed), 1);
  EXPECT_EQ(countEvents(RuntimeEvent::Kind::VersionFailed), 1);
  EXPECT_EQ(runtime_->versionStatus("staging", "api", "v1")->state, VersionState::Failed);
  const auto launches = launcher_->processes.size();
  clock_->advance(10min);
  runtime_->tick();
  EXPECT_EQ(launcher_->processes.size(), launches) << "a Failed instance was restarted";
}

TEST_F(LocalRuntimeTest, BackoffResetsOutsideTheRestartWindow) {
  startReady("v1", 1);
  for (int round = 0; round < 6; ++round) {
    launcher_->crash(list()[0].pid);
    runtime_->tick();
    clock_->advance(500ms);
    runtime_->tick();
    ASSERT_EQ(list()[0].state, InstanceState::Starting) << "round " << round;
    clock_->advance(6min);  // each crash is alone in its window
  }
  EXPECT_EQ(list()[0].restarts, 6);
}

TEST_F(LocalRuntimeTest, LaunchFailureOnRestartCountsAsACrash) {
  startReady("v1", 1);
  launcher_->fail_launch = true;
  launcher_->crash(list()[0].pid);
  for (int i = 0; i < 20; ++i) {
    runtime_->tick();
    clock_->advance(5s);
  }
  EXPECT_EQ(list()[0].state, InstanceState::Failed);
  EXPECT_NE(list()[0].last_exit.find("test says no"), std::string::npos);
}

// --- traffic -----------------------------------------------------------------------------------

TEST_F(LocalRuntimeTest, SetTrafficValidatesAndPushes) {
  startReady("v1", 1);
  startReady("v2", 1);
  TrafficSplit split;
  split.weights = {{"v1", 900}, {"v2", 100}};
  split.routes = {TrafficRoute{"x-canary", "", TrafficRoute::Match::Exact, "1", "v2"}};
  ASSERT_TRUE(runtime_->setTraffic("staging", "api", split));
  ASSERT_FALSE(traffic_->tables.empty());
  const auto& last = traffic_->tables.back();
  ASSERT_EQ(last.services.size(), 1u);
  EXPECT_EQ(last.services[0].split, split);
  EXPECT_EQ(last.services[0].listen_port, 8080);
  EXPECT_EQ(last.services[0].endpoints.size(), 2u);
  EXPECT_EQ(runtime_->traffic("staging", "api").value(), split);
  const auto pushes = traffic_->tables.size();
  ASSERT_TRUE(runtime_->setTraffic("staging", "api", split));
  runtime_->tick();
  EXPECT_EQ(traffic_->tables.size(), pushes) << "an unchanged table was pushed again";

  TrafficSplit bad_sum;
  bad_sum.weights = {{"v1", 900}, {"v2", 50}};
  auto sum = runtime_->setTraffic("staging", "api", bad_sum);
  ASSERT_FALSE(sum);
  EXPECT_EQ(sum.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(sum.error().message.find("950"), std::string::npos);

  TrafficSplit unknown;
  unknown.weights = {{"v1", 500}, {"v3", 500}};
  auto missing = runtime_->setTraffic("staging", "api", unknown);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_NE(missing.error().message.find("did you mean"), std::string::npos);

  TrafficSplit both;
  both.weights = {{"v1", 1000}};
  both.routes = {TrafficRoute{"x-a", "b", TrafficRoute::Match::Exact, "1", "v2"}};
  EXPECT_EQ(runtime_->setTraffic("staging", "api", both).error().code,
            ErrorCode::InvalidArgument);
  TrafficSplit regex;
  regex.weights = {{"v1", 1000}};
  regex.routes = {TrafficRoute{"x-a", "", TrafficRoute::Match::Regex, "([", "v2"}};
  EXPECT_EQ(runtime_->setTraffic("staging", "api", regex).error().code,
            ErrorCode::InvalidArgument);
  TrafficSplit negative;
  negative.weights = {{"v1", 1001}, {"v2", -1}};
  EXPECT_EQ(runtime_->setTraffic("staging", "api", negative).error().code,
            ErrorCode::InvalidArgument);
  EXPECT_EQ(runtime_->setTraffic("staging", "web", split).error().code, ErrorCode::NotFound);
  EXPECT_EQ(runtime_->traffic("staging", "api").value(), split) << "a rejected split was kept";
}

TEST_F(LocalRuntimeTest, RouterDownIsReportedAndTheTableIsPushedLater) {
  startReady("v1", 1);
  traffic_->unavailable = true;
  TrafficSplit split;
  split.weights = {{"v1", 1000}};
  auto set = runtime_->setTraffic("staging", "api", split);
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(runtime_->traffic("staging", "api").value(), split) << "the intent is kept";
  traffic_->unavailable = false;
  runtime_->tick();
  EXPECT_EQ(traffic_->tables.back().services[0].split, split);
}

TEST_F(LocalRuntimeTest, StatisticsComeFromTheDataPlane) {
  startReady("v1", 1);
  VersionStatistics s;
  s.version = "v1";
  s.requests = 10;
  s.responses_5xx = 1;
  traffic_->stats = {s};
  auto stats = runtime_->statistics("staging", "api", 1min);
  ASSERT_TRUE(stats);
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_EQ((*stats)[0].requests, 10u);
  EXPECT_EQ(runtime_->statistics("staging", "web", 1min).error().code, ErrorCode::NotFound);
  traffic_->unavailable = true;
  EXPECT_EQ(runtime_->statistics("staging", "api", 1min).error().code, ErrorCode::Unavailable);
}

// --- graceful stop -----------------------------------------------------------------------------

TEST_F(LocalRuntimeTest, RetireStopsInOrderRouterDrainTermKill) {
  startReady("v1", 1);
  startReady("v2", 1);
  TrafficSplit split;
  split.weights = {{"v2", 1000}};
  ASSERT_TRUE(runtime_->setTraffic("staging", "api", split));
  const int pid = list("v1")[0].pid;
  const int port = list("v1")[0].port;
  const int other_port = list("v2")[0].port;
  launcher_->exit_on_sigterm = false;  // a stubborn instance: only SIGKILL ends it
  traffic_->in_flight[port] = 2;
  journal_->clear();

  ASSERT_TRUE(runtime_->retireVersion("staging", "api", "v1", 20s));
  EXPECT_EQ(list("v1")[0].state, InstanceState::Stopping);
  runtime_->tick();
  const std::string draining_table =
      fmt::format("table v1:{}(draining) v2:{}", port, other_port);
  journalIndex(draining_table);
  EXPECT_TRUE(launcher_->processes.at(pid).signals.empty()) << "signalled while requests run";
  clock_->advance(5s);
  runtime_->tick();
  EXPECT_TRUE(launcher_->processes.at(pid).signals.empty());

  traffic_->in_flight[port] = 0;  // drained before the grace period ends
  runtime_->tick();
  ASSERT_EQ(launcher_->processes.at(pid).signals, std::vector<int>{SIGTERM});
  clock_->advance(9s);
  runtime_->tick();
  EXPECT_EQ(launcher_->processes.at(pid).signals, std::vector<int>{SIGTERM});
  clock_->advance(1s);
  runtime_->tick();
  EXPECT_EQ(launcher_->processes.at(pid).signals, (std::vector<int>{SIGTERM, SIGKILL}));
  runtime_->tick();

  EXPECT_LT(journalIndex(draining_table), journalIndex(fmt::format("inFlight {}", port)));
  EXPECT_LT(journalIndex(fmt::format("inFlight {}", port)),
            journalIndex(fmt::format("SIGTERM {}", pid)));
  EXPECT_LT(journalIndex(fmt::format("SIGTERM {}", pid)),
            journalIndex(fmt::format("SIGKILL {}", pid)));
  // Out of the table entirely once drained.
  EXPECT_LT(journalIndex(draining_table), journalIndex(fmt::format("table v2:{}", other_port)));
  EXPECT_EQ(traffic_->endpoints("api").size(), 1u);
  EXPECT_TRUE(list("v1").empty());
  EXPECT_EQ(countEvents(RuntimeEvent::Kind::InstanceStopped), 1);
  EXPECT_EQ(countEvents(RuntimeEvent::Kind::VersionRetired), 1);
  EXPECT_EQ(runtime_->versionStatus("staging", "api", "v1").error().code, ErrorCode::NotFound);
  EXPECT_FALSE(fs::exists(dir_ / "run/staging/api/v1.version.json"));
  EXPECT_FALSE(fs::exists(dir_ / "run/staging/api/v1-0.pid"));
  EXPECT_TRUE(launcher_->processes.at(pid).released);
  EXPECT_TRUE(runtime_->retireVersion("staging", "api", "v1", 20s)) << "retire is idempotent";
}

TEST_F(LocalRuntimeTest, DrainEndsAtTheGracePeriodEvenWithRequestsInFlight) {
  startReady("v1", 1);
  startReady("v2", 1);
  TrafficSplit split;
  split.weights = {{"v2", 1000}};
  ASSERT_TRUE(runtime_->setTraffic("staging", "api", split));
  const auto v1 = list("v1")[0];
  traffic_->in_flight[v1.port] = 7;
  ASSERT_TRUE(runtime_->retireVersion("staging", "api", "v1", 20s));
  runtime_->tick();
  clock_->advance(19999ms);
  runtime_->tick();
  EXPECT_TRUE(launcher_->processes.at(v1.pid).signals.empty());
  clock_->advance(1ms);
  runtime_->tick();
  EXPECT_EQ(launcher_->processes.at(v1.pid).signals, std::vector<int>{SIGTERM});
  runtime_->tick();
  EXPECT_TRUE(list("v1").empty());
}

TEST_F(LocalRuntimeTest, RetireRefusesAVersionThatStillHasTraffic) {
  startReady("v1", 1);
  startReady("v2", 1);
  TrafficSplit split;
  split.weights = {{"v1", 500}, {"v2", 500}};
  ASSERT_TRUE(runtime_->setTraffic("staging", "api", split));
  auto weighted = runtime_->retireVersion("staging", "api", "v1", 1s);
  ASSERT_FALSE(weighted);
  EXPECT_EQ(weighted.error().code, ErrorCode::FailedPrecondition);
  EXPECT_NE(weighted.error().message.find("500 per mille"), std::string::npos);

  split.weights = {{"v2", 1000}};
  split.routes = {TrafficRoute{"", "beta", TrafficRoute::Match::Exact, "yes", "v1"}};
  ASSERT_TRUE(runtime_->setTraffic("staging", "api", split));
  auto routed = runtime_->retireVersion("staging", "api", "v1", 1s);
  ASSERT_FALSE(routed);
  EXPECT_NE(routed.error().message.find("cookie route"), std::string::npos);
  EXPECT_EQ(list("v1")[0].state, InstanceState::Ready);
  EXPECT_TRUE(runtime_->retireVersion("staging", "api", "v9", 1s)) << "unknown = already gone";
}

TEST_F(LocalRuntimeTest, StopProceedsWhenTheRouterCannotBeTold) {
  startReady("v1", 1);
  const auto v1 = list("v1")[0];
  traffic_->unavailable = true;
  ASSERT_TRUE(runtime_->retireVersion("staging", "api", "v1", 3s));
  runtime_->tick();
  EXPECT_TRUE(launcher_->processes.at(v1.pid).signals.empty());
  clock_->advance(3s);
  runtime_->tick();
  EXPECT_EQ(launcher_->processes.at(v1.pid).signals, std::vector<int>{SIGTERM});
}

TEST_F(LocalRuntimeTest, StartingARetiringVersionIsRefused) {
  startReady("v1", 1);
  launcher_->exit_on_sigterm = false;
  ASSERT_TRUE(runtime_->retireVersion("staging", "api", "v1", 1s));
  auto again = runtime_->startVersion(env_, service_, "v1", 1);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::FailedPrecondition);
  EXPECT_EQ(runtime_->scale("staging", "api", "v1", 2).error().code,
            ErrorCode::FailedPrecondition);
}

TEST_F(LocalRuntimeTest, StopAllStopsEverythingAndForgetsIt) {
  startReady("v1", 2);
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v2", 1));
  runtime_->requestStopAll(1s);
  for (int i = 0; i < 10 && !runtime_->allStopped(); ++i) {
    runtime_->tick();
    clock_->advance(1s);
  }
  EXPECT_TRUE(runtime_->allStopped());
  EXPECT_TRUE(launcher_->runningPids().empty());
  EXPECT_TRUE(list().empty());
  EXPECT_TRUE(traffic_->tables.back().services.empty());
  std::vector<fs::path> left;
  for (const auto& f : fs::recursive_directory_iterator(dir_ / "run")) {
    if (f.is_regular_file()) left.push_back(f.path());
  }
  EXPECT_TRUE(left.empty()) << left.front();
}

// --- adoption ----------------------------------------------------------------------------------

TEST_F(LocalRuntimeTest, ANewRuntimeAdoptsRunningInstances) {
  startReady("v1", 2);
  TrafficSplit split;
  split.weights = {{"v1", 1000}};
  ASSERT_TRUE(runtime_->setTraffic("staging", "api", split));
  const auto before = list();
  runtime_.reset();  // the controller crashes
  EXPECT_EQ(launcher_->runningPids().size(), 2u) << "instances died with the controller";
  const auto launches = launcher_->processes.size();
  const auto pushes = traffic_->tables.size();

  open();
  const auto after = list();
  ASSERT_EQ(after.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after[i].pid, before[i].pid);
    EXPECT_EQ(after[i].port, before[i].port);
    EXPECT_EQ(after[i].state, InstanceState::Ready) << "adopted ready instance not routed";
  }
  runtime_->tick();
  EXPECT_EQ(launcher_->processes.size(), launches) << "adoption started new processes";
  for (std::size_t i = pushes; i < traffic_->tables.size(); ++i) {
    ASSERT_EQ(traffic_->tables[i].services.size(), 1u);
    EXPECT_EQ(traffic_->tables[i].services[0].endpoints.size(), 2u)
        << "adoption pushed a table that drops instances";
    EXPECT_EQ(traffic_->tables[i].services[0].split, split);
  }
  EXPECT_EQ(runtime_->traffic("staging", "api").value(), split);
  // And it supervises them: a crash is restarted.
  launcher_->crash(after[0].pid);
  runtime_->tick();
  clock_->advance(500ms);
  runtime_->tick();
  EXPECT_NE(list()[0].pid, after[0].pid);
  EXPECT_NE(list()[0].pid, 0);
}

TEST_F(LocalRuntimeTest, AReusedPidIsNotAdoptedNorSignalled) {
  startReady("v1", 2);
  const auto before = list();
  runtime_.reset();
  // Instance 1's process died and its pid now belongs to someone else (other start time).
  launcher_->processes.at(before[1].pid).identity.start_ticks += 1;

  open();
  runtime_->tick();
  const auto after = list();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].pid, before[0].pid);
  EXPECT_NE(after[1].pid, before[1].pid) << "adopted a stranger";
  EXPECT_NE(after[1].pid, 0);
  runtime_->requestStopAll(0s);
  for (int i = 0; i < 5; ++i) runtime_->tick();
  EXPECT_TRUE(launcher_->processes.at(before[1].pid).signals.empty()) << "signalled a stranger";
  EXPECT_FALSE(launcher_->processes.at(before[0].pid).signals.empty());
}

TEST_F(LocalRuntimeTest, AdoptionStopsInstancesNobodyWants) {
  startReady("v1", 2);
  const auto before = list();
  runtime_.reset();
  fs::remove(dir_ / "run/staging/api/v1.version.json");  // the version is not wanted

  open();
  for (int i = 0; i < 5; ++i) runtime_->tick();
  for (const auto& i : before) {
    EXPECT_EQ(launcher_->processes.at(i.pid).signals, std::vector<int>{SIGTERM});
  }
  EXPECT_TRUE(list().empty());
}

TEST_F(LocalRuntimeTest, AdoptionRestartsInstancesThatDiedMeanwhile) {
  startReady("v1", 2);
  const auto before = list();
  runtime_.reset();
  launcher_->crash(before[0].pid);

  open();
  runtime_->tick();
  const auto after = list();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_NE(after[0].pid, before[0].pid);
  EXPECT_EQ(after[1].pid, before[1].pid);
}

TEST_F(LocalRuntimeTest, RetainOnlyRetiresLeftovers) {
  startReady("v1", 1);
  startReady("v2", 1);
  TrafficSplit split;
  split.weights = {{"v1", 900}, {"v2", 100}};
  ASSERT_TRUE(runtime_->setTraffic("staging", "api", split));
  auto weighted = runtime_->retainOnly("staging", {{"api", "v1"}}, 0s);
  ASSERT_FALSE(weighted) << "retired a version that still has traffic";
  EXPECT_EQ(weighted.error().code, ErrorCode::FailedPrecondition);
  EXPECT_EQ(list("v2").size(), 1u);

  split.weights = {{"v1", 1000}};
  ASSERT_TRUE(runtime_->setTraffic("staging", "api", split));
  ASSERT_TRUE(runtime_->retainOnly("staging", {{"api", "v1"}}, 0s));
  for (int i = 0; i < 5; ++i) runtime_->tick();
  EXPECT_TRUE(list("v2").empty());
  EXPECT_EQ(list("v1").size(), 1u);
  EXPECT_EQ(runtime_->traffic("staging", "api")->weights,
            (std::map<std::string, int>{{"v1", 1000}}));
}

}  // namespace
}  // namespace runway::runtime
