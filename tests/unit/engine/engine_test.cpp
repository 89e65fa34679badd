// Named scenario tests for the rollout engine, one per behaviour of issue 3, with explicit
// simulated time only.

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "harness.hpp"
#include "runway/engine/engine.hpp"
#include "runway/engine/json.hpp"
#include "runway/engine/runtime_report.hpp"

namespace runway::engine {
namespace {

using namespace testing;
using namespace std::chrono_literals;
using K = OperatorCommand::Kind;
namespace json = boost::json;

// Starts a production deployment and gives both approvals.
// One measurement of `metric` for every service of the deployment, each with `verdict`; the last
// one says whether the run is complete.
void everyService(Sim& sim, std::uint32_t run, const std::string& metric, Outcome o,
                  RunStatus verdict = RunStatus::Running, bool complete = false) {
  const auto services = sim.state.services;
  for (std::size_t i = 0; i < services.size(); ++i) {
    sim.verdictOf(run, services[i].name, metric, o, verdict, complete && i + 1 == services.size());
  }
}

void startProduction(Sim& sim, std::shared_ptr<const DeploymentSpec> spec,
                     std::string version = "v1.2.3") {
  sim.feed(startFor(std::move(spec), std::move(version)));
  ASSERT_EQ(sim.state.phase, Phase::AwaitingApproval);
  sim.approve("bob", "tech-lead");
  sim.approve("carol", "product-manager");
}

// The first SetTraffic for `service` in `actions`, or nullptr.
const SetTraffic* firstTraffic(const std::vector<Action>& actions, const std::string& service) {
  for (const auto& a : actions) {
    if (const auto* t = std::get_if<SetTraffic>(&a); t && t->service == service) return t;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// The runbook end to end

TEST(EngineScenario, ProductionCanaryEndToEnd) {
  auto env = productionEnv();
  auto spec = makeSpec(env, runbookApp());
  // Monday 09:00 UTC: outside the Tue-Thu 10:00-16:00 window.
  Sim sim(utc(2026, 11, 23, 9, 0));
  sim.feed(startFor(spec));
  ASSERT_EQ(sim.state.phase, Phase::AwaitingApproval);
  auto req = ofType<RequestApproval>(sim.last);
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0].roles, (std::vector<std::string>{"tech-lead", "product-manager"}));
  sim.approve("bob", "tech-lead");
  EXPECT_EQ(sim.state.phase, Phase::AwaitingApproval);
  sim.approve("carol", "product-manager");
  ASSERT_EQ(sim.state.phase, Phase::WaitingForWindow);
  auto wake = ofType<WakeAt>(sim.last);
  ASSERT_EQ(wake.size(), 1u);
  EXPECT_EQ(wake[0].at, utc(2026, 11, 24, 10, 0));  // Tuesday 10:00

  sim.advanceTo(utc(2026, 11, 24, 10, 0));
  ASSERT_EQ(sim.state.phase, Phase::Progressing);
  EXPECT_EQ(ofType<StartVersion>(sim.last).size(), 5u);
  const auto* t10 = firstTraffic(sim.last, "api");
  ASSERT_NE(t10, nullptr);
  EXPECT_EQ(weightOf(*t10, "v1.2.2"), 90);
  EXPECT_EQ(weightOf(*t10, "v1.2.3"), 10);
  const std::uint32_t bg = sim.lastRun(RunKind::Background);
  ASSERT_NE(bg, 0u);
  EXPECT_EQ(sim.analyses.back().templates,
            (std::vector<std::string>{"error-rate", "latency-p95", "availability"}));

  // 15 minutes at 10 %, with healthy measurements.
  for (const char* m : {"error-rate", "latency-p95", "availability"}) {
    sim.result(bg, m, Outcome::Successful);
  }
  sim.advance(14min);
  EXPECT_EQ(sim.state.canary_weight, 10);
  sim.advance(1min);
  EXPECT_EQ(sim.state.canary_weight, 50);
  const auto* t50 = firstTraffic(sim.last, "frontend");
  ASSERT_NE(t50, nullptr);
  EXPECT_EQ(weightOf(*t50, "v1.2.3"), 50);
  sim.advance(15min);
  EXPECT_EQ(sim.state.canary_weight, 100);
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  sim.advance(29min);
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  sim.advance(1min);
  ASSERT_EQ(sim.state.phase, Phase::Succeeded);
  EXPECT_FALSE(ofType<StopAnalysis>(sim.last).empty());
  auto retire = ofType<RetireVersion>(sim.last);
  ASSERT_EQ(retire.size(), 5u);
  EXPECT_EQ(retire[0].version, "v1.2.2");
  EXPECT_EQ(retire[0].at, sim.now + 30s);
  EXPECT_TRUE(sim.state.watching);
  EXPECT_EQ(sim.lastRun(RunKind::Watch) != 0, true);
  EXPECT_EQ(sim.analyses.back().thresholds.at("error-rate"), "0.005");
  // Total: 10:00 + 60 min of steps.
  EXPECT_EQ(sim.now, utc(2026, 11, 24, 11, 0));
  sim.advance(24h);
  EXPECT_FALSE(sim.state.watching);
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
  EXPECT_TRUE(hasAudit(sim.last, "watch.completed"));
}

TEST(EngineScenario, StagingBlueGreenEndToEnd) {
  auto spec = makeSpec(stagingEnv(), runbookApp());
  Sim sim;
  sim.feed(startFor(spec));
  ASSERT_EQ(sim.state.phase, Phase::AwaitingApproval);
  sim.approve("bob", "tech-lead");
  ASSERT_EQ(sim.state.phase, Phase::Progressing);
  auto starts = ofType<StartVersion>(sim.all);
  ASSERT_EQ(starts.size(), 5u);
  EXPECT_EQ(starts[0].instances, 2);  // full scale
  EXPECT_EQ(starts[0].colour, Colour::Green);
  EXPECT_TRUE(ofType<SwitchColour>(sim.all).empty());  // no traffic yet
  ASSERT_EQ(sim.checks.size(), 1u);
  EXPECT_EQ(sim.checks[0].kind, CheckKind::PrePromotion);
  EXPECT_EQ(sim.checks[0].checks.smoke, "full");
  sim.feed(CheckResult{sim.checks[0].run, true, "all smoke tests passed"});
  ASSERT_EQ(sim.state.phase, Phase::Promoting);
  auto sw = ofType<SwitchColour>(sim.last);
  ASSERT_EQ(sw.size(), 5u);
  EXPECT_EQ(sw[0].colour, Colour::Green);
  EXPECT_EQ(sw[0].version, "v1.2.3");
  const std::uint32_t post = sim.lastRun(RunKind::PostPromotion);
  ASSERT_NE(post, 0u);
  sim.open_ended_metrics = true;  // the runbook's verification metrics measure until stopped
  EXPECT_EQ(sim.analyses.back().thresholds.at("error-rate"), "0.01");
  EXPECT_EQ(sim.analyses.back().thresholds.at("latency-p95"), "2s");
  everyService(sim, post, "error-rate", Outcome::Successful);
  sim.advance(14min);
  EXPECT_EQ(sim.state.phase, Phase::Promoting);
  EXPECT_TRUE(ofType<RetireVersion>(sim.all).empty());  // old colour kept
  sim.advance(1min);
  ASSERT_EQ(sim.state.phase, Phase::Succeeded);
  auto retire = ofType<RetireVersion>(sim.last);
  ASSERT_EQ(retire.size(), 5u);
  EXPECT_EQ(retire[0].version, "v1.2.2");
  EXPECT_EQ(retire[0].at, sim.now + 30s);
}

// ---------------------------------------------------------------------------------------------
// Canary steps and analysis

config::Environment fiftyPercentEnv() {
  auto env = productionEnv();
  auto strict = analysisStep({"error-rate"});
  strict.analysis.thresholds = {{"error-rate", "0.001"}};
  strict.analysis.interval = 30s;
  env.canary.steps = {weightStep(10), pauseStep(15min), weightStep(50), strict, pauseStep(15min),
                      weightStep(100)};
  return env;
}

TEST(EngineScenario, CanaryAbortsWhenErrorRateFailsAtFiftyPercent) {
  Sim sim;
  startProduction(sim, makeSpec(fiftyPercentEnv(), runbookApp()));
  sim.advance(15min);
  ASSERT_EQ(sim.state.canary_weight, 50);
  const std::uint32_t run = sim.lastRun(RunKind::Inline);
  ASSERT_NE(run, 0u);
  EXPECT_EQ(sim.analyses.back().step, 3);
  EXPECT_EQ(sim.analyses.back().interval, 30s);  // per-step interval
  EXPECT_EQ(sim.analyses.back().thresholds.at("error-rate"), "0.001");  // stricter
  sim.advance(10min);
  EXPECT_EQ(sim.state.step_index, 3);  // the inline analysis holds the step
  sim.result(run, "error-rate", Outcome::Failed);
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  const auto* t = firstTraffic(sim.last, "api");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(weightOf(*t, "v1.2.2"), 100);
  EXPECT_EQ(weightOf(*t, "v1.2.3"), 0);
  auto retire = ofType<RetireVersion>(sim.last);
  ASSERT_EQ(retire.size(), 5u);
  EXPECT_EQ(retire[0].version, "v1.2.3");
  EXPECT_EQ(retire[0].at, sim.now + 30s);
  auto notes = ofType<Notify>(sim.last);
  EXPECT_TRUE(std::any_of(notes.begin(), notes.end(),
                          [](const Notify& n) { return n.event == NotifyEvent::RolledBack; }));
  ASSERT_EQ(ofType<OpenIncident>(sim.last).size(), 1u);  // production says so
  EXPECT_NE(sim.state.abort_reason.find("error-rate"), std::string::npos);
}

TEST(EngineScenario, InlineAnalysisSuccessAdvancesTheStep) {
  Sim sim;
  startProduction(sim, makeSpec(fiftyPercentEnv(), runbookApp()));
  sim.advance(15min);
  const std::uint32_t run = sim.lastRun(RunKind::Inline);
  sim.result(run, "error-rate", Outcome::Successful, /*complete=*/true);
  EXPECT_EQ(sim.state.step_index, 4);
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
}

TEST(EngineScenario, InconclusivePausesForAPerson) {
  Sim sim;
  startProduction(sim, makeSpec(fiftyPercentEnv(), runbookApp()));
  sim.advance(15min);
  const std::uint32_t run = sim.lastRun(RunKind::Inline);
  sim.result(run, "error-rate", Outcome::Inconclusive);
  ASSERT_EQ(sim.state.phase, Phase::Paused);
  EXPECT_EQ(sim.state.pause_reason, PauseReason::Inconclusive);
  EXPECT_FALSE(ofType<Notify>(sim.last).empty());
  // Time alone does not move it.
  sim.advance(2h);
  EXPECT_EQ(sim.state.phase, Phase::Paused);
  EXPECT_EQ(sim.state.canary_weight, 50);
  // A person accepts it.
  sim.command(K::Promote, "dave");
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  EXPECT_EQ(sim.state.step_index, 4);
  EXPECT_TRUE(hasAudit(sim.last, "analysis.accepted"));
}

TEST(EngineScenario, InconclusiveCanBeAbortedByAPerson) {
  Sim sim;
  startProduction(sim, makeSpec(fiftyPercentEnv(), runbookApp()));
  sim.advance(15min);
  sim.result(sim.lastRun(RunKind::Inline), "error-rate", Outcome::Inconclusive);
  sim.command(K::Abort, "dave");
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
}

// The engine applies no limit and no no-data policy of its own: a Failed, Error or no-data
// measurement whose metric the analysis module still judges Running (within its limits) moves
// nothing; the analysis module's verdict decides.
TEST(EngineVerdict, MeasurementsWithinTheAnalysisModulesLimitsDecideNothing) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(10), analysisStep({"lenient"}), weightStep(100)};
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  const std::uint32_t run = sim.lastRun(RunKind::Inline);
  for (int i = 0; i < 6; ++i) sim.verdictOf(run, "api", "error-rate", Outcome::Error, RunStatus::Running);
  sim.verdictOf(run, "api", "error-rate", Outcome::Failed, RunStatus::Running);
  sim.verdictOf(run, "api", "error-rate", Outcome::NoData, RunStatus::Running);
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  EXPECT_EQ(sim.state.canary_weight, 10);
  sim.verdictOf(run, "api", "error-rate", Outcome::Failed, RunStatus::Failed, false,
                "3 failed measurement(s), more than failureLimit 2");
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  EXPECT_NE(sim.state.abort_reason.find("failureLimit 2"), std::string::npos);
}

