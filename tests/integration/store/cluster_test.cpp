// Issue 18 points 2 and 3: several `runway serve` on one PostgreSQL (a real PostgreSQL 15 the
// test starts), one of them leading by a lease.
//   - Failover: two and three servers sharing one data directory (so one local runtime: the
//     router and the instances of the demo app, under load through the router). A canary is
//     deployed through a random server (a follower forwards the write to the leader), the
//     leader is killed with SIGKILL at a random moment of it, and another server must lead
//     within the lease's TTL + 1 s; the killed one is started again as a follower. Each trial's
//     canary must end Succeeded with each of its 5 steps started once, the users must see no
//     failed request, and the audit chain must verify. A "lane" is one such cluster (its own
//     database and data directory) running its trials one after the other; each ctest entry
//     runs RUNWAY_HA_LANES lanes at once (default 3) of RUNWAY_HA_TRIALS trials (default 5) on
//     one PostgreSQL, and there are two entries (two servers, three servers): 30 trials in CI.
//     Seeds derive from RUNWAY_HA_SEED (default 18), one per lane.
//   - Fencing: a leader stopped with SIGSTOP past its lease; the other server takes the lease
//     but waits for the data directory's lock (the paused one still holds the local runtime);
//     the old one, resumed, steps down, the new one recovers and finishes the canary, and
//     nothing the old one tried is visible (each step started once, the chain verifies, no
//     failed request through the router).

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "integration/serve/serve_fixture.hpp"
#include "runway/core/clock.hpp"
#include "support/postgres.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

namespace bjson = boost::json;
using namespace std::chrono_literals;

constexpr auto kTtl = 2s;
// The canary below: two pauses and three weight changes, about 3 s; a trial kills its leader at
// a random moment of [0, kCanaryMs).
constexpr std::uint32_t kCanaryMs = 4000;

constexpr const char* kLocalCanary = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local:
        command: ["runway-demo-app", "--port", "${PORT}"]
      instances: 2
      env:
        VERSION: "${VERSION}"
      health:
        path: /health
        period: 100ms
        failureThreshold: 3
---
apiVersion: runway/v1
kind: Environment
metadata: {name: canary}
spec:
  runtime:
    local: {}
  strategy: canary
  canary:
    steps:
      - setWeight: 25
      - pause: { duration: 1s }
      - setWeight: 60
      - pause: { duration: 1s }
      - setWeight: 100
    analysis:
      templates: [errors]
      startingStep: 0
    abortScaleDownDelay: 1s
  progressDeadline: 2m
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata: {name: errors}
spec:
  metrics:
    - name: error-rate
      provider: builtin
      query: error_rate
      window: 4s
      initialDelay: 500ms
      interval: 500ms
      failureCondition: "result > 0.1"
      noData: inconclusive
      inconclusiveLimit: 40
)";

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::atoi(v);
}

std::string logOf(const std::filesystem::path& path) {
  auto text = readFile(path);
  return text ? *text : "(no " + path.string() + ")";
}

// The kinds of a deployment's events, in order.
std::vector<std::string> eventKinds(ServeFixture& server, const std::string& id) {
  std::vector<std::string> kinds;
  auto v = server.getJson("/api/v1/events?stream=false&subject=" + id);
  if (!v.is_object()) return kinds;
  for (const auto& e : v.at("events").as_array()) kinds.emplace_back(e.at("kind").as_string());
  return kinds;
}

int countOf(const std::vector<std::string>& kinds, const std::string& kind) {
  int n = 0;
  for (const auto& k : kinds) n += k == kind ? 1 : 0;
  return n;
}

// GET /api/v1/cluster of one server (null when it does not answer).
bjson::value clusterOf(ServeFixture& server) { return server.getJson("/api/v1/cluster"); }

bool leads(ServeFixture& server, std::int64_t above_term = 0) {
  auto v = clusterOf(server);
  if (!v.is_object() || v.at("role").as_string() != "leader") return false;
  const auto& leader = v.at("leader");
  return leader.is_object() && leader.at("term").to_number<std::int64_t>() > above_term;
}

bool ready(ServeFixture& server) {
  auto r = server.call("GET", "/readyz");
  return r && r->status == 200;
}

std::int64_t termOf(ServeFixture& server) {
  auto v = clusterOf(server);
  if (!v.is_object() || !v.at("leader").is_object()) return 0;
  return v.at("leader").at("term").to_number<std::int64_t>();
}

