// Acceptance (issue 6): crash safety. 30 trials in CI, three lanes of 10 at once (1,000 in
// scripts/soak.sh), each a canary with short pauses during which
// the server is killed with SIGKILL at a random moment and started again. Each deployment must
// end where it would have without the crash (Succeeded), its event log must show each step
// started once and the whole log must verify, no instance may be orphaned or duplicated, and a
// load generator running through the router the whole time must see no failed request.
// Also issue 4: killing the process that drives the router (and restarting it) drops no request.

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "../../integration/serve/serve_fixture.hpp"
#include "support/http.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string config(const std::string& marker) {
  return fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata:
  name: shop
spec:
  services:
    - name: web
      local:
        command: ["runway-demo-app", "--port", "${{PORT}}"]
      instances: 2
      env:
        VERSION: "${{VERSION}}"
        CRASH_TEST_MARKER: "{}"
      health:
        path: /health
        period: 100ms
        failureThreshold: 3
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: production
spec:
  runtime:
    local: {{}}
  strategy: canary
  canary:
    steps:
      - setWeight: 34
      - pause: {{ duration: 500ms }}
      - setWeight: 67
      - pause: {{ duration: 500ms }}
      - setWeight: 100
  progressDeadline: 1m
)",
                     marker);
}

// Pids of live processes whose environment carries the marker, with their VERSION.
std::map<int, std::string> markedProcesses(const std::string& marker) {
  std::map<int, std::string> out;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = ::readdir(proc)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream stat(fmt::format("/proc/{}/stat", pid));
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z') continue;
    std::ifstream env(fmt::format("/proc/{}/environ", pid), std::ios::binary);
    std::stringstream ss;
    ss << env.rdbuf();
    const std::string environ = ss.str();
    if (environ.find("CRASH_TEST_MARKER=" + marker) == std::string::npos) continue;
    std::string version;
    std::size_t start = 0;
    while (start < environ.size()) {
      const auto end = environ.find('\0', start);
      const std::string kv = environ.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (kv.rfind("VERSION=", 0) == 0) version = kv.substr(8);
      if (end == std::string::npos) break;
      start = end + 1;
    }
    out[pid] = version;
  }
  ::closedir(proc);
  return out;
}

// The instances the server reports: pid -> version.
std::map<int, std::string> reportedInstances(ServeFixture& s) {
  std::map<int, std::string> out;
  auto v = s.getJson("/api/v1/environments/production");
  if (!v.is_object()) return out;
  for (const auto& svc : v.at("services").as_array()) {
    for (const auto& i : svc.at("instances").as_array()) {
      const int pid = static_cast<int>(i.at("pid").to_number<std::int64_t>());
      if (pid > 0) out[pid] = std::string(i.at("version").as_string());
    }
  }
  return out;
}

// The number of trials per lane: 10 in CI (30 in all); scripts/soak.sh runs 1,000 in one lane
// (RUNWAY_SOAK_TRIALS). The seed of the kill moments is printed so that a failing run can be
// repeated (RUNWAY_SOAK_SEED).
int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// What one lane saw (a lane: one server, its data directory and instances, its trials one
// after the other).
struct LaneTotals {
  int trials = 0;
  int requests = 0;
  int failed = 0;
  int violations = 0;
};