// An analysis run that cannot be set up (two templates defining one metric name, a template
// that no longer resolves) is one Error for the run as a whole: it fails the step with its
// reason, even though it is "complete" and within every limit.
TEST(EngineVerdict, AnalysisThatCannotBeSetUpFailsTheStep) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(10), analysisStep({"error-rate"}), weightStep(100)};
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  const std::uint32_t run = sim.lastRun(RunKind::Inline);
  sim.verdictOf(run, "", "analysis", Outcome::Error, RunStatus::Error, /*complete=*/true,
                "analysis could not be set up: metric name 'error-rate' is used twice");
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  EXPECT_NE(sim.state.canary_weight, 100);
  EXPECT_NE(sim.state.abort_reason.find("is used twice"), std::string::npos);
  EXPECT_TRUE(hasAudit(sim.all, "analysis.error"));
}

TEST(EngineVerdict, BackgroundAnalysisThatCannotBeSetUpNeverReachesFullTraffic) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(10), pauseStep(1min), weightStep(50), pauseStep(1min)};
  config::BackgroundAnalysis bg;
  bg.analysis = ref({"error-rate"});
  env.canary.analysis = bg;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  sim.verdictOf(sim.lastRun(RunKind::Background), "", "analysis", Outcome::Error,
                RunStatus::Error, true, "analysis could not be set up: template gone");
  sim.advance(5min);
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  for (const auto& t : ofType<SetTraffic>(sim.all)) EXPECT_LT(weightOf(t, "v1.2.3"), 100);
}

// Verdicts are per service: one service's failure is not averaged away by another's successes,
// and one service's error streak is not reset by another service's good measurements.
TEST(EngineVerdict, OneServicesFailureIsNotHiddenByAnothersSuccesses) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(10), analysisStep({"error-rate"}), weightStep(100)};
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  const std::uint32_t run = sim.lastRun(RunKind::Inline);
  for (int i = 0; i < 4; ++i) {
    sim.verdictOf(run, "frontend", "error-rate", Outcome::Successful, RunStatus::Running);
    sim.verdictOf(run, "api", "error-rate", Outcome::Error, RunStatus::Running);
  }
  sim.verdictOf(run, "frontend", "error-rate", Outcome::Successful, RunStatus::Successful);
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  sim.verdictOf(run, "api", "error-rate", Outcome::Error, RunStatus::Error, /*complete=*/true,
                "5 consecutive errors, more than consecutiveErrorLimit 4");
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  EXPECT_NE(sim.state.abort_reason.find("error-rate of api"), std::string::npos);
  const auto& run_state = sim.state.runs.back();
  ASSERT_EQ(run_state.metrics.size(), 2u);
  EXPECT_EQ(run_state.metrics[0].service, "frontend");
  EXPECT_EQ(run_state.metrics[0].status, RunStatus::Successful);
  EXPECT_EQ(run_state.metrics[1].status, RunStatus::Error);
}

// Worst wins: Failed > Error > Inconclusive > Successful, across metrics and services.
TEST(EngineVerdict, WorstVerdictWinsAndErrorIsNeverAPass) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(10), analysisStep({"error-rate", "latency-p95"}), weightStep(100)};
  {
    Sim sim;
    sim.feed(startFor(makeSpec(env, runbookApp())));
    const std::uint32_t run = sim.lastRun(RunKind::Inline);
    sim.verdictOf(run, "api", "error-rate", Outcome::Successful, RunStatus::Successful);
    sim.verdictOf(run, "api", "latency-p95", Outcome::Error, RunStatus::Error, true);
    EXPECT_EQ(sim.state.phase, Phase::RolledBack);
    EXPECT_EQ(sim.state.runs.back().status, RunStatus::Error);
  }
  {
    Sim sim;
    sim.feed(startFor(makeSpec(env, runbookApp())));
    const std::uint32_t run = sim.lastRun(RunKind::Inline);
    sim.verdictOf(run, "api", "error-rate", Outcome::Successful, RunStatus::Successful);
    sim.verdictOf(run, "api", "latency-p95", Outcome::Inconclusive, RunStatus::Inconclusive, true);
    EXPECT_EQ(sim.state.phase, Phase::Paused);
    EXPECT_EQ(sim.state.pause_reason, PauseReason::Inconclusive);
  }
}

// "Complete" is not a verdict: a complete run passes only when every non-dry-run metric of
// every service the engine heard of reported Successful.
TEST(EngineVerdict, CompleteRunWithAnUnjudgedMetricIsAnError) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(10), analysisStep({"error-rate"}), weightStep(100)};
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  const std::uint32_t run = sim.lastRun(RunKind::Inline);
  sim.verdictOf(run, "frontend", "error-rate", Outcome::Error, RunStatus::Running);
  sim.verdictOf(run, "api", "error-rate", Outcome::Successful, RunStatus::Successful, true);
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  EXPECT_NE(sim.state.abort_reason.find("no verdict"), std::string::npos);
}

TEST(EngineVerdict, CompleteRunPassesWhenEveryServiceAndMetricPassed) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(10), analysisStep({"error-rate"}), weightStep(50),
                      pauseStep(std::nullopt)};
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  const std::uint32_t run = sim.lastRun(RunKind::Inline);
  sim.verdictOf(run, "frontend", "error-rate", Outcome::Successful, RunStatus::Successful);
  EXPECT_EQ(sim.state.canary_weight, 10);  // not complete yet
  // A dry-run metric that fails is recorded and decides nothing.
  sim.verdictOf(run, "api", "shadow", Outcome::Failed, RunStatus::Failed, false, "dry", true);
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  sim.verdictOf(run, "api", "error-rate", Outcome::Successful, RunStatus::Successful, true);
  EXPECT_EQ(sim.state.canary_weight, 50);
  EXPECT_TRUE(hasAudit(sim.all, "analysis.successful"));
}

TEST(EngineScenario, BackgroundAnalysisStartsAtItsStepAndStopsAtPromotion) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(10), pauseStep(1min), weightStep(50), pauseStep(1min)};
  config::BackgroundAnalysis bg;
  bg.analysis = ref({"error-rate"});
  bg.starting_step = 2;
  env.canary.analysis = bg;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  EXPECT_EQ(sim.lastRun(RunKind::Background), 0u);
  sim.advance(1min);
  const std::uint32_t run = sim.lastRun(RunKind::Background);
  ASSERT_NE(run, 0u);
  EXPECT_EQ(sim.state.canary_weight, 50);
  sim.advance(1min);
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
  auto stops = ofType<StopAnalysis>(sim.all);
  EXPECT_TRUE(std::any_of(stops.begin(), stops.end(),
                          [&](const StopAnalysis& s) { return s.run == run; }));
  // A late failure of the stopped run changes nothing.
  auto before = sim.state;
  sim.result(run, "error-rate", Outcome::Failed);
  EXPECT_EQ(sim.state, before);
}

