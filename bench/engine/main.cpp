// bench_engine: 10,000 concurrent deployments driven through the runbook's production canary
// (dual approval, change window, 10 %/15 min, 50 %/15 min, 100 %/30 min, background analysis
// of three metrics measured every minute, 24 h post-deploy watch) in simulated time, on one
// thread. Prints engine transitions per second and the size of the serialized state.
//
//   bench_engine [deployments] [analysis-interval-seconds]

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/engine/engine.hpp"
#include "runway/engine/json.hpp"
#include "runway/engine/spec.hpp"

namespace {

using namespace runway;
using namespace runway::engine;
using namespace std::chrono_literals;

config::CanaryStep weight(int w) {
  config::CanaryStep s;
  s.kind = config::CanaryStep::Kind::SetWeight;
  s.weight = w;
  return s;
}
config::CanaryStep pause(Duration d) {
  config::CanaryStep s;
  s.kind = config::CanaryStep::Kind::Pause;
  s.pause = d;
  return s;
}

std::shared_ptr<const DeploymentSpec> productionSpec() {
  config::Application app;
  app.name = "insurance-lead-gen";
  for (const char* n : {"api", "backend", "data-service", "orchestrator", "frontend"}) {
    config::Service s;
    s.name = n;
    s.instances = 3;
    app.services.push_back(s);
  }
  std::vector<config::AnalysisTemplate> templates;
  for (const char* n : {"error-rate", "latency-p95", "availability"}) {
    config::MetricSpec m;
    m.name = n;
    templates.push_back({n, {m}, {}});
  }
  config::Environment e;
  e.name = "production";
  e.strategy = config::StrategyKind::Canary;
  e.promotes_from = "staging";
  e.canary.steps = {weight(10), pause(15min), weight(50), pause(15min), weight(100), pause(30min)};
  config::BackgroundAnalysis bg;
  bg.analysis.templates = {"error-rate", "latency-p95", "availability"};
  e.canary.analysis = bg;
  e.approvals.roles = {"tech-lead", "product-manager"};
  e.force_deploy = config::ForceDeployPolicy::Forbidden;
  e.promote_full_allowed = false;
  config::ChangeWindow w;
  w.days = {config::Weekday::Tue, config::Weekday::Wed, config::Weekday::Thu};
  w.start_minute = 10 * 60;
  w.end_minute = 16 * 60;
  e.windows = {w};
  e.post_deploy.duration = 24h;
  e.post_deploy.analysis.templates = {"error-rate"};
  e.incident_on_rollback = true;
  auto spec = buildSpec(e, app, templates);
  if (!spec) {
    std::fprintf(stderr, "spec: %s\n", spec.error().message.c_str());
    std::exit(1);
  }
  return std::make_shared<const DeploymentSpec>(std::move(*spec));
}

struct Deployment {
  DeploymentState state;
  std::optional<TimePoint> wake;
  std::uint32_t analysis_run = 0;  // the running background or watch run
  std::vector<std::string> metrics;
};

// The simulated world: runtime reports answer StartVersion / SetTraffic at once.
class World {
 public:
  World(bool copying) : copying_(copying) { actions_.reserve(64); }

  std::uint64_t transitions = 0;
  std::size_t max_state_bytes = 0;

  void feed(Deployment& d, Input in, TimePoint now) {
    pending_.clear();
    pending_.push_back(std::move(in));
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      actions_.clear();
      if (copying_) {
        Step s = step(d.state, pending_[i], now);
        d.state = std::move(s.state);
        actions_ = std::move(s.actions);
      } else {
        (void)apply(d.state, pending_[i], now, actions_);
      }
      ++transitions;
      for (const auto& a : actions_) react(d, a);
    }
  }

 private:
  void react(Deployment& d, const Action& a) {
    if (const auto* sv = std::get_if<StartVersion>(&a)) {
      pending_.push_back(RuntimeReport{sv->service, sv->version, sv->instances, 0, -1});
    } else if (const auto* t = std::get_if<SetTraffic>(&a)) {
      for (const auto& w : t->weights) {
        if (w.version == d.state.version) {
          pending_.push_back(RuntimeReport{t->service, w.version, 3, 0, w.weight});
        }
      }
    } else if (const auto* w = std::get_if<WakeAt>(&a)) {
      d.wake = w->at;
    } else if (const auto* an = std::get_if<StartAnalysis>(&a)) {
      d.analysis_run = an->run;
      d.metrics = an->templates;  // one metric per template, named like it
    } else if (const auto* st = std::get_if<StopAnalysis>(&a)) {
      if (st->run == d.analysis_run) d.analysis_run = 0;
    }
  }

  bool copying_;
  std::vector<Input> pending_;
  std::vector<Action> actions_;
};

struct BenchResult {
  std::uint64_t transitions = 0;
  double seconds = 0;      // wall clock
  double cpu_seconds = 0;  // this process's CPU time (the machine may be shared)
  double mid_state_bytes = 0;  // mean, mid-rollout (at 50 %)
  double end_state_bytes = 0;  // mean, at the end (Succeeded, watch done)
  std::size_t max_state_bytes = 0;
  int succeeded = 0;
};

