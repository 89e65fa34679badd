#pragma once

// Test harness for the engine: config builders for the runbook's environments, and a small
// simulated world that answers the engine's actions like a runtime would (instances become
// ready, traffic is applied) while the test decides analysis and check outcomes.

#include <algorithm>
#include <stdexcept>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/engine/engine.hpp"
#include "runway/engine/spec.hpp"

namespace runway::engine {
inline void PrintTo(Phase p, std::ostream* os) { *os << toString(p); }
inline void PrintTo(PauseReason p, std::ostream* os) { *os << toString(p); }
}  // namespace runway::engine

namespace runway::engine::testing {

using namespace std::chrono_literals;

// Days from the civil date (Howard Hinnant's algorithm).
inline TimePoint utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const long long days = static_cast<long long>(era) * 146097 + static_cast<long long>(doe) - 719468;
  return fromUnixMillis(((days * 24 + hh) * 60 + mm) * 60'000LL);
}

// Tuesday 24 November 2026, 11:00 UTC: inside the production change window.
inline TimePoint tuesdayMorning() { return utc(2026, 11, 24, 11, 0); }

inline config::MetricSpec metric(std::string name, int failure_limit = 0,
                                 int inconclusive_limit = 0, int consecutive_error_limit = 4,
                                 config::NoDataPolicy no_data = config::NoDataPolicy::Inconclusive) {
  config::MetricSpec m;
  m.name = std::move(name);
  m.failure_limit = failure_limit;
  m.inconclusive_limit = inconclusive_limit;
  m.consecutive_error_limit = consecutive_error_limit;
  m.no_data = no_data;
  return m;
}

inline std::vector<config::AnalysisTemplate> runbookTemplates() {
  return {
      {"error-rate", {metric("error-rate")}, {}},
      {"latency-p95", {metric("latency-p95")}, {}},
      {"availability", {metric("availability")}, {}},
      {"quiet", {metric("requests", 0, 0, 4, config::NoDataPolicy::Pass)}, {}},
      {"strict-nodata", {metric("conversions", 0, 0, 4, config::NoDataPolicy::Fail)}, {}},
      {"lenient", {metric("error-rate", 2, 1, 2)}, {}},
  };
}

inline config::Application runbookApp(int instances = 2) {
  config::Application app;
  app.name = "insurance-lead-gen";
  for (const char* n : {"api", "backend", "data-service", "orchestrator", "frontend"}) {
    config::Service s;
    s.name = n;
    s.instances = instances;
    app.services.push_back(s);
  }
  return app;
}

inline config::AnalysisRef ref(std::vector<std::string> templates) {
  config::AnalysisRef r;
  r.templates = std::move(templates);
  return r;
}

inline config::CanaryStep weightStep(int w) {
  config::CanaryStep s;
  s.kind = config::CanaryStep::Kind::SetWeight;
  s.weight = w;
  return s;
}
inline config::CanaryStep pauseStep(std::optional<Duration> d) {
  config::CanaryStep s;
  s.kind = config::CanaryStep::Kind::Pause;
  s.pause = d;
  return s;
}
inline config::CanaryStep analysisStep(std::vector<std::string> templates) {
  config::CanaryStep s;
  s.kind = config::CanaryStep::Kind::Analysis;
  s.analysis = ref(std::move(templates));
  return s;
}
inline config::CanaryStep approvalStep(std::vector<std::string> roles) {
  config::CanaryStep s;
  s.kind = config::CanaryStep::Kind::Approval;
  s.approval = std::move(roles);
  return s;
}
inline config::CanaryStep checksStep(std::string smoke) {
  config::CanaryStep s;
  s.kind = config::CanaryStep::Kind::Checks;
  s.checks.smoke = std::move(smoke);
  return s;
}

// The runbook's production environment: canary 10%/15m, 50%/15m, 100%/30m with background
// analysis, dual approval, a Tue-Thu 10:00-16:00 UTC window, no force, 24 h watch.
inline config::Environment productionEnv() {
  config::Environment e;
  e.name = "production";
  e.strategy = config::StrategyKind::Canary;
  e.promotes_from = "staging";
  e.canary.steps = {weightStep(10), pauseStep(15min), weightStep(50), pauseStep(15min),
                    weightStep(100), pauseStep(30min)};
  config::BackgroundAnalysis bg;
  bg.analysis = ref({"error-rate", "latency-p95", "availability"});
  e.canary.analysis = bg;
  e.approvals.roles = {"tech-lead", "product-manager"};
  e.approvals.prevent_self_approval = true;
  e.force_deploy = config::ForceDeployPolicy::Forbidden;
  e.promote_full_allowed = false;
  config::ChangeWindow w;
  w.days = {config::Weekday::Tue, config::Weekday::Wed, config::Weekday::Thu};
  w.start_minute = 10 * 60;
  w.end_minute = 16 * 60;
  e.windows = {w};
  e.rollback_window = 3;
  e.post_deploy.duration = 24h;
  e.post_deploy.analysis = ref({"error-rate"});
  e.post_deploy.analysis.thresholds = {{"error-rate", "0.005"}};
  e.incident_on_rollback = true;
  return e;
}

// The runbook's staging blue-green: 15 min verification, error rate < 1 %, P95 < 2 s.
inline config::Environment stagingEnv() {
  config::Environment e;
  e.name = "staging";
  e.strategy = config::StrategyKind::BlueGreen;
  e.blue_green.auto_promotion = true;
  e.blue_green.pre_promotion_checks = config::CheckRef{"full", "comprehensive", {}};
  config::AnalysisRef post = ref({"error-rate", "latency-p95"});
  post.thresholds = {{"error-rate", "0.01"}, {"latency-p95", "2s"}};
  e.blue_green.post_promotion_analysis = post;
  e.blue_green.verification = 15min;
  e.approvals.roles = {"tech-lead"};
  return e;
}

inline config::Environment plainEnv(config::StrategyKind kind) {
  config::Environment e;
  e.name = "development";
  e.strategy = kind;
  e.canary.steps = {weightStep(20), pauseStep(5min), weightStep(60), pauseStep(std::nullopt)};
  e.rolling.max_surge = {1, false};
  e.rolling.max_unavailable = {1, false};
  return e;
}

inline std::shared_ptr<const DeploymentSpec> makeSpec(const config::Environment& env,
                                                      const config::Application& app,
                                                      SpecOptions options = {}) {
  auto spec = buildSpec(env, app, runbookTemplates(), options);
  if (!spec) throw std::runtime_error(spec.error().message);
  return std::make_shared<const DeploymentSpec>(std::move(*spec));
}

inline Start startFor(std::shared_ptr<const DeploymentSpec> spec, std::string version = "v1.2.3",
                      std::string stable = "v1.2.2", std::string actor = "alice") {
  Start s;
  s.id = "dep-1";
  s.version = std::move(version);
  s.stable_version = std::move(stable);
  for (const auto& sv : spec->services) s.artifacts.push_back({sv.name, "registry/" + sv.name});
  s.spec = std::move(spec);
  s.actor = std::move(actor);
  s.reason = "release";
  s.succeeded_in_source = true;
  return s;
}

template <typename T>
std::vector<T> ofType(const std::vector<Action>& actions) {
  std::vector<T> out;
  for (const auto& a : actions) {
    if (const T* t = std::get_if<T>(&a)) out.push_back(*t);
  }
  return out;
}

inline bool hasAudit(const std::vector<Action>& actions, std::string_view kind) {
  for (const auto& a : ofType<Audit>(actions)) {
    if (a.kind == kind) return true;
  }
  return false;
}

// The weight a SetTraffic gives `version`; -1 when it names it not at all.
inline int weightOf(const SetTraffic& t, const std::string& version) {
  for (const auto& w : t.weights) {
    if (w.version == version) return w.weight;
  }
  return -1;
}

// A deployment plus a world that reacts to its actions.
class Sim {
 public:
  explicit Sim(TimePoint start = tuesdayMorning()) : now(start) {}

