// bench_scale: many concurrent production canaries through one real `runway serve` (issue 18,
// point 4). Argo Rollouts grows to 11–14 GB and restarts at 10–13k Rollouts; Flagger stalls
// near 50 canaries. Here every deployment is started through the API, driven by the real
// controller, and committed to the real store, on SQLite and on PostgreSQL in the same run:
//
//   1. a configuration of N environments on the simulated runtime (no processes; instances
//      Ready after a delay, statistics from a seeded model), each with the runbook's production
//      canary: 10 % → pause → 50 % → pause → 100 %, with background analysis of the error rate
//      measured on the model;
//   2. `runway serve` on SQLite, then on a real PostgreSQL 15 started here;
//   3. the first release everywhere (deployments committed per second, POST latency), then the
//      second release everywhere, as canaries that are all live at once, while a reader GETs
//      deployments and environments; RSS of the server sampled each second (and its peak,
//      VmHWM), the controller's reconcile histogram (runway_reconcile_duration_seconds) over
//      the canary phase, API latency percentiles, and how many canaries succeeded.
//
// The clock is the wall clock (`runway serve` has no accelerated clock), so the pauses last
// what they say. Prints one block per store and a comparison; the goals (≤ 200 MB RSS,
// reconcile p99 ≤ 10 ms, API p99 ≤ 50 ms) are printed beside the figures.
//
//   bench_scale [--deployments N] [--clients C] [--pause SECONDS] [--services S] [--stores sqlite,postgres]

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "integration/serve/serve_fixture.hpp"
#include "support/http.hpp"
#include "support/postgres.hpp"
#include "support/temp_dir.hpp"

namespace runway::bench {
namespace {

using namespace std::chrono_literals;
using test::HttpClient;
using test::HttpHeaders;
using test::HttpRequest;
using Clock = std::chrono::steady_clock;

struct Options {
  int deployments = 10000;
  int clients = 8;
  int pause_seconds = 60;
  int services = 5;
  std::vector<std::string> stores = {"sqlite", "postgres"};
};

std::string environmentName(int i) { return fmt::format("e{:05d}", i); }

std::string configYaml(const Options& o) {
  std::string y = "apiVersion: runway/v1\nkind: Application\nmetadata: {name: shop}\nspec:\n  services:\n";
  for (int s = 0; s < o.services; ++s) {
    y += fmt::format(
        "    - name: svc{}\n      local: {{command: [\"never-started\"]}}\n      instances: 3\n", s);
  }
  y += R"(---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata: {name: error-rate}
spec:
  metrics:
    - name: error-rate
      provider: builtin
      query: error_rate
      window: 30s
      initialDelay: 10s
      interval: 30s
      failureCondition: "result > 0.05"
      noData: inconclusive
)";
  for (int i = 0; i < o.deployments; ++i) {
    y += fmt::format(R"(---
apiVersion: runway/v1
kind: Environment
metadata: {{name: {}}}
spec:
  runtime: {{simulated: {{readyAfter: 2s, requestsPerSecond: 100, errorRate: 0.001, latencyP95: 120ms, seed: {}}}}}
  strategy: canary
  canary:
    steps:
      - setWeight: 10
      - pause: {{duration: {}s}}
      - setWeight: 50
      - pause: {{duration: {}s}}
      - setWeight: 100
    analysis: {{templates: [error-rate], startingStep: 0}}
  progressDeadline: 30m
)",
                     environmentName(i), i, o.pause_seconds, o.pause_seconds);
  }
  return y;
}

// Latencies in milliseconds, merged from the client threads.
class Latencies {
 public:
  void add(std::vector<double> more) {
    std::lock_guard lock(mu_);
    all_.insert(all_.end(), more.begin(), more.end());
  }
  std::string summary() {
    std::lock_guard lock(mu_);
    if (all_.empty()) return "no requests";
    std::sort(all_.begin(), all_.end());
    const auto at = [&](double q) {
      return all_[std::min(all_.size() - 1, static_cast<std::size_t>(q * static_cast<double>(all_.size())))];
    };
    return fmt::format("n={} p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms", all_.size(), at(0.5),
                       at(0.99), all_.back());
  }
  double p99() {
    std::lock_guard lock(mu_);
    if (all_.empty()) return 0;
    std::sort(all_.begin(), all_.end());
    return all_[std::min(all_.size() - 1, static_cast<std::size_t>(0.99 * static_cast<double>(all_.size())))];
  }

