// The local runtime with real processes (runway-demo-app from this build tree).

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <mutex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runway/runtime/local_runtime.hpp"
#include "support/http.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Keeps the last table, as the router would.
class RecordingTraffic final : public TrafficBackend {
 public:
  Result<void> setTable(const TrafficTable& table) override {
    std::lock_guard lock(mutex_);
    last_ = table;
    return {};
  }
  Result<std::vector<VersionStatistics>> statistics(std::string_view, std::string_view,
                                                    Duration) override {
    return std::vector<VersionStatistics>{};
  }
  Result<std::int64_t> inFlight(std::string_view, std::string_view, int) override { return 0; }

  std::vector<TrafficEndpoint> endpoints() {
    std::lock_guard lock(mutex_);
    return last_.services.empty() ? std::vector<TrafficEndpoint>{} : last_.services[0].endpoints;
  }

 private:
  std::mutex mutex_;
  TrafficTable last_;
};

// Counts probe outcomes on the way through to the real prober.
class CountingProber final : public HealthProber {
 public:
  void probe(const ProbeRequest& request, std::function<void(ProbeResult)> done) override {
    auto failures = failures_;
    inner_->probe(request, [failures, done = std::move(done)](ProbeResult r) {
      if (!r.ok) ++*failures;
      done(std::move(r));
    });
  }
  int failures() const { return failures_->load(); }

 private:
  std::shared_ptr<std::atomic<int>> failures_ = std::make_shared<std::atomic<int>>(0);
  std::unique_ptr<HealthProber> inner_ = httpHealthProber();
};

bool alive(int pid) { return readProcStat(pid).has_value() && readProcStat(pid)->state != 'Z'; }

class LocalRuntimeIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(test::binaryPath("runway-demo-app")))
        << test::binaryPath("runway-demo-app") << " is not built";
    env_.name = "development";
    service_.name = "web";
    service_.local = config::LocalRun{};
    service_.local->command = {"runway-demo-app", "--port", "${PORT}"};
    service_.local->working_dir = dir_.path().string();
    service_.env = {{"SERVICE", "${SERVICE}"}, {"VERSION", "${VERSION}"}};
    service_.health.initial_delay = 0ms;
    service_.health.period = 100ms;
    service_.health.timeout = 1s;
    service_.health.failure_threshold = 2;
  }

  void TearDown() override {
    if (runtime_) {
      EXPECT_TRUE(runtime_->stopAll(0s));
    }
  }

  void open() {
    LocalRuntimeOptions o;
    o.data_dir = dir_ / "data";
    o.traffic = traffic_;
    o.prober = prober_;
    o.extra_path = {test::binaryPath("runway-demo-app").parent_path()};
    o.restart.initial_backoff = 50ms;
    o.restart.max_backoff = 400ms;
    o.restart.max_restarts = 3;
    o.restart.window = 1min;
    o.kill_timeout = 2s;
    o.tick_period = 20ms;
    o.log_max_bytes = log_max_bytes_;
    o.log_keep = 2;
    o.log_check_period = 50ms;
    auto rt = LocalRuntime::open(std::move(o));
    ASSERT_TRUE(rt) << rt.error().message;
    runtime_ = std::move(*rt);
  }

  std::vector<InstanceInfo> list() { return runtime_->instances("development", "web").value(); }

  bool versionIs(const std::string& version, VersionState state) {
    auto status = runtime_->versionStatus("development", "web", version);
    return status && status->state == state;
  }

  void waitReady(const std::string& version) {
    ASSERT_TRUE(test::pollUntil([&] { return versionIs(version, VersionState::Ready); },
                                test::deadlineIn(15s)))
        << "version " << version << " never became Ready";
  }

  test::TempDir dir_;
  std::shared_ptr<RecordingTraffic> traffic_ = std::make_shared<RecordingTraffic>();
  std::shared_ptr<CountingProber> prober_ = std::make_shared<CountingProber>();
  config::Environment env_;
  config::Service service_;
  std::unique_ptr<LocalRuntime> runtime_;
  std::uint64_t log_max_bytes_ = 10 * 1024 * 1024;
};