TEST(EngineScenario, HeaderRouteSendsMatchingRequestsToTheCanary) {
  auto env = plainEnv(config::StrategyKind::Canary);
  config::CanaryStep route;
  route.kind = config::CanaryStep::Kind::SetHeaderRoute;
  route.header_route.header = "X-Canary";
  route.header_route.value = "yes";
  env.canary.steps = {route, pauseStep(std::nullopt), weightStep(100)};
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  const auto* t = firstTraffic(sim.last, "api");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(weightOf(*t, "v1.2.2"), 100);
  ASSERT_EQ(t->routes.size(), 1u);
  EXPECT_EQ(t->routes[0].route.header, "X-Canary");
  EXPECT_EQ(t->routes[0].version, "v1.2.3");
  EXPECT_EQ(sim.state.phase, Phase::Paused);
  sim.command(K::Promote);
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
}

// The environment's `traffic.routes` (issue 20): a canary sends matching requests to the new
// version from its first traffic step until promoted, together with a step's own routes.
TEST(EngineScenario, EnvironmentRoutesHoldFromTheCanarysFirstTrafficStep) {
  auto env = plainEnv(config::StrategyKind::Canary);
  config::HeaderRoute beta;
  beta.cookie = "beta";
  beta.match = config::HeaderRoute::Match::Regex;
  beta.value = "yes|true";
  env.traffic.routes = {beta};
  env.traffic.sticky = config::StickySessions{};
  config::CanaryStep step_route;
  step_route.kind = config::CanaryStep::Kind::SetHeaderRoute;
  step_route.header_route.header = "X-Canary";
  step_route.header_route.value = "yes";
  env.canary.steps = {weightStep(10), pauseStep(std::nullopt), step_route, weightStep(50),
                      pauseStep(std::nullopt), weightStep(100)};
  const auto spec = makeSpec(env, runbookApp());
  EXPECT_EQ(spec->sticky_cookie, "runway-version");
  EXPECT_EQ(spec->sticky_max_age, Duration{3'600'000});
  Sim sim;
  sim.feed(startFor(spec));
  const auto* t10 = firstTraffic(sim.last, "api");
  ASSERT_NE(t10, nullptr);
  EXPECT_EQ(weightOf(*t10, "v1.2.3"), 10);
  ASSERT_EQ(t10->routes.size(), 1u);
  EXPECT_EQ(t10->routes[0].route.cookie, "beta");
  EXPECT_EQ(t10->routes[0].route.match, config::HeaderRoute::Match::Regex);
  EXPECT_EQ(t10->routes[0].version, "v1.2.3");
  sim.command(K::Promote);
  // The setHeaderRoute step (still at 10 %), then setWeight 50: the last split is in force.
  const SetTraffic* t50 = nullptr;
  for (const auto& a : sim.last) {
    if (const auto* t = std::get_if<SetTraffic>(&a); t != nullptr && t->service == "api") t50 = t;
  }
  ASSERT_NE(t50, nullptr);
  EXPECT_EQ(weightOf(*t50, "v1.2.3"), 50);
  ASSERT_EQ(t50->routes.size(), 2u);  // the environment's once, then the step's
  EXPECT_EQ(t50->routes[0].route.cookie, "beta");
  EXPECT_EQ(t50->routes[1].route.header, "X-Canary");
  sim.command(K::Promote);
  const auto* t100 = firstTraffic(sim.last, "api");
  ASSERT_NE(t100, nullptr);
  EXPECT_EQ(weightOf(*t100, "v1.2.3"), 100);
  EXPECT_TRUE(t100->routes.empty());
  // The snapshot keeps them (a restarted controller rebuilds the same splits).
  const auto back = stateFromJson(stateToJson(sim.state));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->spec->routes, spec->routes);
  EXPECT_EQ(back->spec->sticky_cookie, "runway-version");
}

// A blue-green's new colour gets the environment's routes once it is ready, before the switch;
// the switch gives it everything and ends them.
TEST(EngineScenario, EnvironmentRoutesPreviewTheNewColourBeforeTheSwitch) {
  auto env = stagingEnv();
  env.approvals.roles.clear();
  env.blue_green.auto_promotion = false;
  config::HeaderRoute preview;
  preview.header = "X-Preview";
  preview.value = "1";
  env.traffic.routes = {preview};
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  const auto before = ofType<SetTraffic>(sim.all);
  ASSERT_EQ(before.size(), 5u);  // one per service
  EXPECT_EQ(weightOf(before[0], "v1.2.2"), 100);
  EXPECT_EQ(weightOf(before[0], "v1.2.3"), 0);
  ASSERT_EQ(before[0].routes.size(), 1u);
  EXPECT_EQ(before[0].routes[0].route.header, "X-Preview");
  EXPECT_EQ(before[0].routes[0].version, "v1.2.3");
  EXPECT_TRUE(hasAudit(sim.all, "traffic.routes"));
  sim.feed(CheckResult{sim.checks[0].run, true, ""});
  ASSERT_EQ(sim.state.pause_reason, PauseReason::AwaitingPromotion);
  sim.command(K::Promote);
  EXPECT_EQ(ofType<SwitchColour>(sim.last).size(), 5u);
  EXPECT_TRUE(sim.state.routes.empty());
}

TEST(EngineScenario, ChecksStepFailureAborts) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(10), checksStep("critical"), weightStep(100)};
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  ASSERT_EQ(sim.checks.size(), 1u);
  EXPECT_EQ(sim.checks[0].checks.smoke, "critical");
  sim.feed(CheckResult{sim.checks[0].run, false, "POST /leads returned 500"});
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  EXPECT_NE(sim.state.abort_reason.find("POST /leads"), std::string::npos);
}

TEST(EngineScenario, ApprovalStepWaitsForItsRoles) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(10), approvalStep({"product-manager"}), weightStep(100)};
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  ASSERT_EQ(sim.state.phase, Phase::AwaitingApproval);
  EXPECT_EQ(sim.state.approval_gate, 1);
  sim.approve("carol", "product-manager");
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
}

TEST(EngineScenario, PromoteSkipsATimedPause) {
  auto env = plainEnv(config::StrategyKind::Canary);
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  EXPECT_EQ(sim.state.step_index, 1);
  sim.command(K::Promote);
  EXPECT_EQ(sim.state.canary_weight, 60);
  EXPECT_EQ(sim.state.phase, Phase::Paused);  // the indefinite pause
  EXPECT_EQ(sim.state.pause_reason, PauseReason::PauseStep);
  sim.command(K::Resume);  // resume is not promote
  EXPECT_TRUE(sim.refused.has_value());
  EXPECT_EQ(sim.state.phase, Phase::Paused);
  sim.command(K::Promote);
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
}

TEST(EngineScenario, OperatorPauseFreezesTheTimedPause) {
  auto env = plainEnv(config::StrategyKind::Canary);
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  sim.advance(2min);
  sim.command(K::Pause);
  EXPECT_EQ(sim.state.phase, Phase::Paused);
  sim.advance(1h);
  EXPECT_EQ(sim.state.step_index, 1);
  sim.command(K::Resume);
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  sim.advance(2min);
  EXPECT_EQ(sim.state.step_index, 1);
  sim.advance(1min);  // 3 of the 5 minutes were left
  EXPECT_EQ(sim.state.canary_weight, 60);
}

// ---------------------------------------------------------------------------------------------
// Promote --full, abort, retry

TEST(EngineScenario, AbortAfterPromoteFullStillAborts) {
  auto env = plainEnv(config::StrategyKind::Canary);
  Sim sim;
  sim.auto_applied = false;  // the router has not confirmed the full promotion yet
  sim.feed(startFor(makeSpec(env, runbookApp())));
  sim.command(K::PromoteFull);
  ASSERT_FALSE(sim.refused.has_value());
  EXPECT_EQ(sim.state.phase, Phase::Promoting);
  EXPECT_TRUE(sim.state.promoted_full);
  const auto* full = firstTraffic(sim.last, "api");
  ASSERT_NE(full, nullptr);
  EXPECT_EQ(weightOf(*full, "v1.2.3"), 100);
  sim.command(K::Abort);
  ASSERT_FALSE(sim.refused.has_value());
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  const auto* back = firstTraffic(sim.last, "api");
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(weightOf(*back, "v1.2.2"), 100);
}

TEST(EngineScenario, PromoteFullForbiddenIsRefusedAndAudited) {
  Sim sim;
  startProduction(sim, makeSpec(productionEnv(), runbookApp()));
  auto before = sim.state.canary_weight;
  sim.command(K::PromoteFull, "mallory");
  ASSERT_TRUE(sim.refused.has_value());
  EXPECT_EQ(sim.refused->code, ErrorCode::PermissionDenied);
  EXPECT_TRUE(hasAudit(sim.last, "promote_full.refused"));
  EXPECT_EQ(ofType<Audit>(sim.last)[0].actor, "mallory");
  EXPECT_EQ(sim.state.canary_weight, before);
}

TEST(EngineScenario, PromoteFullCannotSkipAnApprovalStep) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(10), pauseStep(std::nullopt), approvalStep({"tech-lead"}),
                      weightStep(100)};
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  sim.command(K::PromoteFull);
  ASSERT_TRUE(sim.refused.has_value());
  EXPECT_EQ(sim.refused->code, ErrorCode::FailedPrecondition);
}