 private:
  std::mutex mu_;
  std::vector<double> all_;
};

long statusKb(pid_t pid, const char* field) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  }
  return 0;
}

struct Histogram {
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count)
  double count = 0;
};

Histogram reconcileHistogram(const std::string& metrics) {
  Histogram h;
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("runway_reconcile_duration_seconds_bucket{le=\"", 0) == 0) {
      const auto q = line.find('"') + 1;
      const auto q2 = line.find('"', q);
      const std::string le = line.substr(q, q2 - q);
      const double bound = le == "+Inf" ? 1e300 : std::stod(le);
      h.buckets.emplace_back(bound, std::stod(line.substr(line.rfind(' ') + 1)));
    } else if (line.rfind("runway_reconcile_duration_seconds_count ", 0) == 0) {
      h.count = std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return h;
}

// The smallest bucket bound under which fraction `q` of the reconciles between `a` and `b` fell.
std::string quantileBound(const Histogram& a, const Histogram& b, double q) {
  const double n = b.count - a.count;
  if (n <= 0 || a.buckets.size() != b.buckets.size()) return "n/a";
  for (std::size_t i = 0; i < b.buckets.size(); ++i) {
    if (b.buckets[i].second - a.buckets[i].second >= q * n) {
      return b.buckets[i].first >= 1e300 ? "> 5 s" : fmt::format("≤ {:g} ms", b.buckets[i].first * 1000);
    }
  }
  return "n/a";
}

std::map<std::string, long> livePhases(const std::string& metrics) {
  std::map<std::string, long> out;
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("runway_deployments{phase=\"", 0) != 0) continue;
    const auto q = line.find('"') + 1;
    const auto q2 = line.find('"', q);
    out[line.substr(q, q2 - q)] = std::stol(line.substr(line.rfind(' ') + 1));
  }
  return out;
}

long liveCount(const std::map<std::string, long>& phases) {
  long n = 0;
  for (const auto& [phase, count] : phases) {
    if (phase != "Succeeded") n += count;  // Succeeded: terminal, kept only while watched
  }
  return n;
}

class Run {
 public:
  Run(const Options& o, std::string store) : o_(o), store_(std::move(store)), dir_("runway-bench-scale") {}