// How long after `before` (wall clock) `server` took the lease it holds now (its leadingSince).
std::chrono::milliseconds leaseTakenAfter(ServeFixture& server, std::chrono::system_clock::time_point before) {
  auto v = clusterOf(server);
  if (!v.is_object() || !v.at("leadingSince").is_string()) return std::chrono::milliseconds::max();
  auto since = parseTimestamp(std::string(v.at("leadingSince").as_string()));
  if (!since) return std::chrono::milliseconds::max();
  return std::chrono::milliseconds(toUnixMillis(*since)) -
         std::chrono::duration_cast<std::chrono::milliseconds>(before.time_since_epoch());
}

// Servers on one PostgreSQL database and one data directory.
class Cluster {
 public:
  Cluster(const TempDir& dir, const std::string& store_url, const std::string& config)
      : dir_(dir.path()), store_url_(store_url) {
    std::ofstream(dir_ / "runway.yaml") << config;
  }
  ~Cluster() {
    for (auto& s : servers_) {
      if (s) s->kill9();
    }
    SubprocessOptions o;
    o.argv = {binaryPath("runway").string(), "down", "--data", (dir_ / "data").string(), "--grace", "1"};
    o.stdout_to = Output::null();
    if (auto p = Subprocess::start(std::move(o))) {
      (void)p->waitExit(deadlineIn(60s));
    }
  }

  // Starts server `i` (again: a new process and a new log).
  Result<void> start(std::size_t i) {
    if (servers_.size() <= i) servers_.resize(i + 1);
    const std::string log = fmt::format("serve-{}-{}.log", i, generation_++);
    auto s = std::make_unique<ServeFixture>(dir_, dir_ / "data", log);
    s->skipDown();
    s->extra_args = {"--store", store_url_, "--lease-ttl", fmt::format("{}ms", kTtl / 1ms), "--server-id",
                     fmt::format("server-{}", i)};
    if (auto r = s->start(); !r) return r;
    servers_[i] = std::move(s);
    logs_.push_back(dir_ / log);
    return {};
  }
  ServeFixture& at(std::size_t i) { return *servers_[i]; }
  bool alive(std::size_t i) const { return i < servers_.size() && servers_[i] != nullptr; }
  std::size_t size() const { return servers_.size(); }
  void kill9(std::size_t i) {
    servers_[i]->kill9();
    servers_[i].reset();
  }
  // The index of the server that leads and is ready, if one does now.
  std::optional<std::size_t> leader() {
    for (std::size_t i = 0; i < servers_.size(); ++i) {
      if (alive(i) && leads(*servers_[i]) && ready(*servers_[i])) return i;
    }
    return std::nullopt;
  }
  // The lines of every server's log about leadership, for a failure's message.
  std::string keyLines() const {
    std::string out;
    for (const auto& l : logs_) {
      std::istringstream in(logOf(l));
      for (std::string line; std::getline(in, line);) {
        if (line.find("leader election") != std::string::npos || line.find("leading") != std::string::npos ||
            line.find("following") != std::string::npos || line.find("refused") != std::string::npos ||
            line.find("SIGTERM") != std::string::npos) {
          out += l.filename().string() + ": " + line + "\n";
        }
      }
    }
    return out;
  }
  std::string logs() const {
    std::string all;
    for (const auto& l : logs_) all += "==== " + l.filename().string() + "\n" + logOf(l) + "\n";
    return all;
  }

 private:
  std::filesystem::path dir_;
  std::string store_url_;
  std::vector<std::unique_ptr<ServeFixture>> servers_;
  std::vector<std::filesystem::path> logs_;
  int generation_ = 0;
};