TEST(EngineScenario, RetryRestartsFromFirstStepOnlyWhenAsked) {
  auto env = plainEnv(config::StrategyKind::Canary);
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  sim.advance(5min);
  EXPECT_EQ(sim.state.canary_weight, 60);
  sim.command(K::Abort);
  ASSERT_EQ(sim.state.phase, Phase::RolledBack);
  // Nothing but an operator's retry restarts it: time, reports, results.
  const auto rolled_back = sim.state;
  sim.advance(1h);
  sim.feed(RuntimeReport{"api", "v1.2.3", 2, 0, 0});
  sim.verdictOf(1, "api", "error-rate", Outcome::Successful, RunStatus::Successful, true);
  sim.command(K::Promote);
  EXPECT_TRUE(sim.refused.has_value());
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  EXPECT_EQ(sim.state.attempt, rolled_back.attempt);
  sim.command(K::Retry, "erin");
  ASSERT_FALSE(sim.refused.has_value());
  EXPECT_EQ(sim.state.attempt, 2);
  EXPECT_EQ(sim.state.step_index, 1);
  EXPECT_EQ(sim.state.canary_weight, 20);  // first step again
  EXPECT_TRUE(hasAudit(sim.last, "deployment.retried"));
}

// Lead 4: a retry is a new attempt and passes the gates a start passes: pre-flight, the change
// window, the start approvals (those already given for this deployment stay valid).
TEST(EngineScenario, RetryPassesPreFlightAndTheChangeWindow) {
  SpecOptions opts;
  opts.preflight.health = "comprehensive";
  Sim sim;
  sim.feed(startFor(makeSpec(plainEnv(config::StrategyKind::Canary), runbookApp(), opts)));
  ASSERT_EQ(sim.state.phase, Phase::PreFlight);
  sim.feed(CheckResult{sim.lastChecks(CheckKind::PreFlight), true, ""});
  ASSERT_EQ(sim.state.phase, Phase::Progressing);
  sim.command(K::Abort);
  ASSERT_EQ(sim.state.phase, Phase::RolledBack);
  sim.command(K::Retry, "erin");
  ASSERT_FALSE(sim.refused.has_value());
  EXPECT_EQ(sim.state.phase, Phase::PreFlight);
  EXPECT_TRUE(ofType<StartVersion>(sim.last).empty());  // nothing deployed before it passes
  sim.feed(CheckResult{sim.lastChecks(CheckKind::PreFlight), false, "disk full"});
  EXPECT_EQ(sim.state.phase, Phase::Failed);
}

TEST(EngineScenario, RetryOutsideTheChangeWindowWaitsForIt) {
  Sim sim;
  sim.advanceTo(utc(2026, 11, 24, 10, 0));  // Tuesday, inside the Tue-Thu 10:00-16:00 window
  startProduction(sim, makeSpec(productionEnv(), runbookApp()));
  ASSERT_EQ(sim.state.phase, Phase::Progressing);
  sim.command(K::Abort);
  ASSERT_EQ(sim.state.phase, Phase::RolledBack);
  sim.advanceTo(utc(2026, 11, 27, 18, 0));  // Friday evening: outside every window
  sim.command(K::Retry, "erin");
  ASSERT_FALSE(sim.refused.has_value());
  EXPECT_EQ(sim.state.phase, Phase::WaitingForWindow);  // approvals given stay valid
  EXPECT_TRUE(ofType<StartVersion>(sim.last).empty());
  sim.advanceTo(utc(2026, 12, 1, 10, 0));  // the next Tuesday
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  EXPECT_EQ(sim.state.attempt, 2);
}

TEST(EngineScenario, RetryRefusedUnlessRolledBack) {
  Sim sim;
  sim.feed(startFor(makeSpec(plainEnv(config::StrategyKind::Canary), runbookApp())));
  sim.command(K::Retry);
  ASSERT_TRUE(sim.refused.has_value());
  EXPECT_EQ(sim.refused->code, ErrorCode::FailedPrecondition);
}

TEST(EngineScenario, AbortOnSucceededWithoutWatchIsRefused) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(100)};
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  ASSERT_EQ(sim.state.phase, Phase::Succeeded);
  sim.command(K::Abort);
  ASSERT_TRUE(sim.refused.has_value());
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
}

TEST(EngineScenario, ProgressDeadlineAborts) {
  auto env = plainEnv(config::StrategyKind::Canary);
  Sim sim;
  sim.auto_ready = false;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  auto wake = ofType<WakeAt>(sim.last);
  ASSERT_EQ(wake.size(), 1u);
  EXPECT_EQ(wake[0].at, sim.now + 10min);
  sim.advance(5min);
  sim.feed(RuntimeReport{"api", "v1.2.3", 2, 0, -1});  // progress re-arms the deadline
  sim.advance(9min);  // 14 min after the start, 9 after the last progress
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  sim.advance(1min);
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  EXPECT_TRUE(hasAudit(sim.all, "progress.deadline"));
  EXPECT_NE(sim.state.abort_reason.find("backend 0/2 ready"), std::string::npos);
}

TEST(EngineScenario, ProgressDeadlineDegrades) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.progress_deadline_action = config::ProgressDeadlineAction::Degrade;
  Sim sim;
  sim.auto_ready = false;
  auto spec = makeSpec(env, runbookApp());
  sim.feed(startFor(spec));
  sim.advance(10min);
  ASSERT_EQ(sim.state.phase, Phase::Degraded);
  auto notes = ofType<Notify>(sim.last);
  ASSERT_FALSE(notes.empty());
  EXPECT_EQ(notes[0].event, NotifyEvent::Degraded);
  // It recovers when the instances come up.
  for (const auto& s : spec->services) sim.feed(RuntimeReport{s.name, "v1.2.3", 2, 0, -1});
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  EXPECT_EQ(sim.state.canary_weight, 20);
}

// reportChanges() says whether a report would change the state; when it says no, apply()
// leaves the state as it is and returns nothing (the controller skips the engine step then).
TEST(EngineScenario, AReportThatChangesNothingIsKnownAsSuch) {
  Sim sim;
  sim.auto_ready = false;
  sim.feed(startFor(makeSpec(plainEnv(config::StrategyKind::Canary), runbookApp())));
  const RuntimeReport two{"api", "v1.2.3", 2, 0, -1};
  EXPECT_TRUE(reportChanges(sim.state, two));
  sim.feed(two);
  EXPECT_FALSE(reportChanges(sim.state, two));
  DeploymentState same = sim.state;
  std::vector<Action> actions;
  EXPECT_FALSE(apply(same, two, sim.now, actions).has_value());
  EXPECT_EQ(same, sim.state);
  EXPECT_TRUE(actions.empty());
  EXPECT_TRUE(reportChanges(sim.state, RuntimeReport{"api", "v1.2.3", 2, 1, -1}));   // a failure
  EXPECT_TRUE(reportChanges(sim.state, RuntimeReport{"api", "v1.2.3", 2, 0, 37}));   // a weight
  EXPECT_TRUE(reportChanges(sim.state, RuntimeReport{"api", "v1.2.3", 2, 0, -1, 4}));  // others
  EXPECT_FALSE(reportChanges(sim.state, RuntimeReport{"nope", "v1.2.3", 3, 0, -1}));
  EXPECT_FALSE(reportChanges(sim.state, RuntimeReport{"api", "v9", 3, 0, -1}));
}

TEST(EngineScenario, FailedInstancesAbort) {
  Sim sim;
  sim.auto_ready = false;
  sim.feed(startFor(makeSpec(plainEnv(config::StrategyKind::Canary), runbookApp())));
  sim.feed(RuntimeReport{"api", "v1.2.3", 1, 1, -1});
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
}

// ---------------------------------------------------------------------------------------------
// Approvals

TEST(EngineScenario, SelfApprovalRefused) {
  Sim sim;
  sim.feed(startFor(makeSpec(productionEnv(), runbookApp()), "v1.2.3", "v1.2.2", "alice"));
  sim.approve("alice", "tech-lead");
  ASSERT_TRUE(sim.refused.has_value());
  EXPECT_EQ(sim.refused->code, ErrorCode::PermissionDenied);
  EXPECT_NE(sim.refused->message.find("self-approval"), std::string::npos);
  EXPECT_TRUE(hasAudit(sim.last, "approval.refused"));
  EXPECT_TRUE(sim.state.approvals.empty());
}

TEST(EngineScenario, SelfApprovalAllowedWhenPolicySaysSo) {
  auto env = productionEnv();
  env.approvals.prevent_self_approval = false;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp()), "v1.2.3", "v1.2.2", "alice"));
  sim.approve("alice", "tech-lead");
  EXPECT_FALSE(sim.refused.has_value());
}

TEST(EngineScenario, ApprovalsNeedDistinctPeopleAndRequiredRoles) {
  Sim sim;
  sim.feed(startFor(makeSpec(productionEnv(), runbookApp())));
  sim.approve("bob", "tech-lead");
  sim.approve("bob", "product-manager");
  ASSERT_TRUE(sim.refused.has_value());
  EXPECT_NE(sim.refused->message.find("distinct"), std::string::npos);
  sim.approve("carol", "security");
  ASSERT_TRUE(sim.refused.has_value());
  EXPECT_NE(sim.refused->message.find("required: tech-lead, product-manager"), std::string::npos);
  sim.approve("dan", "tech-lead");
  ASSERT_TRUE(sim.refused.has_value());
  EXPECT_EQ(sim.refused->code, ErrorCode::Conflict);
  EXPECT_EQ(sim.state.phase, Phase::AwaitingApproval);
  sim.approve("carol", "product-manager");
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
}