// Runs `trials` kill -9 trials on a server of its own; `lane` tells its lines and processes apart.
void crashLane(int lane, int lanes, int trials, unsigned seed, LaneTotals& totals) {
  const std::string prefix = lanes > 1 ? fmt::format("lane {} ", lane) : std::string();
  SCOPED_TRACE(fmt::format("{}seed {}", prefix, seed));
  TempDir dir;
  const std::string marker = fmt::format("crash-{}-{}", ::getpid(), lane);
  ServeFixture server(dir.path());
  server.writeConfig(config(marker));
  auto started = server.start();
  ASSERT_TRUE(started) << started.error().message;
  std::string error;
  std::string first = server.deploy("production", "v0", &error);
  ASSERT_FALSE(first.empty()) << error;
  ASSERT_EQ(server.waitTerminal(first, 60s), "Succeeded");
  const std::string address = server.serviceAddress("production", "web");
  ASSERT_FALSE(address.empty());
  // Several lanes at once on a small machine: their users space their requests out a little.
  LoadGenerator load("http://" + address + "/", lanes > 1 ? 5ms : 2ms);

  // Each broken invariant is counted (and fails the test) rather than ending the run, so that a
  // soak run reports them all: a deployment not Succeeded, a step started twice, a second
  // "succeeded", an orphaned or missing instance, the wrong number of the new version's.
  int& violations = totals.violations;
  auto violated = [&](bool ok, const std::string& what) {
    if (!ok) {
      ++violations;
      ADD_FAILURE() << what;
    }
  };
  std::mt19937 random(seed);
  // A random moment of the canary (its steps and two 500 ms pauses take about 1.5 s), or
  // just after it.
  std::uniform_int_distribution<int> delay_ms(0, 1800);
  // A soak run may be given a wall-time budget: no trial starts after it (RUNWAY_SOAK_SECONDS).
  const int budget_s = envInt("RUNWAY_SOAK_SECONDS", 0);
  const auto began = std::chrono::steady_clock::now();
  int trial = 1;
  for (; trial <= trials; ++trial) {
    if (budget_s > 0 && std::chrono::steady_clock::now() - began > std::chrono::seconds(budget_s)) break;
    SCOPED_TRACE(fmt::format("trial {}", trial));
    const std::string version = fmt::format("v{}", trial);
    const std::string id = server.deploy("production", version, &error);
    ASSERT_FALSE(id.empty()) << error;
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    server.kill9();
    auto restarted = server.start();
    ASSERT_TRUE(restarted) << restarted.error().message;
    const std::string state = server.waitTerminal(id, 60s);
    violated(state == "Succeeded", fmt::format("deployment {} ended {}", id, state));

    // Each step started once in this (first) attempt; the deployment succeeded once.
    auto d = server.getJson("/api/v1/deployments/" + id);
    std::map<std::int64_t, int> started_steps;
    int succeeded = 0;
    for (const auto& e : d.at("events").as_array()) {
      const auto kind = e.at("kind").as_string();
      if (kind == "step.started") started_steps[e.at("data").at("step").to_number<std::int64_t>()]++;
      if (kind == "deployment.succeeded") succeeded++;
    }
    violated(succeeded == 1, fmt::format("{} deployment.succeeded events", succeeded));
    violated(!started_steps.empty(), "no step.started event");
    for (const auto& [step, count] : started_steps) {
      violated(count == 1, fmt::format("step {} started {} times", step, count));
    }

    // No orphan, no duplicate: the processes carrying our marker are exactly the instances
    // the server reports (old versions wait for their retirement).
    std::map<int, std::string> seen, reported;
    const bool consistent = pollUntil(
        [&] {
          seen = markedProcesses(marker);
          reported = reportedInstances(server);
          return seen == reported;
        },
        deadlineIn(20s));
    violated(consistent, fmt::format("{} processes, {} reported", seen.size(), reported.size()));
    std::map<std::string, int> per_version;
    for (const auto& [pid, v] : seen) per_version[v]++;
    violated(per_version[version] == 2, fmt::format("{} instances of {}", per_version[version], version));
    // One line a trial (scripts/soak.sh sums them when a long run is stopped before its end).
    std::printf("%strial %d: %d requests through the router so far, %d failed, %d invariant violations\n",
                prefix.c_str(), trial, load.ok() + load.failed(), load.failed(), violations);
    std::fflush(stdout);
  }
  // Old versions retire; in the end only the last one runs, twice.
  std::map<int, std::string> seen;
  violated(pollUntil(
               [&] {
                 seen = markedProcesses(marker);
                 return seen.size() == 2 && seen.begin()->second == fmt::format("v{}", trial - 1);
               },
               deadlineIn(90s)),
           fmt::format("{} processes after the last trial", seen.size()));
  load.stop();
  EXPECT_GT(load.ok(), 1000);
  EXPECT_EQ(load.failed(), 0) << "first failure: " << load.firstFailure();
  auto audit = server.getJson("/api/v1/audit/verify");
  ASSERT_TRUE(audit.is_object());
  violated(audit.at("intact").as_bool(), "the audit chain does not verify");
  EXPECT_EQ(server.down(), 0);
  violated(markedProcesses(marker).empty(), "instances left after the server stopped");
  totals.trials = trial - 1;
  totals.requests = load.ok() + load.failed();
  totals.failed = load.failed();
}

// CI's 30 trials run as three lanes of 10 at once (RUNWAY_SOAK_LANES, RUNWAY_SOAK_TRIALS per
// lane) in one ctest entry: each lane mostly waits on its canary's pauses and its server's
// restarts. scripts/soak.sh runs one lane of RUNWAY_SOAK_TRIALS.
TEST(ServeCrashTest, KillNineDuringCanariesLosesAndRepeatsNothing) {
  const int lanes = std::max(1, envInt("RUNWAY_SOAK_LANES", 3));
  const int trials = envInt("RUNWAY_SOAK_TRIALS", 10);
  const auto seed = static_cast<unsigned>(envInt("RUNWAY_SOAK_SEED", ::getpid()));
  std::vector<LaneTotals> totals(static_cast<std::size_t>(lanes));
  std::vector<std::thread> threads;
  for (int lane = 0; lane < lanes; ++lane) {
    threads.emplace_back([&, lane] {
      crashLane(lane, lanes, trials, seed + static_cast<unsigned>(lane), totals[static_cast<std::size_t>(lane)]);
    });
  }
  for (auto& t : threads) t.join();
  LaneTotals all;
  for (const auto& t : totals) {
    all.trials += t.trials;
    all.requests += t.requests;
    all.failed += t.failed;
    all.violations += t.violations;
  }
  // scripts/soak.sh reads this line.
  std::printf("soak: %d trials (seed %u, %d lanes), %d requests through the router, %d failed, %d invariant "
              "violations\n",
              all.trials, seed, lanes, all.requests, all.failed, all.violations);
}

}  // namespace
}  // namespace runway::test