// What a server process is doing, for a failure's message: each thread's kernel wait channel
// and system call (a thread blocked reading a socket or waiting on a futex shows here), and the
// local ports of its connections to PostgreSQL (pg_stat_activity's client_port).
std::string processState(pid_t pid, int pg_port) {
  namespace fs = std::filesystem;
  std::string out = fmt::format("  pid {}:", pid);
  std::set<std::string> inodes;
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator(fmt::format("/proc/{}/fd", pid), ec)) {
    const auto target = fs::read_symlink(fd.path(), ec);
    const std::string link = target.string();
    if (!ec && link.starts_with("socket:[")) inodes.insert(link.substr(8, link.size() - 9));
  }
  std::ifstream tcp(fmt::format("/proc/{}/net/tcp", pid));
  std::string line;
  std::getline(tcp, line);  // header
  while (std::getline(tcp, line)) {
    std::istringstream in(line);
    std::string slot, local, remote, st, queues, tr, retr, uid, timeout, inode;
    in >> slot >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >> inode;
    if (inodes.count(inode) == 0 || remote.size() < 5) continue;
    if (std::stoi(remote.substr(remote.size() - 4), nullptr, 16) != pg_port) continue;
    out += fmt::format(" pg-client-port {}", std::stoi(local.substr(local.size() - 4), nullptr, 16));
  }
  out += "\n";
  for (const auto& task : fs::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
    auto wchan = readFile(task.path() / "wchan");
    auto syscall = readFile(task.path() / "syscall");
    std::string sc = syscall ? *syscall : "?";
    if (!sc.empty() && sc.back() == '\n') sc.pop_back();
    out += fmt::format("    tid {} wchan {} syscall {}\n", task.path().filename().string(),
                       wchan ? *wchan : "?", sc);
  }
  return out;
}

// A failover lane: a cluster of `server_count` servers on database `database` and a data
// directory of its own, running `trials` kill -9 trials one after the other. Lanes share
// nothing but the PostgreSQL server, so a test runs several at once (each waits mostly on its
// canary's pauses and its lease).
class FailoverLane {
 public:
  FailoverLane(const PostgresServer& pg, std::size_t server_count, std::string name, std::uint32_t seed, int trials)
      : pg_(pg), server_count_(server_count), name_(std::move(name)), seed_(seed), trials_(trials) {}

  // Runs the trials (gtest failures are recorded from this thread; a fatal one ends the lane).
  void run() {
    SCOPED_TRACE(fmt::format("{} (seed {})", name_, seed_));
    runTrials();
  }
  std::string summary() const {
    std::string times, seen_times;
    for (auto t : takeover_ms_) times += fmt::format(" {}", t);
    for (auto t : seen_ms_) seen_times += fmt::format(" {}", t);
    return fmt::format("{}: {} servers, {} of {} trials (seed {}); lease taken ms after the kill:{}; seen leading by "
                       "the test (ms):{}; requests through the router: {} ok, {} failed; {:.1f} s\n",
                       name_, server_count_, takeover_ms_.size(), trials_, seed_, times, seen_times, ok_, failed_,
                       seconds_);
  }
  int trialsRun() const { return static_cast<int>(takeover_ms_.size()); }

 private:
  // A live server as the watchdog sees it (copied, so that it never touches a ServeFixture the
  // lane's thread may be replacing).
  struct Member {
    std::size_t index = 0;
    std::string url;
    std::string token;
    pid_t pid = 0;
  };
  void publish(Cluster& cluster) {
    std::vector<Member> members;
    for (std::size_t i = 0; i < cluster.size(); ++i) {
      if (cluster.alive(i)) members.push_back({i, cluster.at(i).url(), cluster.at(i).adminToken(), cluster.at(i).pid()});
    }
    std::lock_guard lock(members_mu_);
    members_ = std::move(members);
  }
  std::vector<Member> members() const {
    std::lock_guard lock(members_mu_);
    return members_;
  }