TEST_F(LocalRuntimeIntegrationTest, StartsThreeReadyInstancesThatServeAndLog) {
  open();
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 3));
  waitReady("v1");
  const auto instances = list();
  ASSERT_EQ(instances.size(), 3u);
  for (const auto& i : instances) {
    EXPECT_EQ(i.state, InstanceState::Ready);
    EXPECT_EQ(i.pgid, i.pid) << "not in its own process group";
    auto health = test::httpGet(fmt::format("http://127.0.0.1:{}/health", i.port));
    ASSERT_TRUE(health) << health.error().message;
    EXPECT_EQ(health->status, 200);
    std::string log;
    ASSERT_TRUE(test::pollUntil(
        [&] {
          auto text = test::readFile(i.log_path);
          log = text ? *text : "";
          return log.find(fmt::format("listening on 127.0.0.1:{}", i.port)) != std::string::npos;
        },
        test::deadlineIn(5s)))
        << i.log_path << ": " << log;
    EXPECT_TRUE(fs::exists(runtime_->pidFilePath("development", "web", "v1", i.index)));
  }
  ASSERT_TRUE(test::pollUntil([&] { return traffic_->endpoints().size() == 3; },
                              test::deadlineIn(5s)));
  // Idempotent: the same intent again changes nothing.
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 3));
  const auto again = list();
  ASSERT_EQ(again.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(again[i].pid, instances[i].pid);
}

TEST_F(LocalRuntimeIntegrationTest, AKilledInstanceIsRestarted) {
  open();
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 2));
  waitReady("v1");
  const auto victim = list()[0];
  ASSERT_EQ(::kill(victim.pid, SIGKILL), 0);
  ASSERT_TRUE(test::pollUntil(
      [&] {
        const auto now = list()[0];
        return now.pid != 0 && now.pid != victim.pid && now.state == InstanceState::Ready;
      },
      test::deadlineIn(15s)))
      << "state " << toString(list()[0].state);
  const auto now = list()[0];
  EXPECT_EQ(now.restarts, 1);
  EXPECT_NE(now.last_exit.find("signal 9"), std::string::npos) << now.last_exit;
  EXPECT_EQ(list()[1].pid, list()[1].pid);
  auto health = test::httpGet(fmt::format("http://127.0.0.1:{}/health", now.port));
  ASSERT_TRUE(health) << health.error().message;
  EXPECT_EQ(health->status, 200);
  EXPECT_FALSE(alive(victim.pid)) << "the killed process was left a zombie";
}

TEST_F(LocalRuntimeIntegrationTest, FailingHealthIsNeverRouted) {
  open();
  service_.env["FAIL_HEALTH"] = "1";
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 1));
  ASSERT_TRUE(test::pollUntil([&] { return prober_->failures() >= 5; }, test::deadlineIn(15s)));
  const auto i = list()[0];
  EXPECT_EQ(i.state, InstanceState::Starting);
  EXPECT_TRUE(alive(i.pid));
  EXPECT_TRUE(traffic_->endpoints().empty());
  EXPECT_EQ(runtime_->versionStatus("development", "web", "v1")->ready, 0);
}

TEST_F(LocalRuntimeIntegrationTest, ACrashLoopEndsFailed) {
  open();
  service_.local->command = {"/bin/false"};
  std::atomic<int> failed_events{0};
  runtime_->setEventHandler([&](const RuntimeEvent& e) {
    if (e.kind == RuntimeEvent::Kind::VersionFailed) ++failed_events;
  });
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 1));
  ASSERT_TRUE(test::pollUntil([&] { return versionIs("v1", VersionState::Failed); },
                              test::deadlineIn(15s)));
  EXPECT_TRUE(test::pollUntil([&] { return failed_events.load() == 1; }, test::deadlineIn(5s)));
  const auto i = list()[0];
  EXPECT_EQ(i.state, InstanceState::Failed);
  EXPECT_EQ(i.restarts, 3);
  EXPECT_EQ(i.last_exit, "exited with status 1");
}

TEST_F(LocalRuntimeIntegrationTest, ADemoAppThatCrashesUnderRequestsEndsFailed) {
  open();
  service_.env["CRASH_AFTER"] = "1";  // dies after answering its first request (a probe)
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 1));
  ASSERT_TRUE(test::pollUntil([&] { return versionIs("v1", VersionState::Failed); },
                              test::deadlineIn(20s)))
      << "state " << toString(list()[0].state) << ", restarts " << list()[0].restarts;
  EXPECT_EQ(list()[0].restarts, 3);
}