BenchResult run(int count, Duration interval, bool copying) {
  auto spec = productionSpec();
  // Tuesday 24 November 2026, 09:30 UTC: half an hour before the window opens.
  const TimePoint t0 = fromUnixMillis(1'795'512'600'000);
  std::vector<Deployment> deps(static_cast<std::size_t>(count));
  World world(copying);
  BenchResult r;

  const auto wall = std::chrono::steady_clock::now();
  const std::clock_t cpu = std::clock();
  for (int i = 0; i < count; ++i) {
    Deployment& d = deps[static_cast<std::size_t>(i)];
    Start s;
    s.id = "dep-" + std::to_string(i);
    s.version = "v1.2.3";
    s.stable_version = "v1.2.2";
    for (const auto& sv : spec->services) s.artifacts.push_back({sv.name, "registry/" + sv.name + ":v1.2.3"});
    s.spec = spec;
    s.actor = "alice";
    s.reason = "release v1.2.3";
    s.succeeded_in_source = true;
    world.feed(d, std::move(s), t0);
    world.feed(d, ApprovalDecision{"bob", "tech-lead", true, ""}, t0);
    world.feed(d, ApprovalDecision{"carol", "product-manager", true, ""}, t0);
  }
  // Event loop over simulated time: timers and analysis measurements, every deployment
  // interleaved with every other.
  TimePoint now = t0;
  TimePoint next_measure = t0 + interval;
  std::size_t mid_bytes = 0;
  bool sampled = false;
  while (true) {
    std::optional<TimePoint> next;
    bool measuring = false;
    for (const auto& d : deps) {
      if (d.wake && (!next || *d.wake < *next)) next = d.wake;
      measuring = measuring || d.analysis_run != 0;
    }
    if (measuring && (!next || next_measure < *next)) next = next_measure;
    if (!next) break;
    now = *next;
    const bool measure = measuring && now >= next_measure;
    if (measure) next_measure = now + interval;
    for (auto& d : deps) {
      if (measure && d.analysis_run != 0) {
        for (const auto& m : d.metrics) {
          world.feed(d, AnalysisResult{d.analysis_run, m, Outcome::Successful, 0.001, false}, now);
        }
      }
      if (d.wake && *d.wake <= now) {
        d.wake.reset();
        world.feed(d, Timer{}, now);
      }
    }
    if (!sampled && deps[0].state.canary_weight == 50) {
      // Mid-rollout: the state is at its largest (runs, approvals, deadlines armed).
      sampled = true;
      for (const auto& d : deps) {
        const std::size_t bytes = stateToJson(d.state).size();
        mid_bytes += bytes;
        r.max_state_bytes = std::max(r.max_state_bytes, bytes);
      }
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
  r.cpu_seconds = static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC;
  r.transitions = world.transitions;
  std::size_t end_bytes = 0;
  if (std::getenv("BENCH_DUMP")) std::printf("%s\n", stateToJson(deps[0].state).c_str());
  for (const auto& d : deps) {
    if (d.state.phase == Phase::Succeeded) r.succeeded++;
    const std::size_t bytes = stateToJson(d.state).size();
    end_bytes += bytes;
    r.max_state_bytes = std::max(r.max_state_bytes, bytes);
  }
  r.mid_state_bytes = static_cast<double>(mid_bytes) / count;
  r.end_state_bytes = static_cast<double>(end_bytes) / count;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 10'000;
  const Duration interval{(argc > 2 ? std::atoll(argv[2]) : 60) * 1000};
  if (count <= 0 || interval <= Duration{0}) {
    std::fprintf(stderr, "usage: bench_engine [deployments] [analysis-interval-seconds]\n");
    return 2;
  }
  std::printf("production canary, %d concurrent deployments, analysis every %llds, one thread\n",
              count, static_cast<long long>(interval.count() / 1000));
  for (const bool copying : {false, true}) {
    BenchResult r = run(count, interval, copying);
    std::printf(
        "%-22s %llu transitions: %.3f s CPU = %.0f transitions/s (wall %.3f s = %.0f/s); "
        "succeeded %d/%d; state JSON per deployment: mean %.0f B mid-rollout, %.0f B at the "
        "end, max %zu B\n",
        copying ? "step() (copies state)" : "apply() (in place)",
        static_cast<unsigned long long>(r.transitions), r.cpu_seconds,
        static_cast<double>(r.transitions) / r.cpu_seconds, r.seconds,
        static_cast<double>(r.transitions) / r.seconds, r.succeeded, count, r.mid_state_bytes, r.end_state_bytes,
        r.max_state_bytes);
    if (r.succeeded != count) {
      std::fprintf(stderr, "not every deployment succeeded: the simulation is wrong\n");
      return 1;
    }
  }
  return 0;
}