TEST(EngineScenario, RejectionEndsItWithNothingDeployed) {
  Sim sim;
  sim.feed(startFor(makeSpec(productionEnv(), runbookApp())));
  sim.approve("bob", "tech-lead");
  sim.feed(ApprovalDecision{"carol", "product-manager", false, "not this week"});
  EXPECT_EQ(sim.state.phase, Phase::Rejected);
  EXPECT_TRUE(ofType<StartVersion>(sim.all).empty());
  EXPECT_TRUE(ofType<SetTraffic>(sim.all).empty());
  EXPECT_NE(sim.state.abort_reason.find("not this week"), std::string::npos);
}

TEST(EngineScenario, ApprovalsTimeOut) {
  auto env = productionEnv();
  env.approvals.timeout = 4h;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  EXPECT_EQ(ofType<WakeAt>(sim.last).at(0).at, sim.now + 4h);
  sim.advance(4h);
  EXPECT_EQ(sim.state.phase, Phase::Failed);
  EXPECT_TRUE(ofType<StartVersion>(sim.all).empty());
}

// ---------------------------------------------------------------------------------------------
// Windows, freezes, policy

TEST(EngineScenario, WaitsForChangeWindowThenStarts) {
  auto env = plainEnv(config::StrategyKind::Canary);
  config::ChangeWindow w;
  w.days = {config::Weekday::Wed};
  w.start_minute = 9 * 60;
  w.end_minute = 17 * 60;
  w.timezone = "+02:00";  // 09:00 local = 07:00 UTC
  env.windows = {w};
  Sim sim(utc(2026, 11, 24, 16, 0));  // Tuesday
  sim.feed(startFor(makeSpec(env, runbookApp())));
  ASSERT_EQ(sim.state.phase, Phase::WaitingForWindow);
  const TimePoint opens = utc(2026, 11, 25, 7, 0);
  EXPECT_EQ(ofType<WakeAt>(sim.last).at(0).at, opens);
  sim.advanceTo(opens - 1min);  // an early timer is harmless
  EXPECT_EQ(sim.state.phase, Phase::WaitingForWindow);
  sim.advanceTo(opens);
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
}

TEST(EngineScenario, WindowAcrossMidnightInNegativeOffset) {
  auto env = plainEnv(config::StrategyKind::Rolling);
  config::ChangeWindow w;
  w.days = {config::Weekday::Fri};
  w.start_minute = 22 * 60;
  w.end_minute = 2 * 60;
  w.timezone = "UTC-05:00";
  env.windows = {w};
  auto spec = makeSpec(env, runbookApp());
  // Saturday 01:30 local (-05:00) = Saturday 06:30 UTC: inside Friday's window.
  EXPECT_TRUE(windowOpen(*spec, utc(2026, 11, 28, 6, 30)));
  EXPECT_FALSE(windowOpen(*spec, utc(2026, 11, 28, 7, 30)));
  EXPECT_EQ(nextWindowOpening(*spec, utc(2026, 11, 28, 7, 30)), utc(2026, 12, 5, 3, 0));
}

TEST(EngineScenario, FreezeBlocksDeploy) {
  auto env = plainEnv(config::StrategyKind::Canary);
  const TimePoint start = tuesdayMorning();
  config::Freeze f;
  f.start = start - 1h;
  f.end = start + 3 * 24h;
  f.reason = "end-of-year freeze";
  env.freezes = {f};
  Sim sim(start);
  sim.feed(startFor(makeSpec(env, runbookApp())));
  ASSERT_EQ(sim.state.phase, Phase::WaitingForWindow);
  EXPECT_EQ(ofType<WakeAt>(sim.last).at(0).at, f.end);
  sim.advance(24h);
  EXPECT_EQ(sim.state.phase, Phase::WaitingForWindow);
  sim.advanceTo(f.end);
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
}

TEST(EngineScenario, EmergencyRollbackBypassesWindowAndIsAudited) {
  auto env = productionEnv();
  Sim sim(utc(2026, 11, 28, 3, 0));  // Saturday night
  Start s = startFor(makeSpec(env, runbookApp()), "v1.2.2", "v1.2.3", "oncall");
  s.rollback = true;
  s.emergency = true;
  s.reason = "error rate 4%";
  sim.feed(s);
  EXPECT_NE(sim.state.phase, Phase::WaitingForWindow);
  EXPECT_TRUE(hasAudit(sim.all, "window.bypassed"));
  EXPECT_FALSE(ofType<StartVersion>(sim.all).empty());
  // Without the emergency flag the same rollback waits.
  Sim calm(utc(2026, 11, 28, 3, 0));
  s.emergency = false;
  calm.feed(s);
  EXPECT_EQ(calm.state.phase, Phase::WaitingForWindow);
}

TEST(EngineScenario, PromotesFromRefusesUntestedVersion) {
  Sim sim;
  Start s = startFor(makeSpec(productionEnv(), runbookApp()));
  s.succeeded_in_source = false;
  sim.feed(s);
  EXPECT_EQ(sim.state.phase, Phase::Rejected);
  ASSERT_TRUE(sim.refused.has_value());
  EXPECT_EQ(sim.refused->code, ErrorCode::FailedPrecondition);
  EXPECT_NE(sim.refused->message.find("has not succeeded in staging"), std::string::npos);
  EXPECT_TRUE(ofType<StartVersion>(sim.all).empty());
}

TEST(EngineScenario, ForceRefusedWhenForbidden) {
  Sim sim;
  Start s = startFor(makeSpec(productionEnv(), runbookApp()));
  s.force = true;
  sim.feed(s);
  EXPECT_EQ(sim.state.phase, Phase::Rejected);
  ASSERT_TRUE(sim.refused.has_value());
  EXPECT_EQ(sim.refused->code, ErrorCode::PermissionDenied);
  EXPECT_TRUE(hasAudit(sim.last, "force.refused"));
}

TEST(EngineScenario, ForceSkipsAnalysisWhereAllowed) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(10), analysisStep({"error-rate"}), checksStep("full"),
                      weightStep(100)};
  Sim sim;
  Start s = startFor(makeSpec(env, runbookApp()));
  s.force = true;
  sim.feed(s);
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
  EXPECT_TRUE(sim.analyses.empty());
  EXPECT_TRUE(hasAudit(sim.all, "step.skipped"));
}

TEST(EngineScenario, FastRollbackWithinWindowSkipsSteps) {
  auto env = productionEnv();
  Sim sim;
  Start s = startFor(makeSpec(env, runbookApp()), "v1.2.2", "v1.2.3", "oncall");
  s.rollback = true;
  s.in_rollback_window = true;
  sim.feed(s);
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
  EXPECT_TRUE(sim.state.fast);
  EXPECT_TRUE(sim.analyses.empty() || sim.analyses.back().kind == RunKind::Watch);
  const auto* t = firstTraffic(sim.all, "api");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(weightOf(*t, "v1.2.2"), 100);  // straight to the target, no 10 % step
  EXPECT_TRUE(hasAudit(sim.all, "rollback.fast"));
}

TEST(EngineScenario, RollbackOutsideTheWindowRunsTheSteps) {
  Sim sim;
  Start s = startFor(makeSpec(productionEnv(), runbookApp()), "v1.1.0", "v1.2.3", "oncall");
  s.rollback = true;
  s.in_rollback_window = false;
  sim.feed(s);
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  EXPECT_EQ(sim.state.canary_weight, 10);
}

TEST(EngineScenario, PreflightFailureEndsBeforeAnythingIsDeployed) {
  SpecOptions opts;
  opts.preflight.health = "comprehensive";
  Sim sim;
  sim.feed(startFor(makeSpec(plainEnv(config::StrategyKind::Canary), runbookApp(), opts)));
  ASSERT_EQ(sim.state.phase, Phase::PreFlight);
  ASSERT_EQ(sim.checks.size(), 1u);
  sim.feed(CheckResult{sim.checks[0].run, false, "cluster capacity 95%"});
  EXPECT_EQ(sim.state.phase, Phase::Failed);
  EXPECT_TRUE(ofType<StartVersion>(sim.all).empty());
}

// ---------------------------------------------------------------------------------------------
// Blue-green and rolling

TEST(EngineScenario, BlueGreenSwitchBackOnPostPromotionFailure) {
  auto env = stagingEnv();
  env.approvals.roles.clear();
  env.incident_on_rollback = true;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  sim.feed(CheckResult{sim.checks[0].run, true, ""});
  ASSERT_EQ(sim.state.phase, Phase::Promoting);
  EXPECT_EQ(sim.state.active_colour, Colour::Green);
  sim.advance(5min);
  sim.result(sim.lastRun(RunKind::PostPromotion), "latency-p95", Outcome::Failed);
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  auto sw = ofType<SwitchColour>(sim.last);
  ASSERT_EQ(sw.size(), 5u);
  EXPECT_EQ(sw[0].colour, Colour::Blue);
  EXPECT_EQ(sw[0].version, "v1.2.2");
  EXPECT_TRUE(ofType<StartVersion>(sim.last).empty());  // the old colour was still up
  EXPECT_EQ(ofType<OpenIncident>(sim.last).size(), 1u);
}

TEST(EngineScenario, BlueGreenManualPromotion) {
  auto env = stagingEnv();
  env.approvals.roles.clear();
  env.blue_green.auto_promotion = false;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  sim.feed(CheckResult{sim.checks[0].run, true, ""});
  ASSERT_EQ(sim.state.phase, Phase::Paused);
  EXPECT_EQ(sim.state.pause_reason, PauseReason::AwaitingPromotion);
  sim.advance(1h);
  EXPECT_EQ(sim.state.phase, Phase::Paused);
  sim.command(K::Promote);
  EXPECT_EQ(sim.state.phase, Phase::Promoting);
  EXPECT_EQ(ofType<SwitchColour>(sim.last).size(), 5u);
}