  // What the cluster's database and processes are doing (a slow takeover's or a stalled
  // leader's message).
  std::string stuck() const {
    std::string out = "lease (holder|term|expires at ms|now ms): ";
    auto lease = pg_.psql(name_, "SELECT holder, term, expires_at_ms, "
                                 "(extract(epoch from clock_timestamp()) * 1000)::bigint FROM leases");
    out += lease ? *lease : lease.error().message;
    out += "\npg_stat_activity (pid|client_port|state|wait|blocked by|xact age|query):\n";
    auto activity = pg_.psql(
        name_, "SELECT pid, client_port, state, coalesce(wait_event_type || ':' || wait_event, ''), "
               "pg_blocking_pids(pid), clock_timestamp() - xact_start, left(regexp_replace(query, '\\s+', ' ', "
               "'g'), 100) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
    out += activity ? *activity : activity.error().message;
    out += "\nservers:\n";
    for (const auto& m : members()) out += fmt::format(" server-{}\n", m.index) + processState(m.pid, pg_.port());
    return out;
  }

  // Every 250 ms, asks each live server who it thinks leads: one that says it leads while the
  // lease it last read expired over a second ago has stopped renewing (a renewal every TTL/3)
  // without stepping down; one that does not answer at all may be stalled whole. Diagnostic only (fencing makes such a leader harmless, and the
  // trial's own checks judge the outcome): what it and PostgreSQL are doing then is printed,
  // once per server and term, for the record.
  void watch() {
    std::set<std::string> reported;
    while (!stop_watch_) {
      for (const auto& m : members()) {
        auto r = httpRequest(m.url + "/api/v1/cluster", "GET", "", {{"Authorization", "Bearer " + m.token}}, 2s);
        if (!r && r.error().code == ErrorCode::Timeout && ::kill(m.pid, 0) == 0 &&
            reported.insert(fmt::format("{}/pid {}", m.index, m.pid)).second) {
          // Alive (not killed by the trial) but not answering: the whole process may be stalled.
          std::printf("%s: server-%zu (pid %d) did not answer GET /api/v1/cluster: %s\n%s\n", name_.c_str(), m.index,
                      static_cast<int>(m.pid), r.error().message.c_str(), stuck().c_str());
          std::fflush(stdout);
        }
        if (!r || r->status != 200) continue;
        bjson::error_code ec;
        auto v = bjson::parse(r->body, ec);
        const auto* role = ec || !v.is_object() ? nullptr : v.as_object().if_contains("role");
        const auto* leader = ec || !v.is_object() ? nullptr : v.as_object().if_contains("leader");
        const auto* until = leader != nullptr && leader->is_object() ? leader->as_object().if_contains("leaseExpiresAt")
                                                                     : nullptr;
        if (role == nullptr || !role->is_string() || role->as_string() != "leader" || until == nullptr ||
            !until->is_string()) {
          continue;
        }
        const auto expires = parseTimestamp(std::string(until->as_string()));
        if (!expires || std::chrono::system_clock::now() - *expires < 1s) continue;
        const auto key = fmt::format("{}/{}", m.index, bjson::serialize(*leader));
        if (!reported.insert(key).second) continue;
        std::printf("%s: server-%zu says it leads, but the lease it last read expired at %s: it stopped renewing\n%s\n",
                    name_.c_str(), m.index, std::string(until->as_string()).c_str(), stuck().c_str());
        std::fflush(stdout);
      }
      std::unique_lock lock(members_mu_);
      watch_cv_.wait_for(lock, 250ms, [this] { return stop_watch_.load(); });
    }
  }

  void runTrials() {
    const auto began = std::chrono::steady_clock::now();
    std::mt19937 random(seed_);
    auto db = pg_.createDatabase(name_);
    ASSERT_TRUE(db) << db.error().message;
    TempDir dir("runway-" + name_);
    Cluster cluster(dir, pg_.url(name_), kLocalCanary);
    for (std::size_t i = 0; i < server_count_; ++i) ASSERT_TRUE(cluster.start(i));
    publish(cluster);
    std::thread watchdog([this] { watch(); });
    struct StopWatch {
      FailoverLane* lane;
      std::thread& thread;
      ~StopWatch() {
        {
          std::lock_guard lock(lane->members_mu_);
          lane->stop_watch_ = true;
        }
        lane->watch_cv_.notify_all();
        thread.join();
      }
    } stop_watch{this, watchdog};
    std::optional<std::size_t> leader;
    ASSERT_TRUE(pollUntil([&] { return (leader = cluster.leader()).has_value(); }, deadlineIn(30s)))
        << cluster.logs();
    const std::size_t follower = (*leader + 1) % server_count_;

    // The first release, deployed through a follower: forwarded to the leader.
    std::string error;
    const std::string v1 = cluster.at(follower).deploy("canary", "v1", &error);
    ASSERT_FALSE(v1.empty()) << error;
    ASSERT_EQ(cluster.at(follower).waitTerminal(v1, 90s), "Succeeded") << cluster.logs();
    const std::string address = cluster.at(*leader).serviceAddress("canary", "web");
    ASSERT_FALSE(address.empty());
    // One request every 10 ms: several lanes run at once on a small machine.
    LoadGenerator load("http://" + address + "/", 10ms);
    const auto tally = [&] {
      ok_ = load.ok();
      failed_ = load.failed();
      seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    };

    for (int trial = 0; trial < trials_; ++trial) {
      SCOPED_TRACE(fmt::format("trial {} of {}", trial + 1, trials_));
      ASSERT_TRUE(pollUntil([&] { return (leader = cluster.leader()).has_value(); }, deadlineIn(30s)))
          << cluster.logs();
      const std::size_t via = random() % server_count_;
      const std::string version = fmt::format("v{}", trial + 2);
      // As a client does: a 503 with Retry-After that wrote nothing (the lease just changed
      // hands, the new term's controller is starting) is tried again.
      std::string id;
      ASSERT_TRUE(pollUntil(
          [&] {
            id = cluster.at(via).deploy("canary", version, &error);
            // Only refusals that wrote nothing: a leader that did not answer a forwarded request
            // leaves its outcome unknown, and is a failure here.
            return !id.empty() || (error.find("does not lead") == std::string::npos &&
                                   error.find("no server leads") == std::string::npos);
          },
          deadlineIn(kTtl + 10s), 250ms))
          << error;
      ASSERT_FALSE(id.empty()) << error;
      // A random moment of the canary (about 3 s of steps and pauses, then its end): before
      // its first step, in a pause, at a weight change, or once it is over.
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % kCanaryMs));
      // Exactly one server says it leads (a deposed one says so at most until its next renewal:
      // not across the random wait above).
      std::string views;
      int leading = 0;
      for (std::size_t i = 0; i < cluster.size(); ++i) {
        if (!cluster.alive(i)) continue;
        auto v = clusterOf(cluster.at(i));
        views += fmt::format("server-{}: {}\n", i, bjson::serialize(v));
        if (v.is_object() && v.at("role").as_string() == "leader") ++leading;
      }
      EXPECT_EQ(leading, 1) << views << cluster.keyLines() << stuck();
      const auto old_term = termOf(cluster.at(*leader));
      ASSERT_GT(old_term, 0) << views << cluster.keyLines() << stuck();
      const auto killed_at = std::chrono::steady_clock::now();
      const auto killed_wall = std::chrono::system_clock::now();
      std::printf("%s trial %d: deployed %s through server-%zu; killing server-%zu (term %lld) at %s\n",
                  name_.c_str(), trial + 1, version.c_str(), via, *leader, static_cast<long long>(old_term),
                  formatTimestamp(std::chrono::time_point_cast<std::chrono::milliseconds>(killed_wall)).c_str());
      std::fflush(stdout);
      cluster.kill9(*leader);
      publish(cluster);
      std::optional<std::size_t> next;
      const bool taken = pollUntil(
          [&] {
            for (std::size_t i = 0; i < cluster.size(); ++i) {
              if (cluster.alive(i) && leads(cluster.at(i), old_term)) {
                next = i;
                return true;
              }
            }
            return false;
          },
          deadlineIn(kTtl + 1s), 10ms);
      if (!taken) {
        // Past the promise: say what everything is doing now, then wait on for the record.
        ADD_FAILURE() << "no server leads " << std::chrono::milliseconds(kTtl + 1s).count() << " ms after the kill\n"
                      << stuck();
        ASSERT_TRUE(pollUntil(
            [&] {
              for (std::size_t i = 0; i < cluster.size(); ++i) {
                if (cluster.alive(i) && leads(cluster.at(i), old_term)) {
                  next = i;
                  return true;
                }
              }
              return false;
            },
            deadlineIn(30s), 10ms))
            << cluster.logs();
      }
      const auto seen =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at);
      // When it took the lease, by its own clock (the same machine's): the takeover itself,
      // without the time this test's polling took to see it on a loaded machine.
      const auto took = leaseTakenAfter(cluster.at(*next), killed_wall);
      takeover_ms_.push_back(static_cast<long>(took.count()));
      seen_ms_.push_back(static_cast<long>(seen.count()));
      EXPECT_LE(took, kTtl + 1s) << "server " << *next << " took the lease " << took.count() << " ms after the kill";
      EXPECT_GT(took.count(), 0) << cluster.keyLines();
      EXPECT_LE(seen, took + 2s) << "the test saw it " << seen.count() << " ms after the kill\n"
                                 << cluster.keyLines() << stuck();
      ASSERT_TRUE(cluster.start(*leader));  // back, as a follower
      publish(cluster);
      const auto state = cluster.at(*next).waitTerminal(id, 120s);
      ASSERT_EQ(state, "Succeeded") << stuck() << cluster.logs();
      const auto kinds = eventKinds(cluster.at(*next), id);
      EXPECT_EQ(countOf(kinds, "step.started"), 5) << fmt::format("{}", fmt::join(kinds, " "));
      EXPECT_EQ(countOf(kinds, "step.skipped"), 0);
      tally();
    }
    load.stop();
    tally();
    EXPECT_GT(load.ok(), 100);
    EXPECT_EQ(load.failed(), 0) << load.firstFailure();
    ASSERT_TRUE(pollUntil([&] { return (leader = cluster.leader()).has_value(); }, deadlineIn(30s)));
    auto verified = cluster.at(*leader).getJson("/api/v1/audit/verify");
    ASSERT_TRUE(verified.is_object());
    EXPECT_TRUE(verified.at("intact").as_bool()) << bjson::serialize(verified);
  }

  const PostgresServer& pg_;
  std::size_t server_count_;
  std::string name_;
  std::uint32_t seed_;
  int trials_;
  std::vector<long> takeover_ms_;
  std::vector<long> seen_ms_;
  int ok_ = 0;
  int failed_ = 0;
  double seconds_ = 0;
  mutable std::mutex members_mu_;
  std::vector<Member> members_;
  std::condition_variable watch_cv_;
  std::atomic<bool> stop_watch_{false};
};