TEST_F(LocalRuntimeIntegrationTest, ANewRuntimeReadoptsTheSameProcesses) {
  open();
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 2));
  waitReady("v1");
  const auto before = list();
  runtime_.reset();  // the controller crashes; the instances keep running
  for (const auto& i : before) EXPECT_TRUE(alive(i.pid));

  open();
  const auto after = list();
  ASSERT_EQ(after.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after[i].pid, before[i].pid);
    EXPECT_EQ(after[i].port, before[i].port);
    EXPECT_EQ(after[i].state, InstanceState::Ready);
  }
  // Still supervised: a kill is noticed and repaired.
  ASSERT_EQ(::kill(after[1].pid, SIGKILL), 0);
  ASSERT_TRUE(test::pollUntil(
      [&] {
        const auto now = list()[1];
        return now.pid != 0 && now.pid != after[1].pid && now.state == InstanceState::Ready;
      },
      test::deadlineIn(15s)));
  EXPECT_EQ(list()[0].pid, before[0].pid);
}

TEST_F(LocalRuntimeIntegrationTest, StopAllLeavesNoProcessOfAnyGroup) {
  open();
  // Each instance forks a helper into its group, as shell wrappers do.
  service_.local->command = {"/bin/sh", "-c", "sleep 300 & exec runway-demo-app --port ${PORT}"};
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 2));
  waitReady("v1");
  std::vector<int> groups;
  for (const auto& i : list()) {
    groups.push_back(i.pgid);
    ASSERT_TRUE(test::pollUntil([&] { return processGroupMembers(i.pgid).size() >= 2; },
                                test::deadlineIn(5s)))
        << "the helper did not start";
  }
  ASSERT_TRUE(runtime_->stopAll(1s));
  for (int pgid : groups) {
    EXPECT_TRUE(processGroupMembers(pgid).empty()) << "group " << pgid << " has survivors";
    EXPECT_FALSE(alive(pgid));
  }
  EXPECT_TRUE(list().empty());
  EXPECT_TRUE(traffic_->endpoints().empty());
  runtime_.reset();
}

TEST_F(LocalRuntimeIntegrationTest, LogsAreRotatedAboveTheLimitWhileTheInstanceWrites) {
  log_max_bytes_ = 64;  // the demo app's two start-up lines are larger
  open();
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 1));
  waitReady("v1");
  const auto i = list()[0];
  const fs::path rotated = i.log_path + ".1";
  ASSERT_TRUE(test::pollUntil([&] { return fs::exists(rotated); }, test::deadlineIn(10s)))
      << "no rotation of " << i.log_path;
  auto old = test::readFile(rotated);
  ASSERT_TRUE(old);
  EXPECT_NE(old->find("listening on"), std::string::npos) << *old;
  // The instance keeps logging to the same name after the rotation: its shutdown line lands
  // in the live file. (A grace period, so that a slow instance, such as one built with a
  // sanitizer, writes it before a SIGKILL would; the demo app exits as soon as it has.)
  ASSERT_TRUE(runtime_->retireVersion("development", "web", "v1", 10s));
  ASSERT_TRUE(test::pollUntil([&] { return list().empty(); }, test::deadlineIn(10s)));
  auto live = test::readFile(i.log_path);
  ASSERT_TRUE(live);
  EXPECT_NE(live->find("stopped"), std::string::npos) << *live;
  EXPECT_FALSE(fs::exists(i.log_path + ".3"));
}

TEST_F(LocalRuntimeIntegrationTest, RetireStopsGracefullyWithSigterm) {
  open();
  ASSERT_TRUE(runtime_->startVersion(env_, service_, "v1", 1));
  waitReady("v1");
  const auto i = list()[0];
  ASSERT_TRUE(runtime_->retireVersion("development", "web", "v1", 0s));
  ASSERT_TRUE(test::pollUntil([&] { return list().empty(); }, test::deadlineIn(10s)));
  EXPECT_FALSE(alive(i.pid));
  auto log = test::readFile(i.log_path);
  ASSERT_TRUE(log);
  // The demo app logs a clean shutdown on SIGTERM; SIGKILL would leave no such line.
  EXPECT_NE(log->find("stopped"), std::string::npos) << *log;
}

}  // namespace
}  // namespace runway::runtime