  DeploymentState state;
  TimePoint now;
  std::vector<Action> last;  // actions of the last feed() including the world's echoes
  std::vector<Action> all;
  std::optional<Error> refused;
  std::optional<Admission> admission;
  std::vector<StartAnalysis> analyses;
  std::vector<RunChecks> checks;
  bool auto_ready = true;    // StartVersion -> all instances ready
  bool auto_applied = true;  // SetTraffic / SwitchColour -> applied
  int steps = 0;

  // Applies `in`, then the world's reactions, until quiet.
  const std::vector<Action>& feed(const Input& in) {
    last.clear();
    std::vector<Input> queue{in};
    bool first = true;
    while (!queue.empty()) {
      Input next = std::move(queue.front());
      queue.erase(queue.begin());
      std::vector<Action> acts;
      std::optional<Admission> adm;
      auto r = apply(state, next, now, acts, &adm);
      ++steps;
      if (first) {
        refused = r;
        admission = adm;
        first = false;
      }
      for (const auto& a : acts) react(a, queue);
      last.insert(last.end(), acts.begin(), acts.end());
    }
    all.insert(all.end(), last.begin(), last.end());
    return last;
  }
  const std::vector<Action>& advance(Duration d) {
    now += d;
    return feed(Timer{});
  }
  const std::vector<Action>& advanceTo(TimePoint t) {
    now = t;
    return feed(Timer{});
  }
  std::uint32_t lastRun(RunKind kind) const {
    for (auto it = analyses.rbegin(); it != analyses.rend(); ++it) {
      if (it->kind == kind) return it->run;
    }
    return 0;
  }
  std::uint32_t lastChecks(CheckKind kind) const {
    for (auto it = checks.rbegin(); it != checks.rend(); ++it) {
      if (it->kind == kind) return it->run;
    }
    return 0;
  }
  // A measurement whose outcome is also the metric's verdict, as the analysis module reports
  // it with the default limits of 0: Failed and Inconclusive decide at once, Successful only
  // when the run is complete, and an Error is still within the error budget (Running).
  const std::vector<Action>& result(std::uint32_t run, std::string metric, Outcome o,
                                    bool complete = false) {
    RunStatus verdict = RunStatus::Running;
    if (o == Outcome::Failed) verdict = RunStatus::Failed;
    if (o == Outcome::Inconclusive) verdict = RunStatus::Inconclusive;
    if (o == Outcome::Successful && complete) verdict = RunStatus::Successful;
    return verdictOf(run, "api", std::move(metric), o, verdict, complete);
  }
  // The analysis module's verdict on `metric` of `service` after one measurement `o`.
  const std::vector<Action>& verdictOf(std::uint32_t run, std::string service, std::string metric,
                                       Outcome o, RunStatus verdict, bool complete = false,
                                       std::string reason = "as measured", bool dry_run = false) {
    AnalysisResult r;
    r.run = run;
    r.service = std::move(service);
    r.metric = std::move(metric);
    r.outcome = o;
    r.verdict = verdict;
    r.run_complete = complete;
    r.reason = std::move(reason);
    r.dry_run = dry_run;
    r.open_ended = open_ended_metrics;
    return feed(r);
  }
  // Whether the metrics results are fed for measure until stopped (AnalysisResult::open_ended).
  bool open_ended_metrics = false;
  const std::vector<Action>& approve(std::string actor, std::string role, bool yes = true) {
    return feed(ApprovalDecision{std::move(actor), std::move(role), yes, ""});
  }
  const std::vector<Action>& command(OperatorCommand::Kind k, std::string actor = "oscar") {
    return feed(OperatorCommand{k, std::move(actor), ""});
  }

