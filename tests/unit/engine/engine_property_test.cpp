// Property tests: many seeded random input sequences per strategy, each checked after every
// step against invariants that do not depend on how the engine is written:
//   - every traffic action's weights sum to 100 and give traffic only to ready versions;
//   - once analysis outcomes exceed a metric's limits, the next traffic action of every service
//     puts the stable version at 100 %;
//   - nothing reaches Succeeded with a failed or over-budget analysis or a missing approval;
//   - every state change is audited;
//   - replaying the same inputs gives the same actions and state;
//   - the state round-trips through JSON unchanged and carries a schema version.
// Reproduce a failure with RUNWAY_PROPERTY_SEED=<printed seed>.

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "harness.hpp"
#include "runway/engine/engine.hpp"
#include "runway/engine/json.hpp"

namespace runway::engine {
namespace {

using namespace testing;
using namespace std::chrono_literals;

// The invariants on traffic, aborts and Succeeded are checked for every sequence. The costly
// checks (a state copy and comparison per step for the audit property, the replay through
// step(), a mid-sequence JSON round trip) run on every sequence in an optimised build and on
// every 8th in an unoptimised (sanitizer) build. The sanitizer build also runs fewer and shorter
// sequences: it is there to find memory and undefined-behaviour errors on the same code paths,
// which a few thousand sequences reach, and each costs it several times more. How often sequences
// reach Succeeded / RolledBack is asserted only in the optimised build (the generator is the same
// code in both).
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
constexpr int kSequencesPerStrategy = 10'000;
constexpr int kDeepEvery = 1;
constexpr int kInputsPerSequence = 36;
#else
constexpr int kSequencesPerStrategy = 3'000;
constexpr int kDeepEvery = 8;
constexpr int kInputsPerSequence = 16;
#endif

struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int below(int n) { return static_cast<int>(next() % static_cast<std::uint64_t>(n)); }
  bool chance(int percent) { return below(100) < percent; }
};

std::uint64_t baseSeed() {
  if (const char* s = std::getenv("RUNWAY_PROPERTY_SEED")) return std::strtoull(s, nullptr, 10);
  return 20261126;
}

// ---------------------------------------------------------------------------------------------
// Specs per strategy

config::Application smallApp(int services, int instances) {
  config::Application app;
  app.name = "app";
  const char* names[] = {"api", "backend", "frontend"};
  for (int i = 0; i < services; ++i) {
    config::Service s;
    s.name = names[i];
    s.instances = instances;
    app.services.push_back(s);
  }
  return app;
}

std::vector<std::shared_ptr<const DeploymentSpec>> canarySpecs() {
  std::vector<std::shared_ptr<const DeploymentSpec>> out;
  auto a = productionEnv();
  a.windows.clear();
  a.post_deploy.duration = 1h;
  a.approvals.timeout = 2h;
  out.push_back(makeSpec(a, smallApp(2, 2)));

  auto b = plainEnv(config::StrategyKind::Canary);
  config::CanaryStep route;
  route.kind = config::CanaryStep::Kind::SetHeaderRoute;
  route.header_route.cookie = "canary";
  route.header_route.value = "1";
  auto strict = analysisStep({"error-rate", "quiet"});
  strict.analysis.thresholds = {{"error-rate", "0.001"}};
  b.canary.steps = {weightStep(20), route, analysisStep({"lenient"}), approvalStep({"tech-lead"}),
                    checksStep("critical"), pauseStep(std::nullopt), weightStep(70), strict,
                    pauseStep(5min)};
  config::BackgroundAnalysis bg;
  bg.analysis = ref({"strict-nodata"});
  bg.starting_step = 2;
  b.canary.analysis = bg;
  b.concurrency = config::ConcurrencyPolicy::Supersede;
  b.progress_deadline_action = config::ProgressDeadlineAction::Degrade;
  b.rollback_window = 2;
  out.push_back(makeSpec(b, smallApp(3, 1)));
  return out;
}

std::vector<std::shared_ptr<const DeploymentSpec>> blueGreenSpecs() {
  std::vector<std::shared_ptr<const DeploymentSpec>> out;
  auto a = stagingEnv();
  a.blue_green.auto_promotion_after = 2min;
  a.post_deploy.duration = 30min;
  a.post_deploy.analysis = ref({"error-rate"});
  a.incident_on_rollback = true;
  out.push_back(makeSpec(a, smallApp(2, 2)));
  auto b = plainEnv(config::StrategyKind::BlueGreen);
  b.blue_green.auto_promotion = false;
  b.blue_green.pre_promotion_analysis = ref({"lenient", "quiet"});
  b.blue_green.post_promotion_checks = config::CheckRef{"critical", "", {}};
  b.blue_green.verification = 5min;
  b.progress_deadline_action = config::ProgressDeadlineAction::Degrade;
  b.concurrency = config::ConcurrencyPolicy::Queue;
  out.push_back(makeSpec(b, smallApp(3, 3)));
  return out;
}

std::vector<std::shared_ptr<const DeploymentSpec>> rollingSpecs() {
  std::vector<std::shared_ptr<const DeploymentSpec>> out;
  auto a = plainEnv(config::StrategyKind::Rolling);
  a.rolling.max_surge = {25, true};
  a.rolling.max_unavailable = {0, false};
  a.approvals.roles = {"tech-lead", "product-manager"};
  out.push_back(makeSpec(a, smallApp(3, 4)));
  auto b = plainEnv(config::StrategyKind::Rolling);
  b.rolling.max_surge = {0, false};
  b.rolling.max_unavailable = {1, false};
  b.post_deploy.duration = 1h;
  b.post_deploy.analysis = ref({"error-rate"});
  b.progress_deadline_action = config::ProgressDeadlineAction::Degrade;
  out.push_back(makeSpec(b, smallApp(2, 3)));
  auto c = plainEnv(config::StrategyKind::Rolling);
  c.rolling.max_surge = {2, false};
  c.rolling.max_unavailable = {50, true};
  c.concurrency = config::ConcurrencyPolicy::Supersede;
  out.push_back(makeSpec(c, smallApp(1, 5)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The checker: a model of the world and of what has been promised.

const AnalysisSpec* analysisFor(const DeploymentSpec& sp, const StartAnalysis& a) {
  switch (a.kind) {
    case RunKind::Inline: return &sp.steps[static_cast<std::size_t>(a.step)].analysis;
    case RunKind::Background: return sp.background ? &*sp.background : nullptr;
    case RunKind::PrePromotion: return sp.pre_promotion_analysis ? &*sp.pre_promotion_analysis : nullptr;
    case RunKind::PostPromotion: return sp.post_promotion_analysis ? &*sp.post_promotion_analysis : nullptr;
    case RunKind::Watch: return sp.watch_analysis ? &*sp.watch_analysis : nullptr;
  }
  return nullptr;
}

struct RunModel {
  const AnalysisSpec* spec = nullptr;
  int attempt = 0;
  bool running = true;
  bool over_budget = false;
};

struct Instances {
  int target = 0;
  std::optional<TimePoint> retire_at;
  int reported = 0;
  int effective(TimePoint now) const { return retire_at && now >= *retire_at ? 0 : target; }
};

class Checker {
 public:
  std::string failure;  // first violated property

  void begin(const Start& s) {
    start_ = s;
    for (const auto& sv : s.spec->services) {
      if (!s.stable_version.empty()) {
        world_[{sv.name, s.stable_version}] = Instances{sv.instances, std::nullopt, sv.instances};
      }
      traffic_[sv.name] = -1;
    }
  }

  // Before an input is applied: note what it means for the model.
  void before(const Input& in, const DeploymentState& state, TimePoint now) {
    now_ = now;
    if (const auto* r = std::get_if<RuntimeReport>(&in)) {
      world_[{r->service, r->version}].reported = r->ready;
    }
    if (const auto* a = std::get_if<AnalysisResult>(&in)) {
      auto it = runs_.find(a->run);
      if (it == runs_.end() || !it->second.running || it->second.spec == nullptr) return;
      if (state.phase == Phase::Aborting || (isTerminal(state.phase) && !state.watching)) return;
      RunModel& run = it->second;
      // The analysis module's verdict decides; the engine must act on the worst one.
      const bool over = !a->dry_run && (a->verdict == RunStatus::Failed ||
                                        a->verdict == RunStatus::Error);
      if (over) {
        run.over_budget = true;
        expect_abort_ = true;
        if (!state.stable_version.empty()) {
          for (const auto& sv : state.services) must_restore_.insert(sv.name);
        }
      }
    }
  }

  // `before` is the state before the input when the deep checks run, else nullptr.
  void after(const DeploymentState* before, Phase phase_before, const DeploymentState& state,
             const std::vector<Action>& actions) {
    if (!failure.empty()) return;
    if (before != nullptr && !(*before == state)) {
      bool audited = false;
      for (const auto& a : actions) audited = audited || std::holds_alternative<Audit>(a);
      if (!audited) {
        return fail("the state changed without an audit event:\n" + stateToJson(*before) + "\n" +
                    stateToJson(state));
      }
    }
    if (phase_before != state.phase) {
      {
        bool found = false;
        for (const auto& a : ofType<Audit>(actions)) found = found || a.to == state.phase;
        if (!found) return fail("the phase change to " + std::string(toString(state.phase)) +
                                " has no audit event");
      }
    }
    for (const auto& a : actions) {
      if (const auto* sv = std::get_if<StartVersion>(&a)) {
        Instances& w = world_[{sv->service, sv->version}];
        if (w.effective(now_) == 0) w.reported = 0;
        w.target = sv->instances;
        w.retire_at.reset();
      } else if (const auto* r = std::get_if<RetireVersion>(&a)) {
        world_[{r->service, r->version}].retire_at = r->at;
      } else if (const auto* t = std::get_if<SetTraffic>(&a)) {
        int sum = 0;
        for (const auto& w : t->weights) {
          sum += w.weight;
          if (w.weight < 0) return fail("negative weight in " + describe(a));
          if (w.weight > 0 && !ready(t->service, w.version)) {
            return fail("traffic to a version that is not ready: " + describe(a));
          }
        }
        // No weights at all: a first release that rolls back withdraws its traffic (there is
        // nothing to give it back to), and only then.
        const bool withdrawn = t->weights.empty() && state.stable_version.empty() &&
                               (state.phase == Phase::Aborting || state.phase == Phase::RolledBack);
        if (sum != 100 && !withdrawn) return fail("weights do not sum to 100: " + describe(a));
        for (const auto& rule : t->routes) {
          if (!ready(t->service, rule.version)) return fail("route to an unready version: " + describe(a));
        }
        traffic(t->service, weightOf(*t, state.stable_version) == 100, a);
      } else if (const auto* s = std::get_if<SwitchColour>(&a)) {
        if (!ready(s->service, s->version)) {
          return fail("switch to a version that is not ready: " + describe(a));
        }
        traffic(s->service, s->version == state.stable_version, a);
      } else if (const auto* an = std::get_if<StartAnalysis>(&a)) {
        runs_[an->run] = RunModel{analysisFor(*state.spec, *an), state.attempt, true, false};
      } else if (const auto* st = std::get_if<StopAnalysis>(&a)) {
        runs_[st->run].running = false;
      }
      if (!failure.empty()) return;
    }
    if (expect_abort_) {
      expect_abort_ = false;
      if (state.phase != Phase::Aborting && state.phase != Phase::RolledBack &&
          state.phase != Phase::Superseded) {
        return fail("an over-budget analysis did not abort (phase " +
                    std::string(toString(state.phase)) + ")");
      }
    }
    if (state.phase == Phase::Succeeded && phase_before != Phase::Succeeded) succeeded(state);
  }

 private:
  bool ready(const std::string& service, const std::string& version) const {
    auto it = world_.find({service, version});
    if (it == world_.end()) return false;
    return it->second.reported > 0 && it->second.effective(now_) > 0;
  }
  void traffic(const std::string& service, bool all_on_stable, const Action& a) {
    if (must_restore_.erase(service) > 0 && !all_on_stable) {
      fail("after a failed analysis the next traffic action must put stable at 100 %: " +
           describe(a));
    }
  }
  void succeeded(const DeploymentState& s) {
    for (const auto& [id, run] : runs_) {
      if (run.attempt == s.attempt && run.over_budget) {
        return fail("Succeeded although analysis run " + std::to_string(id) + " is over budget");
      }
    }
    for (const auto& r : s.runs) {
      if (r.status == RunStatus::Failed || r.status == RunStatus::Error ||
          (r.status == RunStatus::Inconclusive && !r.accepted)) {
        return fail("Succeeded with analysis run " + std::to_string(r.id) + " " +
                    std::string(toString(r.status)));
      }
    }
    const DeploymentSpec& sp = *s.spec;
    if (!s.rollback) {
      std::set<std::string> people;
      for (const auto& role : sp.approval_roles) {
        const ApprovalRecord* rec = nullptr;
        for (const auto& a : s.approvals) {
          if (a.gate == kStartGate && a.role == role) rec = &a;
        }
        if (rec == nullptr) return fail("Succeeded without the approval of " + role);
        if (!people.insert(rec->actor).second) return fail("one person approved twice");
        if (sp.prevent_self_approval && rec->actor == s.started_by) return fail("self-approval");
      }
      if (s.strategy == StrategyKind::Canary) {
        for (std::size_t i = 0; i < sp.steps.size(); ++i) {
          if (sp.steps[i].kind != config::CanaryStep::Kind::Approval) continue;
          for (const auto& role : sp.steps[i].approval) {
            bool ok = false;
            for (const auto& a : s.approvals) ok = ok || (a.gate == static_cast<int>(i) && a.role == role);
            if (!ok) return fail("Succeeded without the approval step " + std::to_string(i));
          }
        }
      }
    }
  }
  void fail(std::string why) {
    if (failure.empty()) failure = std::move(why);
  }

  Start start_;
  TimePoint now_;
  std::map<std::pair<std::string, std::string>, Instances> world_;
  std::map<std::string, int> traffic_;
  std::map<std::uint32_t, RunModel> runs_;
  std::set<std::string> must_restore_;
  bool expect_abort_ = false;
};

// ---------------------------------------------------------------------------------------------
// Random inputs

struct Timed {
  Input input;
  TimePoint at;
};

std::string describeInput(const Input& in) {
  struct V {
    std::string operator()(const Start& s) const {
      return "start " + s.version + (s.force ? " force" : "") + (s.rollback ? " rollback" : "") +
             (s.emergency ? " emergency" : "") + (s.in_rollback_window ? " in-window" : "");
    }
    std::string operator()(const Timer&) const { return "timer"; }
    std::string operator()(const AnalysisResult& a) const {
      return "analysis run " + std::to_string(a.run) + " " + a.metric + "@" + a.service + " " +
             std::string(toString(a.outcome)) + " verdict " + std::string(toString(a.verdict)) +
             (a.dry_run ? " dry-run" : "") + (a.run_complete ? " complete" : "");
    }
    std::string operator()(const CheckResult& c) const {
      return "checks run " + std::to_string(c.run) + (c.passed ? " passed" : " failed");
    }
    std::string operator()(const RuntimeReport& r) const {
      return "report " + r.service + " " + r.version + " ready " + std::to_string(r.ready) +
             " failed " + std::to_string(r.failed) + " weight " + std::to_string(r.traffic_weight);
    }
    std::string operator()(const ApprovalDecision& a) const {
      return std::string(a.approve ? "approve " : "reject ") + a.actor + " as " + a.role;
    }
    std::string operator()(const OperatorCommand& c) const {
      return "command " + std::string(toString(c.kind)) + " by " + c.actor;
    }
    std::string operator()(const NewerRelease& n) const {
      return "newer " + n.version + (n.rollback ? " rollback" : "");
    }
  };
  return std::visit(V{}, in);
}

class Generator {
 public:
  // Half the sequences are "calm": few failures, so that many reach Succeeded; the others
  // are hostile, so that aborts, retries and refusals are exercised.
  Generator(Rng& rng, const DeploymentSpec& spec) : rng_(rng), spec_(spec), calm_(rng.chance(50)) {}

  Start start() {
    Start s;
    s.id = "dep-p";
    s.version = "v2";
    s.stable_version = rng_.chance(92) ? "v1" : "";
    s.actor = "alice";
    s.force = rng_.chance(8);
    s.rollback = rng_.chance(10);
    s.in_rollback_window = s.rollback && rng_.chance(50);
    s.emergency = s.rollback && rng_.chance(50);
    s.succeeded_in_source = rng_.chance(92);
    s.active_colour = rng_.chance(50) ? Colour::Blue : Colour::Green;
    for (const auto& sv : spec_.services) s.artifacts.push_back({sv.name, "img/" + sv.name});
    return s;
  }

  Input next(const DeploymentState& s, TimePoint& now) {
    const int roll = rng_.below(100);
    if (roll < 32) return report(s);
    if (roll < 52) {
      if (s.wake_at && rng_.chance(70)) {
        if (*s.wake_at > now) now = *s.wake_at;
      } else {
        now += Duration{rng_.below(20 * 60) * 1000LL};
      }
      return Timer{};
    }
    if (roll < 72 && !running_.empty()) return analysis(s);
    if (roll < 80 && !checks_.empty()) {
      auto it = checks_.begin();
      std::advance(it, rng_.below(static_cast<int>(checks_.size())));
      return CheckResult{*it, rng_.chance(calm_ ? 98 : 85), ""};
    }
    if (roll < 88) return approval(s);
    if (roll < 97) {
      if (calm_ && rng_.chance(70)) return OperatorCommand{OperatorCommand::Kind::Promote, "oscar", ""};
      static const OperatorCommand::Kind kinds[] = {
          OperatorCommand::Kind::Promote, OperatorCommand::Kind::Promote,
          OperatorCommand::Kind::PromoteFull, OperatorCommand::Kind::Abort,
          OperatorCommand::Kind::Retry, OperatorCommand::Kind::Retry,
          OperatorCommand::Kind::Pause, OperatorCommand::Kind::Resume};
      return OperatorCommand{kinds[rng_.below(8)], "oscar", ""};
    }
    if (calm_) return Timer{};
    return NewerRelease{"v3", rng_.chance(30), "bob"};
  }

  void observe(const std::vector<Action>& actions) {
    for (const auto& a : actions) {
      if (const auto* an = std::get_if<StartAnalysis>(&a)) {
        // The harness' templates each hold a metric named like the template.
        running_[an->run] = an->templates;
      } else if (const auto* st = std::get_if<StopAnalysis>(&a)) {
        running_.erase(st->run);
      } else if (const auto* c = std::get_if<RunChecks>(&a)) {
        checks_.insert(c->run);
      } else if (const auto* t = std::get_if<SetTraffic>(&a)) {
        for (const auto& w : t->weights) requested_[{t->service, w.version}] = w.weight;
      } else if (const auto* sw = std::get_if<SwitchColour>(&a)) {
        requested_[{sw->service, sw->version}] = 100;
      } else if (const auto* sv = std::get_if<StartVersion>(&a)) {
        targets_[{sv->service, sv->version}] = sv->instances;
      } else if (const auto* r = std::get_if<RetireVersion>(&a)) {
        targets_[{r->service, r->version}] = 0;
      }
    }
  }

 private:
  const AnalysisSpec* analysisSpecFor(const StartAnalysis& a) const { return analysisFor(spec_, a); }

  Input report(const DeploymentState& s) {
    const auto& svc = spec_.services[static_cast<std::size_t>(
        rng_.below(static_cast<int>(spec_.services.size())))];
    const bool stable = !s.stable_version.empty() && rng_.chance(25);
    const std::string version = stable ? s.stable_version : s.version;
    const int target = targets_.count({svc.name, version}) ? targets_[{svc.name, version}]
                                                           : (stable ? svc.instances : 0);
    const int ready = rng_.chance(80) ? target : rng_.below(target + 1);
    const int failed = rng_.chance(calm_ ? 0 : 3) ? 1 : 0;
    int weight = -1;
    if (rng_.chance(80) && requested_.count({svc.name, s.version})) {
      weight = requested_[{svc.name, s.version}];
      if (stable) weight = 100 - weight;
    }
    return RuntimeReport{svc.name, version, ready, failed, weight};
  }

  Input analysis(const DeploymentState&) {
    auto it = running_.begin();
    std::advance(it, rng_.below(static_cast<int>(running_.size())));
    std::string metric = it->second.empty() ? "error-rate"
                                            : it->second[static_cast<std::size_t>(
                                                  rng_.below(static_cast<int>(it->second.size())))];
    const int r = calm_ ? rng_.below(100) / 5 + (rng_.chance(4) ? 80 : 0) : rng_.below(100);
    const Outcome o = r < 80   ? Outcome::Successful
                      : r < 85 ? Outcome::Failed
                      : r < 90 ? Outcome::Inconclusive
                      : r < 97 ? Outcome::Error
                               : Outcome::NoData;
    const std::uint32_t run = rng_.chance(3) ? it->first + 100 : it->first;
    AnalysisResult result;
    result.run = run;
    result.metric = std::move(metric);
    result.outcome = o;
    result.value = 0.01;
    result.run_complete = rng_.chance(35);
    static const char* services[] = {"api", "frontend", ""};
    result.service = services[rng_.below(3)];
    const int v = rng_.below(100);
    result.verdict = v < 60   ? RunStatus::Running
                     : v < 85 ? RunStatus::Successful
                     : v < 91 ? RunStatus::Failed
                     : v < 96 ? RunStatus::Error
                              : RunStatus::Inconclusive;
    result.dry_run = rng_.chance(5);
    return result;
  }

  Input approval(const DeploymentState& s) {
    static const char* actors[] = {"alice", "bob", "carol", "dan"};
    std::vector<std::string> roles = spec_.approval_roles;
    if (s.approval_gate >= 0 && static_cast<std::size_t>(s.approval_gate) < spec_.steps.size()) {
      roles = spec_.steps[static_cast<std::size_t>(s.approval_gate)].approval;
    }
    std::string role = roles.empty() || rng_.chance(10)
                           ? "security"
                           : roles[static_cast<std::size_t>(rng_.below(static_cast<int>(roles.size())))];
    // Mostly people other than the starter (alice), so approvals can complete.
    const char* actor = rng_.chance(15) ? actors[0] : actors[1 + rng_.below(3)];
    return ApprovalDecision{actor, role, rng_.chance(96), ""};
  }

  Rng& rng_;
  const DeploymentSpec& spec_;
  bool calm_;
  std::map<std::uint32_t, std::vector<std::string>> running_;
  std::set<std::uint32_t> checks_;
  std::map<std::pair<std::string, std::string>, int> requested_;
  std::map<std::pair<std::string, std::string>, int> targets_;
};

struct Outcomes {
  int succeeded = 0;
  int rolled_back = 0;
  int steps = 0;
};

// Runs one sequence; returns "" or what went wrong (with the inputs that led there).
std::string runSequence(std::uint64_t seed, const std::vector<std::shared_ptr<const DeploymentSpec>>& specs,
                        bool deep_checks, Outcomes& outcomes) {
  Rng rng{seed};
  const auto& spec = specs[static_cast<std::size_t>(rng.below(static_cast<int>(specs.size())))];
  Generator gen(rng, *spec);
  Checker checker;
  Start start = gen.start();
  start.spec = spec;
  checker.begin(start);

  TimePoint now = tuesdayMorning() + Duration{rng.below(3600) * 1000LL};
  DeploymentState state;
  std::vector<Timed> log;
  std::vector<Action> all_actions;
  std::vector<Action> actions;
  Input input = start;
  const int json_at = rng.below(kInputsPerSequence);
  for (int i = 0; i < kInputsPerSequence; ++i) {
    if (i > 0) input = gen.next(state, now);
    log.push_back({input, now});
    checker.before(input, state, now);
    std::optional<DeploymentState> before;
    if (deep_checks) before = state;
    actions.clear();
    const Phase phase_before = state.phase;
    (void)apply(state, input, now, actions);
    outcomes.steps++;
    checker.after(before ? &*before : nullptr, phase_before, state, actions);
    all_actions.insert(all_actions.end(), actions.begin(), actions.end());
    gen.observe(actions);
    if (checker.failure.empty() && deep_checks && i == json_at) {
      auto back = stateFromJson(stateToJson(state));
      if (!back || !(*back == state)) checker.failure = "JSON round trip changed the state";
    }
    if (!checker.failure.empty()) {
      std::ostringstream out;
      out << checker.failure << "\n  inputs:";
      for (const auto& t : log) out << "\n    " << describeInput(t.input);
      return out.str();
    }
  }
  if (state.phase == Phase::Succeeded) outcomes.succeeded++;
  if (state.phase == Phase::RolledBack) outcomes.rolled_back++;

  // JSON form: schema version, exact round trip.
  const std::string text = stateToJson(state);
  if (text.find("\"schemaVersion\":1") == std::string::npos) return "JSON without schemaVersion";
  auto back = stateFromJson(text);
  if (!back) return "JSON did not parse back: " + back.error().message;
  if (!(*back == state)) return "JSON round trip changed the state";

  // Replay: the same inputs at the same times give the same actions and state.
  if (deep_checks) {
    DeploymentState replay;
    std::vector<Action> replay_actions;
    for (const auto& t : log) {
      Step s = step(replay, t.input, t.at);
      replay = std::move(s.state);
      replay_actions.insert(replay_actions.end(), s.actions.begin(), s.actions.end());
    }
    if (!(replay == state)) return "replay gave a different state";
    if (replay_actions != all_actions) return "replay gave different actions";
  }
  return "";
}

void runProperty(const char* name, const std::vector<std::shared_ptr<const DeploymentSpec>>& specs,
                 std::uint64_t salt) {
  const std::uint64_t base = baseSeed() ^ salt;
  Outcomes outcomes;
  for (int i = 0; i < kSequencesPerStrategy; ++i) {
    const std::uint64_t seed = base + static_cast<std::uint64_t>(i);
    std::string problem = runSequence(seed, specs, /*deep_checks=*/i % kDeepEvery == 0, outcomes);
    ASSERT_TRUE(problem.empty()) << name << " sequence " << i << " (seed " << seed
                                 << "; RUNWAY_PROPERTY_SEED=" << baseSeed() << "): " << problem;
  }
  // The generator must reach the interesting ends, or the properties prove little.
  if (kDeepEvery == 1) {
    EXPECT_GT(outcomes.succeeded, kSequencesPerStrategy / 100) << name;
    EXPECT_GT(outcomes.rolled_back, kSequencesPerStrategy / 100) << name;
  }
  std::printf("%s: %d sequences, %d steps, %d succeeded, %d rolled back\n", name,
              kSequencesPerStrategy, outcomes.steps, outcomes.succeeded, outcomes.rolled_back);
}

TEST(EngineProperty, Canary) { runProperty("canary", canarySpecs(), 0x1111); }
TEST(EngineProperty, BlueGreen) { runProperty("blue-green", blueGreenSpecs(), 0x2222); }
TEST(EngineProperty, Rolling) { runProperty("rolling", rollingSpecs(), 0x3333); }

}  // namespace
}  // namespace runway::engine