  int run() {
    std::unique_ptr<test::PostgresServer> pg;
    test::ServeFixture server(dir_.path());
    if (store_ == "postgres") {
      auto started = test::PostgresServer::start({"runway-bench-pg", std::nullopt});
      if (!started) return fail("PostgreSQL: " + started.error().message);
      pg = std::move(*started);
      server.extra_args = {"--store", pg->url("postgres")};
    }
    server.writeConfig(configYaml(o_));
    const auto boot = Clock::now();
    if (auto s = server.start(); !s) return fail("runway serve: " + s.error().message);
    fmt::print("[{}] runway serve up with {} environments in {:.1f} s, RSS {} MB\n", store_,
               o_.deployments, seconds(Clock::now() - boot), statusKb(server.pid(), "VmRSS") / 1024);
    url_ = server.url();
    token_ = server.adminToken();
    pid_ = server.pid();

    // 1. The first release everywhere: what committing deployments costs.
    Latencies first_posts;
    const auto t1 = Clock::now();
    if (!deployEverywhere("v1", first_posts, nullptr)) return fail("the first release was refused");
    const double post_seconds = seconds(Clock::now() - t1);
    if (!waitQuiet(30min)) return fail("the first release did not end");
    const double first_seconds = seconds(Clock::now() - t1);
    commits_per_second_ = o_.deployments / post_seconds;
    fmt::print("[{}] first release: {} deployments committed in {:.1f} s = {:.0f}/s (POST {}); all ended after {:.1f} s\n",
               store_, o_.deployments, post_seconds, commits_per_second_, first_posts.summary(), first_seconds);

    // 2. The second release everywhere, as canaries all live at once.
    const Histogram before = reconcileHistogram(metrics());
    std::atomic<bool> done{false};
    Latencies reads;
    std::atomic<long> peak_live{0};
    std::atomic<long> rss_at_peak{0};
    std::atomic<long> rss_max{0};
    std::thread sampler([&] {
      while (!done) {
        const long rss = statusKb(pid_, "VmRSS");
        rss_max = std::max(rss_max.load(), rss);
        const long live = liveCount(livePhases(metrics()));
        if (live > peak_live) {
          peak_live = live;
          rss_at_peak = rss;
        }
        for (int i = 0; i < 10 && !done; ++i) std::this_thread::sleep_for(100ms);
      }
    });
    std::vector<std::string> ids(static_cast<std::size_t>(o_.deployments));
    std::thread reader([&] {
      HttpClient client;
      std::mt19937 rng(7);
      std::vector<double> ms;
      while (!done) {
        const int i = static_cast<int>(rng() % static_cast<unsigned>(o_.deployments));
        const std::string path = (rng() % 2 == 0 && !ids[static_cast<std::size_t>(i)].empty())
                                     ? "/api/v1/deployments/" + ids[static_cast<std::size_t>(i)]
                                     : "/api/v1/environments/" + environmentName(i);
        const auto t = Clock::now();
        auto r = client.request(request("GET", path, ""));
        if (r && r->status == 200) ms.push_back(millis(Clock::now() - t));
        if (ms.size() >= 1000) reads.add(std::exchange(ms, {}));
      }
      reads.add(std::move(ms));
    });
    Latencies canary_posts;
    const auto t2 = Clock::now();
    const bool posted = deployEverywhere("v2", canary_posts, &ids);
    const double start_seconds = seconds(Clock::now() - t2);
    const bool ended = posted && waitQuiet(o_.pause_seconds * 4s + 30min);
    const double canary_seconds = seconds(Clock::now() - t2);
    done = true;
    reader.join();
    sampler.join();
    const Histogram after = reconcileHistogram(metrics());
    if (!posted) return fail("the second release was refused");
    if (!ended) return fail("the canaries did not end");
    int succeeded = 0;
    std::map<std::string, int> other;
    {
      HttpClient client;
      for (const auto& id : ids) {
        auto r = client.request(request("GET", "/api/v1/deployments/" + id, ""));
        const std::string phase =
            r && r->status == 200 ? std::string(boost::json::parse(r->body).at("phase").as_string()) : "?";
        if (phase == "Succeeded") {
          ++succeeded;
        } else {
          other[phase]++;
        }
      }
    }
    const long hwm = statusKb(pid_, "VmHWM");
    fmt::print("[{}] canaries: {} started in {:.1f} s (POST {}); peak {} live at once; ended after {:.1f} s; {} succeeded",
               store_, o_.deployments, start_seconds, canary_posts.summary(), peak_live.load(),
               canary_seconds, succeeded);
    for (const auto& [phase, n] : other) fmt::print(", {} {}", n, phase);
    fmt::print("\n[{}] memory: RSS {} MB at the peak of live canaries, max sampled {} MB, VmHWM {} MB (goal ≤ 200 MB)\n",
               store_, rss_at_peak.load() / 1024, rss_max.load() / 1024, hwm / 1024);
    fmt::print("[{}] reconcile: {:.0f} during the canaries, p50 {}, p99 {}, p99.9 {} (goal p99 ≤ 10 ms)\n",
               store_, after.count - before.count, quantileBound(before, after, 0.5),
               quantileBound(before, after, 0.99), quantileBound(before, after, 0.999));
    fmt::print("[{}] API while they ran: GET {} ; POST {} (goal p99 ≤ 50 ms)\n", store_, reads.summary(),
               canary_posts.summary());
    result_ = fmt::format("| {} | {:.0f}/s | {:.1f} ms | {:.1f} ms | {} | {} / {} MB | {} | {:.1f} ms | {}/{} |",
                          store_, commits_per_second_, first_posts.p99(), canary_posts.p99(), peak_live.load(),
                          rss_at_peak.load() / 1024, hwm / 1024, quantileBound(before, after, 0.99),
                          reads.p99(), succeeded, o_.deployments);
    (void)server.down();
    return 0;
  }

  const std::string& result() const { return result_; }

 private:
  static double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
  static double millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

  int fail(const std::string& what) {
    fmt::print(stderr, "[{}] FAILED: {} (server log: {})\n", store_, what, (dir_.path() / "serve.log").string());
    result_ = fmt::format("| {} | failed: {} |", store_, what);
    return 1;
  }