 private:
  void react(const Action& a, std::vector<Input>& queue) {
    if (const auto* sv = std::get_if<StartVersion>(&a)) {
      if (auto_ready) queue.push_back(RuntimeReport{sv->service, sv->version, sv->instances, 0, -1});
    } else if (const auto* t = std::get_if<SetTraffic>(&a)) {
      if (auto_applied) {
        for (const auto& w : t->weights) {
          if (w.version == state.version) {
            queue.push_back(RuntimeReport{t->service, w.version, readyOf(t->service), 0, w.weight});
          }
        }
      }
    } else if (const auto* s = std::get_if<SwitchColour>(&a)) {
      if (auto_applied && s->version == state.version) {
        queue.push_back(RuntimeReport{s->service, s->version, readyOf(s->service), 0, 100});
      } else if (auto_applied && s->version == state.stable_version) {
        for (const auto& p : state.services) {
          if (p.name == s->service) {
            queue.push_back(RuntimeReport{s->service, state.version, p.new_ready, 0, 0});
          }
        }
      }
    } else if (const auto* an = std::get_if<StartAnalysis>(&a)) {
      analyses.push_back(*an);
    } else if (const auto* c = std::get_if<RunChecks>(&a)) {
      checks.push_back(*c);
    }
  }
  int readyOf(const std::string& service) const {
    for (const auto& sv : state.services) {
      if (sv.name == service) return sv.new_ready;
    }
    return 0;
  }
};

}  // namespace runway::engine::testing