TEST(EngineScenario, BlueGreenAbortBeforeSwitchKeepsStable) {
  auto env = stagingEnv();
  env.approvals.roles.clear();
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  sim.feed(CheckResult{sim.checks[0].run, false, "smoke failed"});
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  auto sw = ofType<SwitchColour>(sim.all);
  ASSERT_EQ(sw.size(), 5u);
  EXPECT_EQ(sw[0].colour, Colour::Blue);
  EXPECT_EQ(sw[0].version, "v1.2.2");
}

TEST(EngineScenario, RollingRespectsMaxUnavailable) {
  auto env = plainEnv(config::StrategyKind::Rolling);
  env.rolling.max_surge = {0, false};
  env.rolling.max_unavailable = {1, false};
  config::Application app;
  app.name = "app";
  config::Service svc;
  svc.name = "api";
  svc.instances = 4;
  app.services = {svc};
  Sim sim;
  sim.auto_ready = false;
  sim.feed(startFor(makeSpec(env, app)));
  // Surge 0, unavailable 1: one old instance goes, one new comes.
  auto starts = ofType<StartVersion>(sim.last);
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0].version, "v1.2.2");
  EXPECT_EQ(starts[0].instances, 3);
  EXPECT_EQ(starts[1].version, "v1.2.3");
  EXPECT_EQ(starts[1].instances, 1);
  for (int ready = 1; ready <= 4; ++ready) {
    sim.feed(RuntimeReport{"api", "v1.2.3", ready, 0, -1});
    const auto& sv = sim.state.services[0];
    EXPECT_GE(sv.stable_target + sv.new_ready, 3) << "ready " << ready;
    EXPECT_LE(sv.stable_target + sv.new_target, 4) << "ready " << ready;
  }
  EXPECT_EQ(sim.state.services[0].stable_target, 0);
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);  // the world applied 100 % at once
}

TEST(EngineScenario, RollingWithSurgeKeepsFullCapacity) {
  auto env = plainEnv(config::StrategyKind::Rolling);
  env.rolling.max_surge = {25, true};
  env.rolling.max_unavailable = {0, false};
  Sim sim;
  sim.auto_ready = false;
  auto spec = makeSpec(env, runbookApp(4));
  sim.feed(startFor(spec));
  const auto& sv = sim.state.services[0];
  EXPECT_EQ(sv.new_target, 1);
  EXPECT_EQ(sv.stable_target, 4);
  sim.feed(RuntimeReport{"api", "v1.2.3", 1, 0, -1});
  EXPECT_EQ(sim.state.services[0].stable_target, 3);
  EXPECT_EQ(sim.state.services[0].new_target, 2);
  auto t = ofType<SetTraffic>(sim.last);
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(weightOf(t.back(), "v1.2.3"), 25);  // 1 of 4 ready instances
}

// ---------------------------------------------------------------------------------------------
// Post-deploy watch, concurrency

TEST(EngineScenario, PostDeployWatchRollsBack) {
  auto env = productionEnv();
  env.canary.steps = {weightStep(100)};
  env.canary.analysis.reset();
  Sim sim;
  startProduction(sim, makeSpec(env, runbookApp()));
  ASSERT_EQ(sim.state.phase, Phase::Succeeded);
  const std::uint32_t watch = sim.lastRun(RunKind::Watch);
  ASSERT_NE(watch, 0u);
  // Two hours later the old version has been retired: the rollback restarts it first.
  sim.auto_ready = false;
  sim.advance(2h);
  sim.result(watch, "error-rate", Outcome::Failed);
  ASSERT_EQ(sim.state.phase, Phase::Aborting);
  auto starts = ofType<StartVersion>(sim.last);
  ASSERT_EQ(starts.size(), 5u);
  EXPECT_EQ(starts[0].version, "v1.2.2");
  EXPECT_TRUE(ofType<SetTraffic>(sim.last).empty());  // not before it is ready
  for (const auto& s : sim.state.services) sim.feed(RuntimeReport{s.name, "v1.2.2", 2, 0, -1});
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  auto traffic = ofType<SetTraffic>(sim.all);
  EXPECT_EQ(weightOf(traffic.back(), "v1.2.2"), 100);
  EXPECT_TRUE(hasAudit(sim.all, "watch.failed"));
}

TEST(EngineScenario, PostDeployWatchFailureWithinScaleDownDelaySwitchesImmediately) {
  auto env = productionEnv();
  env.canary.steps = {weightStep(100)};
  env.canary.analysis.reset();
  Sim sim;
  startProduction(sim, makeSpec(env, runbookApp()));
  sim.advance(10s);
  sim.result(sim.lastRun(RunKind::Watch), "error-rate", Outcome::Failed);
  EXPECT_EQ(sim.state.phase, Phase::RolledBack);
  const auto* t = firstTraffic(sim.last, "api");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(weightOf(*t, "v1.2.2"), 100);
}

TEST(EngineScenario, NewerReleaseSupersedes) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.concurrency = config::ConcurrencyPolicy::Supersede;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  sim.feed(NewerRelease{"v1.2.4", false, "alice"});
  EXPECT_EQ(sim.admission, Admission::Supersede);
  EXPECT_EQ(sim.state.phase, Phase::Superseded);
  const auto* t = firstTraffic(sim.last, "api");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(weightOf(*t, "v1.2.2"), 100);
  EXPECT_EQ(admitRelease(&sim.state, false, env.concurrency), Admission::StartNow);
}

TEST(EngineScenario, NewerReleaseQueues) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.concurrency = config::ConcurrencyPolicy::Queue;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  sim.feed(NewerRelease{"v1.2.4", false, "alice"});
  EXPECT_EQ(sim.admission, Admission::Queue);
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  EXPECT_TRUE(hasAudit(sim.last, "release.queued"));
  std::vector<QueuedRelease> q;
  enqueue(q, {"v1.2.4", false, "alice"});
  enqueue(q, {"v1.2.5", false, "bob"});
  enqueue(q, {"v1.2.1", true, "oncall"});  // rollback jumps the queue
  EXPECT_EQ(dequeue(q)->version, "v1.2.1");
  EXPECT_EQ(dequeue(q)->version, "v1.2.4");
  EXPECT_EQ(dequeue(q)->version, "v1.2.5");
  EXPECT_FALSE(dequeue(q).has_value());
}

TEST(EngineScenario, NewerReleaseRejectedByPolicyButRollbackTakesPrecedence) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.concurrency = config::ConcurrencyPolicy::Reject;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  sim.feed(NewerRelease{"v1.2.4", false, "alice"});
  EXPECT_EQ(sim.admission, Admission::Reject);
  ASSERT_TRUE(sim.refused.has_value());
  EXPECT_EQ(sim.refused->code, ErrorCode::Conflict);
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  sim.feed(NewerRelease{"v1.2.1", true, "oncall"});
  EXPECT_EQ(sim.admission, Admission::Supersede);
  EXPECT_EQ(sim.state.phase, Phase::Superseded);
}

TEST(EngineScenario, ConfigReloadDoesNotChangeARunningDeployment) {
  auto env = plainEnv(config::StrategyKind::Canary);
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  env.canary.steps = {weightStep(100)};  // "reloaded" config: the running one keeps its spec
  auto reloaded = makeSpec(env, runbookApp());
  sim.advance(5min);
  EXPECT_EQ(sim.state.canary_weight, 60);
  EXPECT_EQ(sim.state.spec->steps.size(), 4u);
  EXPECT_NE(*sim.state.spec, *reloaded);
}

TEST(EngineScenario, InputsBeforeStartAreRefused) {
  DeploymentState s;
  auto r = step(s, Timer{}, tuesdayMorning());
  ASSERT_TRUE(r.refused.has_value());
  EXPECT_EQ(r.state, s);
  auto spec = makeSpec(plainEnv(config::StrategyKind::Canary), runbookApp());
  auto started = step(s, startFor(spec), tuesdayMorning());
  auto again = step(started.state, startFor(spec), tuesdayMorning());
  ASSERT_TRUE(again.refused.has_value());
  EXPECT_EQ(again.refused->code, ErrorCode::Conflict);
}

TEST(EngineScenario, DescribeActions) {
  SetTraffic t{"api", {{"v1", 90}, {"v2", 10}}, {}};
  EXPECT_EQ(describe(t), "set traffic service=api weights {v1:90, v2:10}");
  EXPECT_EQ(describe(WakeAt{utc(2026, 11, 24, 10, 0)}), "wake at 2026-11-24T10:00:00.000Z");
  EXPECT_EQ(actionToJson(t),
            R"({"type":"setTraffic","service":"api","weights":{"v1":90,"v2":10},"routes":[]})");
}

// ---------------------------------------------------------------------------------------------
// Issue 13: rollback to what serves, initial deploys, force, surge, analysis verdicts

// Every SetTraffic in `actions` names exactly one version at 100 % (no split, no duplicates).
bool onlyWholeTrafficTo(const std::vector<Action>& actions, const std::string& version) {
  for (const auto& t : ofType<SetTraffic>(actions)) {
    if (t.weights.size() != 1 || t.weights[0].version != version || t.weights[0].weight != 100) {
      return false;
    }
  }
  return true;
}