  HttpRequest request(const std::string& method, const std::string& path, std::string body) const {
    HttpRequest r;
    r.url = url_ + path;
    r.method = method;
    r.body = std::move(body);
    r.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token_}};
    r.timeout = 60s;
    return r;
  }

  std::string metrics() const {
    auto r = test::httpRequest(request("GET", "/metrics", ""));
    return r && r->status == 200 ? r->body : "";
  }

  // POSTs a deployment of `version` to every environment from o_.clients threads.
  bool deployEverywhere(const std::string& version, Latencies& latencies, std::vector<std::string>* ids) {
    std::atomic<int> next{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < o_.clients; ++c) {
      threads.emplace_back([&] {
        HttpClient client;
        std::vector<double> ms;
        for (int i = next++; i < o_.deployments; i = next++) {
          const auto t = Clock::now();
          auto r = client.request(request(
              "POST", "/api/v1/deployments",
              fmt::format(R"({{"environment":"{}","version":"{}"}})", environmentName(i), version)));
          if (!r || r->status != 201) {
            if (refused++ < 3) {
              fmt::print(stderr, "[{}] deploy {} to {}: {}\n", store_, version, environmentName(i),
                         r ? fmt::format("{} {}", r->status, r->body) : r.error().message);
            }
            continue;
          }
          ms.push_back(millis(Clock::now() - t));
          if (ids != nullptr) {
            (*ids)[static_cast<std::size_t>(i)] =
                std::string(boost::json::parse(r->body).at("deployment").as_string());
          }
        }
        latencies.add(std::move(ms));
      });
    }
    for (auto& t : threads) t.join();
    return refused == 0;
  }

  // Until no deployment is live (every one ended), or `limit`.
  bool waitQuiet(Clock::duration limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      const auto phases = livePhases(metrics());
      if (!phases.empty() && liveCount(phases) == 0) return true;
      std::this_thread::sleep_for(500ms);
    }
    return false;
  }

  const Options& o_;
  std::string store_;
  test::TempDir dir_;
  std::string url_;
  std::string token_;
  pid_t pid_ = 0;
  double commits_per_second_ = 0;
  std::string result_;
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) out.push_back(part);
  return out;
}

}  // namespace
}  // namespace runway::bench

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress as it happens, also into a file
  runway::bench::Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--deployments") {
      o.deployments = std::stoi(value);
    } else if (flag == "--clients") {
      o.clients = std::stoi(value);
    } else if (flag == "--pause") {
      o.pause_seconds = std::stoi(value);
    } else if (flag == "--services") {
      o.services = std::stoi(value);
    } else if (flag == "--stores") {
      o.stores = runway::bench::split(value);
    } else {
      fmt::print(stderr, "bench_scale: unknown flag {}\n", flag);
      return 2;
    }
  }
  if ((argc - 1) % 2 != 0 || o.deployments < 1 || o.clients < 1 || o.pause_seconds < 1 || o.services < 1) {
    fmt::print(stderr,
               "usage: bench_scale [--deployments N] [--clients C] [--pause SECONDS] [--services S] "
               "[--stores sqlite,postgres]\n");
    return 2;
  }
  fmt::print("bench_scale: {} environments on the simulated runtime, {} service(s) of 3 instances each; canary "
             "10% -> {}s -> 50% -> {}s -> 100% with background error-rate analysis every 30 s; {} API clients; "
             "{} CPUs\n",
             o.deployments, o.services, o.pause_seconds, o.pause_seconds, o.clients,
             std::thread::hardware_concurrency());
  std::vector<std::string> rows;
  int failed = 0;
  for (const auto& store : o.stores) {
    if (store != "sqlite" && store != "postgres") {
      fmt::print(stderr, "bench_scale: unknown store {} (sqlite or postgres)\n", store);
      return 2;
    }
    runway::bench::Run run(o, store);
    failed += run.run();
    rows.push_back(run.result());
  }
  fmt::print("\n| store | first release committed | POST p99 (first) | POST p99 (canaries) | peak live | RSS at peak / VmHWM | "
             "reconcile p99 | GET p99 | succeeded |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows) fmt::print("{}\n", r);
  return failed == 0 ? 0 : 1;
}