// One ctest entry per cluster size: `lanes` failover lanes at once on one PostgreSQL (a
// database each), each running `trials` trials. CI: RUNWAY_HA_LANES (default 3) lanes of
// RUNWAY_HA_TRIALS (default 5) trials with two servers and with three, 30 kill -9 trials in all;
// the seed of each lane is derived from RUNWAY_HA_SEED (default 18). More lanes in one entry
// rather than more entries: an entry's lanes wait side by side in one of ctest's slots.
class ClusterFailoverTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(ClusterFailoverTest, TheLeaderKilledMidCanaryAnotherTakesOverWithinTheLease) {
  ASSERT_TRUE(std::filesystem::exists(binaryPath("runway-demo-app")));
  const std::size_t servers = GetParam();
  const int lanes = std::max(1, envInt("RUNWAY_HA_LANES", 3));
  const int trials = envInt("RUNWAY_HA_TRIALS", 5);
  const auto seed = static_cast<std::uint32_t>(envInt("RUNWAY_HA_SEED", 18));
  auto pg = PostgresServer::start({fmt::format("runway-pg-cluster{}", servers), std::nullopt});
  ASSERT_TRUE(pg) << pg.error().message;
  std::vector<std::unique_ptr<FailoverLane>> runs;
  for (int lane = 0; lane < lanes; ++lane) {
    // Distinct and repeatable: the same RUNWAY_HA_SEED gives each lane the same kill moments.
    const auto lane_seed = seed + static_cast<std::uint32_t>(1000 * servers) + static_cast<std::uint32_t>(lane);
    runs.push_back(std::make_unique<FailoverLane>(**pg, servers, fmt::format("s{}l{}", servers, lane), lane_seed,
                                                  trials));
  }
  std::vector<std::thread> threads;
  for (auto& run : runs) threads.emplace_back([&run] { run->run(); });
  for (auto& t : threads) t.join();
  int total = 0;
  for (const auto& run : runs) {
    std::printf("%s", run->summary().c_str());
    total += run->trialsRun();
  }
  std::printf("failover with %zu servers: %d kill -9 trials in %d lanes\n", servers, total, lanes);
  EXPECT_EQ(total, lanes * trials);
}