TEST(EngineScenario, RollbackToTheServingVersionCompletesAtOnce) {
  // v1.2.2 serves; v1.2.3 was superseded by this rollback while paused at 20 %.
  auto env = plainEnv(config::StrategyKind::Canary);
  Sim sim;
  Start s = startFor(makeSpec(env, runbookApp()), "v1.2.2", "v1.2.2", "oncall");
  s.rollback = true;
  sim.feed(s);
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
  EXPECT_TRUE(sim.state.fast);
  EXPECT_TRUE(sim.state.stable_version.empty());
  EXPECT_FALSE(hasAudit(sim.all, "step.started"));
  EXPECT_TRUE(sim.analyses.empty());
  EXPECT_FALSE(ofType<SetTraffic>(sim.all).empty());
  EXPECT_TRUE(onlyWholeTrafficTo(sim.all, "v1.2.2"));  // never {v1.2.2: 80, v1.2.2: 20}
  EXPECT_TRUE(ofType<RetireVersion>(sim.all).empty());  // nothing else to retire
  EXPECT_TRUE(hasAudit(sim.all, "rollback.fast"));
}

TEST(EngineScenario, RollbackToTheServingVersionStaysOnItsColour) {
  Sim sim;
  Start s = startFor(makeSpec(stagingEnv(), runbookApp()), "v1.2.2", "v1.2.2", "oncall");
  s.rollback = true;
  s.active_colour = Colour::Green;
  sim.feed(s);
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
  EXPECT_TRUE(sim.checks.empty());  // no pre-promotion checks
  auto starts = ofType<StartVersion>(sim.all);
  ASSERT_FALSE(starts.empty());
  EXPECT_EQ(starts[0].colour, Colour::Green);
  auto sw = ofType<SwitchColour>(sim.all);
  ASSERT_FALSE(sw.empty());
  EXPECT_EQ(sw[0].colour, Colour::Green);
  EXPECT_EQ(sim.state.active_colour, Colour::Green);
}

TEST(EngineScenario, RedeployOfTheServingVersionIsAnInitialDeploy) {
  Sim sim;
  sim.feed(startFor(makeSpec(plainEnv(config::StrategyKind::Canary), runbookApp()), "v1.2.2",
                    "v1.2.2"));
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
  EXPECT_FALSE(sim.state.fast);
  EXPECT_TRUE(onlyWholeTrafficTo(sim.all, "v1.2.2"));
  EXPECT_TRUE(hasAudit(sim.all, "initial.deploy"));
}

TEST(EngineScenario, BlueGreenRollbackWhileTheOldColourRunsSwitchesBackAtOnce) {
  // v1.2.3 (green) succeeded; v1.2.2 (blue) still runs through the scale-down delay.
  auto env = stagingEnv();
  env.blue_green.auto_promotion = false;
  ASSERT_EQ(env.rollback_window, 0);
  Sim sim;
  Start s = startFor(makeSpec(env, runbookApp()), "v1.2.2", "v1.2.3", "oncall");
  s.rollback = true;
  s.target_running = true;
  s.active_colour = Colour::Green;
  sim.feed(s);
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
  EXPECT_TRUE(sim.state.fast);
  EXPECT_TRUE(sim.checks.empty());
  EXPECT_TRUE(sim.analyses.empty());
  auto sw = ofType<SwitchColour>(sim.all);
  ASSERT_EQ(sw.size(), 5u);
  EXPECT_EQ(sw[0].colour, Colour::Blue);
  EXPECT_EQ(sw[0].version, "v1.2.2");
  EXPECT_FALSE(hasAudit(sim.all, "promotion.awaiting"));

  // The same rollback once the old colour is gone runs the gates.
  Sim late;
  s.target_running = false;
  late.feed(s);
  EXPECT_EQ(late.state.phase, Phase::Progressing);
  EXPECT_FALSE(late.checks.empty());
}

TEST(EngineScenario, FirstReleaseTakesAllTrafficWithoutTheSteps) {
  auto env = plainEnv(config::StrategyKind::Canary);
  config::BackgroundAnalysis bg;
  bg.analysis = ref({"error-rate"});
  env.canary.analysis = bg;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp()), "v1", ""));
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
  EXPECT_FALSE(hasAudit(sim.all, "step.started"));
  EXPECT_TRUE(sim.analyses.empty());
  EXPECT_TRUE(onlyWholeTrafficTo(sim.all, "v1"));
  EXPECT_TRUE(hasAudit(sim.all, "initial.deploy"));

  // Approvals are policy, not a comparison: an initial deploy still waits for them.
  env.canary.steps = {weightStep(20), approvalStep({"tech-lead"}), weightStep(100)};
  Sim gated;
  gated.feed(startFor(makeSpec(env, runbookApp()), "v1", ""));
  ASSERT_EQ(gated.state.phase, Phase::AwaitingApproval);
  EXPECT_EQ(gated.state.approval_gate, 1);
  gated.approve("bob", "tech-lead");
  EXPECT_EQ(gated.state.phase, Phase::Succeeded);
  EXPECT_TRUE(onlyWholeTrafficTo(gated.all, "v1"));
}

TEST(EngineScenario, FirstReleaseRunsTheStepsWhenTheEnvironmentAsks) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps_on_initial_deploy = true;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp()), "v1", ""));
  EXPECT_EQ(sim.state.phase, Phase::Progressing);
  EXPECT_EQ(sim.state.canary_weight, 20);
  EXPECT_FALSE(hasAudit(sim.all, "initial.deploy"));
  sim.advance(5min);
  EXPECT_EQ(sim.state.phase, Phase::Paused);
  EXPECT_EQ(sim.state.pause_reason, PauseReason::PauseStep);
}

TEST(EngineScenario, ForceSkipsPausesButNotApprovals) {
  auto env = plainEnv(config::StrategyKind::Canary);  // 20, pause 5m, 60, pause {}
  Sim sim;
  Start s = startFor(makeSpec(env, runbookApp()));
  s.force = true;
  sim.feed(s);
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);
  EXPECT_TRUE(hasAudit(sim.all, "step.skipped"));
  // Traffic still walks the weights, each after readiness.
  std::vector<int> weights;
  for (const auto& t : ofType<SetTraffic>(sim.all)) {
    if (t.service == "api") weights.push_back(weightOf(t, "v1.2.3"));
  }
  EXPECT_EQ(weights, (std::vector<int>{20, 60, 100}));

  env.canary.steps = {weightStep(20), approvalStep({"tech-lead"}), weightStep(100)};
  Sim gated;
  s = startFor(makeSpec(env, runbookApp()));
  s.force = true;
  gated.feed(s);
  EXPECT_EQ(gated.state.phase, Phase::AwaitingApproval);
}

TEST(EngineScenario, RollingCountsInstancesBeingRetiredAgainstTheSurge) {
  auto env = plainEnv(config::StrategyKind::Rolling);
  env.rolling.max_surge = {1, false};
  env.rolling.max_unavailable = {0, false};
  config::Application app;
  app.name = "app";
  config::Service svc;
  svc.name = "api";
  svc.instances = 4;
  app.services = {svc};
  // A first release superseding a never-ready one: its 4 instances are still being retired.
  Sim sim;
  sim.auto_ready = false;
  Start s = startFor(makeSpec(env, app), "v2", "");
  s.other_instances = {{"api", 4}};
  sim.feed(s);
  const auto live = [&] {
    const auto& sv = sim.state.services[0];
    return sv.new_target + sv.stable_target + sv.others;
  };
  EXPECT_EQ(sim.state.services[0].new_target, 1);
  EXPECT_LE(live(), 5);
  for (int others : {3, 1, 0}) {
    RuntimeReport r{"api", "v2", 0, 0, -1};
    r.others = others;
    sim.feed(r);
    EXPECT_LE(live(), 5) << "others " << others;
    EXPECT_EQ(sim.state.services[0].new_target, 5 - others > 4 ? 4 : 5 - others);
  }
  sim.feed(RuntimeReport{"api", "v2", 4, 0, -1});
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);

  // With a stable version at full scale, one instance of a superseded version leaves no room.
  Sim busy;
  busy.auto_ready = false;
  s = startFor(makeSpec(env, app), "v3", "v1");
  s.other_instances = {{"api", 1}};
  busy.feed(s);
  EXPECT_EQ(busy.state.services[0].new_target, 0);
  EXPECT_TRUE(ofType<StartVersion>(busy.all).empty());
  RuntimeReport gone{"api", "v1", 4, 0, -1};
  gone.others = 0;
  busy.feed(gone);
  EXPECT_EQ(busy.state.services[0].new_target, 1);
}

TEST(EngineScenario, SupersededVersionIsRetiredAtOnce) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.concurrency = config::ConcurrencyPolicy::Supersede;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  sim.feed(NewerRelease{"v1.2.4", false, "alice"});
  ASSERT_EQ(sim.state.phase, Phase::Superseded);
  auto retire = ofType<RetireVersion>(sim.last);
  ASSERT_FALSE(retire.empty());
  EXPECT_EQ(retire[0].version, "v1.2.3");
  EXPECT_EQ(retire[0].at, sim.now);
}

TEST(EngineScenario, BackgroundAnalysisThatLastedToPromotionIsSuccessful) {
  auto env = plainEnv(config::StrategyKind::Canary);
  env.canary.steps = {weightStep(50), pauseStep(1min), weightStep(100)};
  config::BackgroundAnalysis bg;
  bg.analysis = ref({"error-rate"});
  env.canary.analysis = bg;
  Sim sim;
  sim.feed(startFor(makeSpec(env, runbookApp())));
  const std::uint32_t run = sim.lastRun(RunKind::Background);
  ASSERT_NE(run, 0u);
  for (int i = 0; i < 6; ++i) sim.result(run, "error-rate", Outcome::Successful);
  sim.advance(1min);
  ASSERT_EQ(sim.state.phase, Phase::Succeeded);
  ASSERT_EQ(sim.state.runs.size(), 1u);
  EXPECT_EQ(sim.state.runs[0].status, RunStatus::Successful);
  EXPECT_TRUE(hasAudit(sim.all, "analysis.successful"));

  // Promoted before its first measurement: it passed nothing, so it reads Stopped.
  Sim early;
  early.feed(startFor(makeSpec(env, runbookApp())));
  early.command(K::Promote);
  ASSERT_EQ(early.state.phase, Phase::Succeeded);
  EXPECT_EQ(early.state.runs[0].status, RunStatus::Stopped);

  // promote --full skips the analysis: not a pass either.
  Sim skipped;
  skipped.feed(startFor(makeSpec(env, runbookApp())));
  skipped.result(skipped.lastRun(RunKind::Background), "error-rate", Outcome::Successful);
  skipped.command(K::PromoteFull);
  ASSERT_EQ(skipped.state.phase, Phase::Succeeded);
  EXPECT_EQ(skipped.state.runs[0].status, RunStatus::Stopped);
}

// Issue 14 item 4: a rollback skips the start approvals unless its environment enforces the
// deploy gates for rollbacks (rollback.gates: enforce); then it waits for them like a deploy.
TEST(EngineScenario, RollbackGatesEnforcedWaitForTheStartApprovals) {
  auto env = stagingEnv();  // approvals: tech-lead
  ASSERT_FALSE(env.approvals.roles.empty());
  auto rollbackOf = [](std::shared_ptr<const DeploymentSpec> spec) {
    Start s = startFor(std::move(spec));
    s.rollback = true;
    return s;
  };
  Sim skipped;
  skipped.feed(rollbackOf(makeSpec(env, runbookApp())));
  EXPECT_NE(skipped.state.phase, Phase::AwaitingApproval);

  env.rollback.gates = config::RollbackPolicy::Gates::Enforce;
  Sim enforced;
  enforced.feed(rollbackOf(makeSpec(env, runbookApp())));
  ASSERT_EQ(enforced.state.phase, Phase::AwaitingApproval);
  enforced.approve("bob", "tech-lead");
  EXPECT_NE(enforced.state.phase, Phase::AwaitingApproval);
  // The spec says so in its JSON form, and reads it back.
  auto back = stateFromJson(stateToJson(enforced.state));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_TRUE(back->spec->rollback_gates);
}

// Staging's blue-green without approvals and pre-promotion checks: it switches at once.
std::shared_ptr<const DeploymentSpec> stagingSwitchingAtOnce() {
  auto env = stagingEnv();
  env.approvals.roles.clear();
  env.blue_green.pre_promotion_checks.reset();
  return makeSpec(env, runbookApp());
}

TEST(EngineScenario, PostPromotionAnalysisThroughVerificationIsSuccessful) {
  Sim sim;
  sim.feed(startFor(stagingSwitchingAtOnce()));
  ASSERT_EQ(sim.state.phase, Phase::Promoting);
  const std::uint32_t post = sim.lastRun(RunKind::PostPromotion);
  ASSERT_NE(post, 0u);
  sim.open_ended_metrics = true;  // measured until stopped: the verification period bounds them
  everyService(sim, post, "error-rate", Outcome::Successful);
  everyService(sim, post, "latency-p95", Outcome::Successful);
  sim.advance(15min);
  ASSERT_EQ(sim.state.phase, Phase::Succeeded);
  EXPECT_EQ(sim.state.runs.back().status, RunStatus::Successful);
}

// Issue 14 (found by the crash simulation): the verification period is a minimum. A post-
// promotion analysis that has not judged every service when it ends is waited for: a metric
// with a count that has not reached it, or one that measures until stopped but could only
// error, is not a pass.
TEST(EngineScenario, PostPromotionAnalysisNotYetJudgedHoldsTheVerification) {
  Sim sim;
  sim.feed(startFor(stagingSwitchingAtOnce()));
  ASSERT_EQ(sim.state.phase, Phase::Promoting);
  const std::uint32_t post = sim.lastRun(RunKind::PostPromotion);
  everyService(sim, post, "error-rate", Outcome::Successful);  // count not reached yet
  everyService(sim, post, "latency-p95", Outcome::Successful);
  sim.advance(20min);
  EXPECT_EQ(sim.state.phase, Phase::Promoting);
  everyService(sim, post, "error-rate", Outcome::Successful, RunStatus::Successful);
  everyService(sim, post, "latency-p95", Outcome::Successful, RunStatus::Successful, true);
  sim.advance(1s);
  EXPECT_EQ(sim.state.phase, Phase::Succeeded);

  Sim errors_only;
  errors_only.feed(startFor(stagingSwitchingAtOnce()));
  errors_only.open_ended_metrics = true;
  const std::uint32_t run = errors_only.lastRun(RunKind::PostPromotion);
  everyService(errors_only, run, "error-rate", Outcome::Error);  // could not measure, within the budget
  everyService(errors_only, run, "latency-p95", Outcome::Successful);
  errors_only.advance(20min);
  EXPECT_EQ(errors_only.state.phase, Phase::Promoting);

  // A first release has nothing to switch back to: it ends with the period.
  Sim first;
  first.feed(startFor(stagingSwitchingAtOnce(), "v1.0.0", ""));
  ASSERT_EQ(first.state.phase, Phase::Promoting);
  first.advance(15min);
  EXPECT_EQ(first.state.phase, Phase::Succeeded);
}

TEST(EngineJson, ReadsStatesWrittenBeforeIssue13Fields) {
  Sim sim;
  sim.feed(startFor(makeSpec(plainEnv(config::StrategyKind::Canary), runbookApp())));
  json::value v = json::parse(stateToJson(sim.state));
  // An older state: services as 10-element arrays, no stepsOnInitialDeploy in the spec.
  for (auto& sv : v.at("services").as_array()) sv.as_array().pop_back();
  v.at("spec").as_object().erase("stepsOnInitialDeploy");
  auto back = stateFromJson(json::serialize(v));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->services[0].others, 0);
  EXPECT_TRUE(back->spec->steps_on_initial_deploy);  // what first deployments did then
}

// ---------------------------------------------------------------------------------------------
// Spec and JSON

TEST(EngineSpec, BuildSpecReportsMissingTemplatesAndBadTimezones) {
  auto env = productionEnv();
  env.canary.analysis->analysis.templates.push_back("apdex");
  auto r = buildSpec(env, runbookApp(), runbookTemplates());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message.find("\"apdex\" does not exist"), std::string::npos);

  auto env2 = productionEnv();
  env2.windows[0].timezone = "Europe/Paris";
  auto r2 = buildSpec(env2, runbookApp(), runbookTemplates());
  ASSERT_FALSE(r2.has_value());
  EXPECT_NE(r2.error().message.find("fixed offset"), std::string::npos);

  auto env3 = plainEnv(config::StrategyKind::Canary);
  env3.canary.steps = {weightStep(140)};
  EXPECT_FALSE(buildSpec(env3, runbookApp(), runbookTemplates()).has_value());

  config::Application empty;
  empty.name = "nothing";
  EXPECT_FALSE(buildSpec(productionEnv(), empty, runbookTemplates()).has_value());
}

TEST(EngineSpec, ParsesUtcOffsets) {
  EXPECT_EQ(*parseUtcOffset("UTC"), 0);
  EXPECT_EQ(*parseUtcOffset("+02:00"), 120);
  EXPECT_EQ(*parseUtcOffset("-05:30"), -330);
  EXPECT_EQ(*parseUtcOffset("UTC+01:00"), 60);
  EXPECT_FALSE(parseUtcOffset("+2").has_value());
  EXPECT_FALSE(parseUtcOffset("+15:00").has_value());
}

TEST(EngineJson, RoundTripsAndCarriesSchemaVersion) {
  Sim sim;
  startProduction(sim, makeSpec(fiftyPercentEnv(), runbookApp()));
  sim.advance(15min);
  sim.result(sim.lastRun(RunKind::Background), "error-rate", Outcome::Error);
  sim.verdictOf(sim.lastRun(RunKind::Background), "frontend", "shadow", Outcome::Failed,
                RunStatus::Failed, false, "dry", /*dry_run=*/true);
  const std::string text = stateToJson(sim.state);
  EXPECT_NE(text.find("\"schemaVersion\":1"), std::string::npos);
  EXPECT_NE(text.find("[\"shadow\",1,0,1,0,0,\"Failed\",\"frontend\",true,false]"), std::string::npos)
      << text;
  auto back = stateFromJson(text);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, sim.state);
  EXPECT_EQ(stateToJson(*back), text);
}

TEST(EngineJson, RefusesNewerSchemaAndMalformedDocuments) {
  auto newer = stateFromJson(R"({"schemaVersion": 99})");
  ASSERT_FALSE(newer.has_value());
  EXPECT_EQ(newer.error().code, ErrorCode::FailedPrecondition);
  auto broken = stateFromJson("{not json");
  ASSERT_FALSE(broken.has_value());
  EXPECT_EQ(broken.error().code, ErrorCode::InvalidArgument);
  auto missing = stateFromJson(R"({"schemaVersion": 1, "id": "x"})");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("is missing"), std::string::npos);
  Sim sim;
  sim.feed(startFor(makeSpec(plainEnv(config::StrategyKind::Canary), runbookApp())));
  std::string text = stateToJson(sim.state);
  const auto at = text.find("\"Progressing\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 13, "\"Sideways\"");
  auto bad_phase = stateFromJson(text);
  ASSERT_FALSE(bad_phase.has_value());
  EXPECT_NE(bad_phase.error().message.find("Sideways"), std::string::npos);
}

}  // namespace
}  // namespace runway::engine