INSTANTIATE_TEST_SUITE_P(Failover, ClusterFailoverTest, ::testing::Values(std::size_t{2}, std::size_t{3}),
                         [](const ::testing::TestParamInfo<std::size_t>& servers) {
                           return std::string(servers.param == 2 ? "TwoServers" : "ThreeServers");
                         });

TEST(ClusterTest, ALeaderPausedPastItsLeaseIsFencedAndStepsDown) {
  ASSERT_TRUE(std::filesystem::exists(binaryPath("runway-demo-app")));
  auto pg = PostgresServer::start({"runway-pg-fence", std::nullopt});
  ASSERT_TRUE(pg) << pg.error().message;
  TempDir dir("runway-fence");
  Cluster cluster(dir, (*pg)->url("postgres"), kLocalCanary);
  ASSERT_TRUE(cluster.start(0));
  ASSERT_TRUE(pollUntil([&] { return cluster.leader() == std::optional<std::size_t>(0); }, deadlineIn(30s)));
  ASSERT_TRUE(cluster.start(1));
  auto& old_leader = cluster.at(0);
  auto& other = cluster.at(1);
  std::string error;
  const std::string v1 = other.deploy("canary", "v1", &error);  // forwarded to server-0
  ASSERT_FALSE(v1.empty()) << error;
  ASSERT_EQ(other.waitTerminal(v1, 90s), "Succeeded") << cluster.logs();
  const std::string address = old_leader.serviceAddress("canary", "web");
  ASSERT_FALSE(address.empty());
  LoadGenerator load("http://" + address + "/");
  const std::string v2 = old_leader.deploy("canary", "v2", &error);
  ASSERT_FALSE(v2.empty()) << error;
  // In its first pause: the pause ends while server-0 is stopped, so that, resumed, its
  // controller wants to commit the next step at once.
  ASSERT_TRUE(pollUntil([&] { return countOf(eventKinds(other, v2), "step.started") >= 2; }, deadlineIn(60s)));
  const auto old_term = termOf(old_leader);
  ASSERT_GT(old_term, 0);
  const auto stopped_wall = std::chrono::system_clock::now();
  ASSERT_TRUE(old_leader.signal(SIGSTOP));
  // server-1 takes the lease once it has expired...
  ASSERT_TRUE(pollUntil([&] { return leads(other, old_term); }, deadlineIn(kTtl + 10s), 10ms)) << cluster.logs();
  const auto took = leaseTakenAfter(other, stopped_wall);
  std::printf("server-1 holds the lease %ld ms after server-0 was stopped\n", static_cast<long>(took.count()));
  EXPECT_LE(took, kTtl + 1s);
  // ... but does not drive the local runtime beside a process that may still push a routing
  // table: it waits for the data directory's lock, which the paused one holds.
  ASSERT_TRUE(pollUntil([&] { return logOf(other.logPath()).find("waiting for") != std::string::npos; },
                        deadlineIn(10s)))
      << cluster.logs();
  EXPECT_FALSE(ready(other));
  ASSERT_TRUE(old_leader.signal(SIGCONT));
  const auto resumed_at = std::chrono::steady_clock::now();
  // Resumed: its first write is refused or its renewal finds another holder; it follows.
  ASSERT_TRUE(pollUntil(
      [&] {
        auto v = clusterOf(old_leader);
        return v.is_object() && v.at("role").as_string() == "follower";
      },
      deadlineIn(15s)))
      << cluster.logs();
  ASSERT_TRUE(pollUntil([&] { return ready(other); }, deadlineIn(30s))) << cluster.logs();
  std::printf("server-1 ready (its controller recovered) %ld ms after server-0 was resumed\n",
              static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - resumed_at)
                                    .count()));
  ASSERT_EQ(other.waitTerminal(v2, 90s), "Succeeded") << cluster.logs();
  load.stop();
  const auto old_log = logOf(old_leader.logPath());
  EXPECT_NE(old_log.find("stepping down"), std::string::npos) << old_log;
  std::printf("server-0, resumed: %s\n", old_log.find("write refused") != std::string::npos
                                              ? "its controller tried to write and was refused"
                                              : "stepped down at its renewal before its controller wrote");
  // Nothing it tried is visible: each step once, one success, the chain intact, the new term
  // in force, and the users saw nothing.
  const auto kinds = eventKinds(other, v2);
  EXPECT_EQ(countOf(kinds, "step.started"), 5) << fmt::format("{}", fmt::join(kinds, " "));
  EXPECT_EQ(countOf(kinds, "deployment.succeeded"), 1) << fmt::format("{}", fmt::join(kinds, " "));
  EXPECT_GT(termOf(other), old_term);
  auto verified = other.getJson("/api/v1/audit/verify");
  ASSERT_TRUE(verified.is_object());
  EXPECT_TRUE(verified.at("intact").as_bool()) << bjson::serialize(verified);
  std::printf("requests through the router: %d ok, %d failed\n", load.ok(), load.failed());
  EXPECT_EQ(load.failed(), 0) << load.firstFailure();
  // The old leader forwards writes again: a deploy through it lands on the new leader.
  const std::string v3 = old_leader.deploy("canary", "v3", &error);
  ASSERT_FALSE(v3.empty()) << error;
  EXPECT_EQ(other.waitTerminal(v3, 90s), "Succeeded") << cluster.logs();
}

}  // namespace
}  // namespace runway::test
