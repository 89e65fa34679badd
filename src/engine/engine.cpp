#include "runway/engine/engine.hpp"
#include "runway/engine/runtime_report.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <utility>

namespace runway::engine {
namespace {

using StepKind = config::CanaryStep::Kind;

constexpr std::string_view kSystem = "runway";

Colour other(Colour c) { return c == Colour::Blue ? Colour::Green : Colour::Blue; }

int resolve(const IntOrPercent& v, int total, bool round_up) {
  if (!v.percent) return std::max(0, v.value);
  const long long scaled = static_cast<long long>(total) * v.value;
  const long long r = round_up ? (scaled + 99) / 100 : scaled / 100;
  return static_cast<int>(std::max(0LL, r));
}

std::string str(int v) { return std::to_string(v); }

// One application of one input. Holds references to the state being changed and the action
// list being filled; every mutation that matters goes through audit().
class Machine {
 public:
  Machine(DeploymentState& s, std::vector<Action>& out, TimePoint now)
      : s_(s), out_(out), now_(now) {}

  std::optional<Error> refused;
  std::optional<Admission> admission;

  void on(const Start& in);
  void on(const Timer& in);
  void on(const AnalysisResult& in);
  void on(const CheckResult& in);
  void on(const RuntimeReport& in);
  void on(const ApprovalDecision& in);
  void on(const OperatorCommand& in);
  void on(const NewerRelease& in);

  // Requests a wake-up for the earliest armed deadline that matters in the current phase.
  void scheduleWake();

 private:
  const DeploymentSpec& spec() const { return *s_.spec; }

  // --- audit and transitions -------------------------------------------------------------
  void audit(std::string_view actor, std::string_view kind, std::string reason, Phase from,
             Phase to) {
    s_.updated_at = now_;
    out_.push_back(Audit{now_, std::string(actor), std::string(kind), std::move(reason), from, to});
  }
  void note(std::string_view actor, std::string_view kind, std::string reason) {
    audit(actor, kind, std::move(reason), s_.phase, s_.phase);
  }
  void transition(Phase to, std::string_view actor, std::string_view kind, std::string reason) {
    const Phase from = s_.phase;
    s_.phase = to;
    if (to != Phase::Paused) s_.pause_reason = PauseReason::None;
    audit(actor, kind, std::move(reason), from, to);
  }
  void notify(NotifyEvent event, std::string reason) {
    out_.push_back(Notify{event, s_.phase, s_.version, std::move(reason)});
  }
  void refuse(ErrorCode code, std::string_view actor, std::string_view kind, std::string message) {
    note(actor, kind, message);
    refused = Error{code, std::move(message)};
  }

  // --- readiness and traffic -------------------------------------------------------------
  bool allNewReady() const {
    return std::all_of(s_.services.begin(), s_.services.end(), [](const ServiceProgress& sv) {
      return sv.new_ready >= sv.desired && sv.new_failed == 0;
    });
  }
  // The stable version can take its share of traffic: reported ready (or nothing to share with).
  bool allStableUp() const {
    if (s_.stable_version.empty()) return true;
    return std::all_of(s_.services.begin(), s_.services.end(),
                       [](const ServiceProgress& sv) { return sv.stable_ready > 0; });
  }
  const std::string& artifactFor(const std::string& service) const {
    static const std::string kNone;
    for (const auto& a : s_.artifacts) {
      if (a.service == service) return a.ref;
    }
    return kNone;
  }
  void startVersion(ServiceProgress& sv, const std::string& version, int instances,
                    std::optional<Colour> colour) {
    out_.push_back(StartVersion{sv.name, version,
                                version == s_.version ? artifactFor(sv.name) : std::string(),
                                instances, colour});
  }
  // Canary/rolling split: `w` percent to the new version, the rest to stable.
  void setTraffic(ServiceProgress& sv, int w) {
    SetTraffic t;
    t.service = sv.name;
    if (s_.stable_version.empty()) {
      w = 100;
      t.weights.push_back(VersionWeight{s_.version, 100});
    } else {
      t.weights.reserve(2);
      t.weights.push_back(VersionWeight{s_.stable_version, 100 - w});
      t.weights.push_back(VersionWeight{s_.version, w});
    }
    if (w < 100) {
      for (const auto& r : s_.routes) t.routes.push_back(RouteRule{r, s_.version});
    }
    sv.traffic_weight = w;
    out_.push_back(std::move(t));
  }
  void armDeadline() {
    if (!s_.progress_deadline_at) s_.progress_deadline_at = now_ + spec().progress_deadline;
  }
  void waitForReadiness() {
    if (s_.awaiting_readiness) return;
    s_.awaiting_readiness = true;
    armDeadline();
    note(kSystem, "instances.waiting",
         "waiting for ready instances before traffic moves (deadline " +
             formatTimestamp(*s_.progress_deadline_at) + ")");
  }
  // Clears the readiness wait once every service is ready; returns whether it is clear.
  // What a readiness wait waits for: every new instance, and for a canary still sharing
  // traffic, a ready stable version too.
  bool readyForTraffic() const {
    if (!allNewReady()) return false;
    if (s_.strategy == StrategyKind::Canary && !s_.fast && !s_.promoted_full &&
        s_.phase != Phase::Promoting) {
      return allStableUp();
    }
    return true;
  }
  bool readinessGate() {
    if (!s_.awaiting_readiness) return true;
    if (!readyForTraffic()) return false;
    s_.awaiting_readiness = false;
    s_.progress_deadline_at.reset();
    if (s_.phase == Phase::Degraded) {
      transition(s_.paused_from, kSystem, "deployment.recovered",
                 "every instance of " + s_.version + " is ready");
    } else {
      note(kSystem, "instances.ready", "every instance of " + s_.version + " is ready");
    }
    return true;
  }

  // --- analysis and checks ---------------------------------------------------------------
  const AnalysisSpec* runSpec(const AnalysisRun& run) const {
    const auto& sp = spec();
    switch (run.kind) {
      case RunKind::Inline:
        return run.step >= 0 && static_cast<std::size_t>(run.step) < sp.steps.size()
                   ? &sp.steps[static_cast<std::size_t>(run.step)].analysis
                   : nullptr;
      case RunKind::Background: return sp.background ? &*sp.background : nullptr;
      case RunKind::PrePromotion:
        return sp.pre_promotion_analysis ? &*sp.pre_promotion_analysis : nullptr;
      case RunKind::PostPromotion:
        return sp.post_promotion_analysis ? &*sp.post_promotion_analysis : nullptr;
      case RunKind::Watch: return sp.watch_analysis ? &*sp.watch_analysis : nullptr;
    }
    return nullptr;
  }
  void startRun(RunKind kind, int step, const AnalysisSpec& a) {
    AnalysisRun run;
    run.id = s_.next_run_id++;
    run.kind = kind;
    run.step = step;
    // Tallies appear per service and metric as the analysis module reports verdicts.
    StartAnalysis act;
    act.run = run.id;
    act.kind = kind;
    act.step = step;
    act.version = s_.version;
    act.baseline = s_.stable_version;
    act.templates = a.templates;
    act.args = a.args;
    act.interval = a.interval;
    act.thresholds = a.thresholds;
    out_.push_back(std::move(act));
    note(kSystem, "analysis.started",
         std::string(toString(kind)) + " analysis run " + std::to_string(run.id) + " started");
    s_.runs.push_back(std::move(run));
  }
  void stopRun(AnalysisRun& run, RunStatus status) {
    if (run.status != RunStatus::Running) return;
    run.status = status;
    out_.push_back(StopAnalysis{run.id});
  }
  void stopAllRuns(std::optional<RunKind> only = std::nullopt) {
    bool any = false;
    for (auto& r : s_.runs) {
      if (r.status == RunStatus::Running && (!only || r.kind == *only)) {
        stopRun(r, RunStatus::Stopped);
        any = true;
      }
    }
    for (auto& c : s_.checks) {
      if (!only && c.status == CheckStatus::Running) {
        c.status = CheckStatus::Stopped;
        any = true;
      }
    }
    if (any) note(kSystem, "analysis.stopped", "running analysis and checks stopped");
  }
  // Ends the running runs of `kind` that lasted to the end of the rollout with no limit
  // exceeded: stopping them there is not a verdict, so they are Successful, or Stopped when
  // they never took a measurement.
  void completeRuns(RunKind kind) {
    for (auto& r : s_.runs) {
      if (r.status != RunStatus::Running || r.kind != kind) continue;
      const bool measured = std::any_of(r.metrics.begin(), r.metrics.end(),
                                        [](const MetricTally& m) { return m.measurements > 0; });
      stopRun(r, measured ? RunStatus::Successful : RunStatus::Stopped);
      const std::string name =
          std::string(toString(kind)) + " analysis run " + std::to_string(r.id);
      if (measured) {
        note(kSystem, "analysis.successful", name + " successful (ended with the rollout)");
      } else {
        note(kSystem, "analysis.stopped", name + " stopped before its first measurement");
      }
    }
  }
  const AnalysisRun* runFor(RunKind kind, int step) const {
    for (auto it = s_.runs.rbegin(); it != s_.runs.rend(); ++it) {
      if (it->kind == kind && it->step == step) return &*it;
    }
    return nullptr;
  }
  // The post-promotion analysis has judged every service: its run passed, or (still running
  // when the verification period ends) every non-dry-run metric of every service has its
  // final Successful verdict, or measures until stopped and has at least one successful
  // measurement within its limits. A metric that could only error, or that has not reached its
  // count, is not judged yet.
  bool postPromotionJudged() const {
    const AnalysisRun* r = runFor(RunKind::PostPromotion, -1);
    if (r == nullptr) return false;
    if (runPassed(r)) return true;
    if (r->status != RunStatus::Running) return false;
    std::set<std::string> judged;
    for (const auto& m : r->metrics) {
      if (m.dry_run) continue;
      const bool ok = m.status == RunStatus::Successful ||
                      (m.status == RunStatus::Running && m.open_ended && m.successful > 0);
      if (!ok) return false;
      judged.insert(m.service);
    }
    // The services the run measures: the one its args name, or every service.
    const auto& args = spec().post_promotion_analysis->args;
    if (auto named = args.find("service"); named != args.end()) return judged.count(named->second) != 0;
    for (const auto& sv : s_.services) {
      if (judged.count(sv.name) == 0) return false;
    }
    return true;
  }
  static bool runPassed(const AnalysisRun* r) {
    return r != nullptr && (r->status == RunStatus::Successful ||
                            (r->status == RunStatus::Inconclusive && r->accepted));
  }
  void startChecks(CheckKind kind, int step, const CheckSpec& c) {
    CheckRun run{s_.next_run_id++, kind, step, CheckStatus::Running};
    out_.push_back(RunChecks{run.id, kind, step, s_.version, c});
    note(kSystem, "checks.started",
         std::string(toString(kind)) + " checks run " + std::to_string(run.id) + " started");
    s_.checks.push_back(run);
  }
  const CheckRun* checksFor(CheckKind kind, int step) const {
    for (auto it = s_.checks.rbegin(); it != s_.checks.rend(); ++it) {
      if (it->kind == kind && it->step == step) return &*it;
    }
    return nullptr;
  }

  // --- approvals ---------------------------------------------------------------------------
  const std::vector<std::string>& rolesFor(int gate) const {
    return gate == kStartGate ? spec().approval_roles
                              : spec().steps[static_cast<std::size_t>(gate)].approval;
  }
  const ApprovalRecord* approvalOf(int gate, const std::string& role) const {
    for (const auto& a : s_.approvals) {
      if (a.gate == gate && a.role == role) return &a;
    }
    return nullptr;
  }
  std::vector<std::string> missingRoles(int gate) const {
    std::vector<std::string> missing;
    for (const auto& r : rolesFor(gate)) {
      if (approvalOf(gate, r) == nullptr) missing.push_back(r);
    }
    return missing;
  }
  bool gateApproved(int gate) const {
    for (const auto& r : rolesFor(gate)) {
      if (approvalOf(gate, r) == nullptr) return false;
    }
    return true;
  }
  void enterApprovalGate(int gate) {
    s_.approval_gate = gate;
    if (s_.phase != Phase::AwaitingApproval) s_.paused_from = s_.phase;
    auto missing = missingRoles(gate);
    std::string who;
    for (const auto& r : missing) who += (who.empty() ? "" : ", ") + r;
    if (spec().approval_timeout) s_.approval_deadline = now_ + *spec().approval_timeout;
    transition(Phase::AwaitingApproval, kSystem, "approval.requested",
               (gate == kStartGate ? std::string("deployment") : "step " + str(gate)) +
                   " needs approval from " + who);
    out_.push_back(RequestApproval{gate, std::move(missing), s_.approval_deadline});
    notify(NotifyEvent::ApprovalNeeded, "approval needed from " + who);
  }

  // A canary with no stable version (the environment's first release) has nothing to compare
  // against: unless the environment asks for the steps, it skips every step but approvals and
  // takes all traffic when ready.
  bool initialSkipsSteps() const {
    return s_.strategy == StrategyKind::Canary && s_.stable_version.empty() &&
           !spec().steps_on_initial_deploy;
  }

  // --- flow --------------------------------------------------------------------------------
  void checkWindow();
  void enterPreflight();
  void beginRollout();
  void progress();
  void canaryProgress();
  void runSteps();
  bool enterStep(const StepSpec& st);
  bool stepDone(const StepSpec& st);
  void completeStep();
  void beginPromotion();
  void promotingProgress();
  void blueGreenProgress();
  void switchColour();
  void rollingProgress();
  void rollingService(ServiceProgress& sv, bool& waiting);
  void succeed();
  void abort(std::string_view actor, std::string_view kind, std::string reason,
             Phase target = Phase::RolledBack);
  void endBeforeDeploy(Phase to, std::string_view actor, std::string_view kind,
                       std::string reason);
  void abortProgress();
  void restoreStable(ServiceProgress& sv);
  bool stableServing(const ServiceProgress& sv) const;
  void pauseForPerson(const AnalysisRun& run);
  void acceptInconclusive(std::string_view actor);
  void deadlineExceeded();

  DeploymentState& s_;
  std::vector<Action>& out_;
  TimePoint now_;
};

// ---------------------------------------------------------------------------------------------
// Start and gates

void Machine::on(const Start& in) {
  if (s_.phase != Phase::Pending) {
    refuse(ErrorCode::Conflict, in.actor, "start.refused",
           "deployment " + s_.id + " has already started (phase " +
               std::string(toString(s_.phase)) + ")");
    return;
  }
  if (!in.spec) {
    refuse(ErrorCode::InvalidArgument, in.actor, "start.refused", "start without a spec");
    return;
  }
  s_.id = in.id;
  s_.spec = SpecRef{in.spec};
  s_.environment = in.spec->environment;
  s_.application = in.spec->application;
  s_.version = in.version;
  s_.artifacts = in.artifacts;
  // The version that already serves has nothing to shift traffic from: the deployment runs as
  // if there were no stable version, on the colour the version already runs as.
  const bool serving = !in.stable_version.empty() && in.stable_version == in.version;
  s_.stable_version = serving ? std::string() : in.stable_version;
  s_.started_by = in.actor;
  s_.reason = in.reason;
  s_.strategy = in.strategy.value_or(in.spec->strategy);
  s_.force = in.force;
  s_.rollback = in.rollback;
  s_.fast = in.rollback && (serving || in.target_running ||
                            (in.in_rollback_window && in.spec->rollback_window > 0));
  s_.emergency = in.rollback && in.emergency;
  // Blue-green starts the new version on the other colour than active_colour; a serving version
  // stays where it runs.
  s_.active_colour = serving ? other(in.active_colour) : in.active_colour;
  s_.attempt = 1;
  s_.created_at = now_;
  s_.services.clear();
  for (const auto& svc : in.spec->services) {
    ServiceProgress sv;
    sv.name = svc.name;
    sv.desired = svc.instances;
    sv.stable_target = s_.stable_version.empty() ? 0 : svc.instances;
    sv.stable_ready = sv.stable_target;
    if (auto o = in.other_instances.find(svc.name); o != in.other_instances.end()) {
      sv.others = std::max(0, o->second);
    }
    s_.services.push_back(std::move(sv));
  }
  note(in.actor, "deployment.created",
       (in.rollback ? "rollback of " : "deployment of ") + s_.environment + " to " + s_.version +
           (in.reason.empty() ? std::string() : ": " + in.reason));

  const DeploymentSpec& sp = spec();
  if (in.force && !sp.force_allowed) {
    transition(Phase::Rejected, in.actor, "force.refused",
               "force is forbidden in " + s_.environment);
    refused = Error{ErrorCode::PermissionDenied,
                    "force is forbidden in " + s_.environment + " by its policy"};
    notify(NotifyEvent::Rejected, "force is forbidden in " + s_.environment);
    return;
  }
  if (!sp.promotes_from.empty() && !in.rollback) {
    if (!in.succeeded_in_source && !in.force) {
      std::string msg = "version " + s_.version + " has not succeeded in " + sp.promotes_from +
                        ", which " + s_.environment + " promotes from";
      transition(Phase::Rejected, in.actor, "promotion_source.refused", msg);
      refused = Error{ErrorCode::FailedPrecondition, msg};
      notify(NotifyEvent::Rejected, msg);
      return;
    }
    if (!in.succeeded_in_source) {
      note(in.actor, "promotion_source.forced",
           "force skips the check that " + s_.version + " succeeded in " + sp.promotes_from);
    }
  }
  if (s_.fast) {
    note(in.actor, "rollback.fast",
         serving ? s_.version + " already serves " + s_.environment +
                       ": the rollback completes at once, without steps or analysis"
         : in.target_running
             ? s_.version + " still runs: traffic goes straight back to it, without steps or "
                            "analysis"
             : s_.version + " is within the rollback window: steps and analysis are skipped");
  }
  notify(NotifyEvent::Started, s_.reason);
  // A rollback skips the start approvals unless its environment enforces them for rollbacks.
  if ((!in.rollback || sp.rollback_gates) && !sp.approval_roles.empty()) {
    enterApprovalGate(kStartGate);
    return;
  }
  checkWindow();
}

void Machine::checkWindow() {
  const DeploymentSpec& sp = spec();
  s_.window_opens_at.reset();
  if (windowOpen(sp, now_)) {
    enterPreflight();
    return;
  }
  if (s_.emergency) {
    note(s_.started_by, "window.bypassed",
         "emergency rollback by " + s_.started_by + " bypasses the change window or freeze");
    enterPreflight();
    return;
  }
  auto next = nextWindowOpening(sp, now_);
  if (!next) {
    endBeforeDeploy(Phase::Failed, kSystem, "window.never",
                    "no change window opens in " + s_.environment + " within 400 days");
    return;
  }
  s_.window_opens_at = next;
  std::string msg = "outside the change windows of " + s_.environment + "; starts at " +
                    formatTimestamp(*next);
  if (s_.phase != Phase::WaitingForWindow) {
    transition(Phase::WaitingForWindow, kSystem, "window.waiting", msg);
    notify(NotifyEvent::WaitingForWindow, msg);
  } else {
    note(kSystem, "window.waiting", msg);
  }
}

void Machine::enterPreflight() {
  if (!s_.force && !s_.fast && !spec().preflight.empty()) {
    transition(Phase::PreFlight, kSystem, "preflight.started", "pre-flight checks");
    startChecks(CheckKind::PreFlight, -1, spec().preflight);
    return;
  }
  beginRollout();
}

void Machine::beginRollout() {
  transition(Phase::Progressing, kSystem, "rollout.started",
             std::string(strategyName(s_.strategy)) + " rollout of " + s_.version +
                 " (attempt " + str(s_.attempt) + ")");
  if (s_.strategy == StrategyKind::Rolling) {
    progress();
    return;
  }
  if (initialSkipsSteps() && !s_.fast) {
    note(kSystem, "initial.deploy",
         "no stable version in " + s_.environment + " to compare against: " + s_.version +
             " takes all traffic when ready, without the canary steps (approval steps still "
             "apply)");
  }
  const std::optional<Colour> colour =
      s_.strategy == StrategyKind::BlueGreen ? std::optional<Colour>(other(s_.active_colour))
                                             : std::nullopt;
  for (auto& sv : s_.services) {
    sv.new_target = sv.desired;
    startVersion(sv, s_.version, sv.desired, colour);
  }
  waitForReadiness();
  progress();
}

// ---------------------------------------------------------------------------------------------
// Progress

void Machine::progress() {
  switch (s_.phase) {
    case Phase::Progressing:
    case Phase::Paused:
    case Phase::Degraded:
    case Phase::Promoting:
    case Phase::AwaitingApproval:
      if (s_.phase == Phase::AwaitingApproval && s_.approval_gate == kStartGate) return;
      switch (s_.strategy) {
        case StrategyKind::Canary: canaryProgress(); break;
        case StrategyKind::BlueGreen: blueGreenProgress(); break;
        case StrategyKind::Rolling: rollingProgress(); break;
      }
      return;
    case Phase::Aborting: abortProgress(); return;
    default: return;
  }
}

void Machine::canaryProgress() {
  if (s_.phase == Phase::Paused && (s_.pause_reason == PauseReason::Inconclusive ||
                                    s_.pause_reason == PauseReason::Operator)) {
    return;
  }
  if (s_.phase == Phase::Promoting) {
    promotingProgress();
    return;
  }
  if (!readinessGate()) return;
  if (s_.fast || s_.promoted_full) {
    beginPromotion();
    return;
  }
  runSteps();
}

void Machine::runSteps() {
  const auto& steps = spec().steps;
  while (true) {
    if (!s_.background_started && spec().background && !s_.force && !initialSkipsSteps() &&
        s_.step_index >= spec().background_start &&
        static_cast<std::size_t>(s_.step_index) < steps.size()) {
      s_.background_started = true;
      startRun(RunKind::Background, -1, *spec().background);
    }
    if (static_cast<std::size_t>(s_.step_index) >= steps.size()) break;
    const StepSpec& st = steps[static_cast<std::size_t>(s_.step_index)];
    if (initialSkipsSteps() && st.kind != StepKind::Approval && !s_.step_entered) {
      // Approvals are policy, not a comparison: an initial deploy still waits for them.
      note(kSystem, "step.skipped",
           "step " + str(s_.step_index) + " (" + std::string(stepKindName(st.kind)) +
               ") skipped: initial deploy");
      s_.step_index++;
      continue;
    }
    if (!s_.step_entered) {
      if (!enterStep(st)) return;
      s_.step_entered = true;
    }
    if (!stepDone(st)) return;
    completeStep();
  }
  beginPromotion();
}

bool Machine::enterStep(const StepSpec& st) {
  const int i = s_.step_index;
  switch (st.kind) {
    case StepKind::SetWeight:
    case StepKind::SetHeaderRoute: {
      const int w = st.kind == StepKind::SetWeight ? st.weight : s_.canary_weight;
      // Traffic goes only to ready versions: the new one, and stable when it keeps a share.
      if (!allNewReady() || (w < 100 && !allStableUp())) {
        waitForReadiness();
        return false;
      }
      // The environment's A/B routes hold from the canary's first traffic step on.
      for (const auto& r : spec().routes) {
        if (std::find(s_.routes.begin(), s_.routes.end(), r) == s_.routes.end()) {
          s_.routes.push_back(r);
        }
      }
      if (st.kind == StepKind::SetWeight) {
        s_.canary_weight = st.weight;
      } else {
        s_.routes.push_back(st.route);
      }
      for (auto& sv : s_.services) setTraffic(sv, s_.canary_weight);
      note(kSystem, "step.started",
           st.kind == StepKind::SetWeight
               ? "step " + str(i) + ": weight of " + s_.version + " set to " + str(st.weight)
               : "step " + str(i) + ": header route to " + s_.version + " on " +
                     (st.route.header.empty() ? "cookie " + st.route.cookie
                                              : "header " + st.route.header));
      return true;
    }
    case StepKind::Pause:
      if (s_.force) {
        note(s_.started_by, "step.skipped", "step " + str(i) + ": pause skipped by force");
        return true;
      }
      if (st.pause) {
        s_.pause_until = now_ + *st.pause;
        note(kSystem, "step.started",
             "step " + str(i) + ": pause until " + formatTimestamp(*s_.pause_until));
      } else {
        s_.paused_from = s_.phase;
        transition(Phase::Paused, kSystem, "step.started",
                   "step " + str(i) + ": paused until promoted");
        s_.pause_reason = PauseReason::PauseStep;
        notify(NotifyEvent::Paused, "step " + str(i) + " waits for `runway promote`");
      }
      return true;
    case StepKind::Analysis:
      if (s_.force) {
        note(s_.started_by, "step.skipped", "step " + str(i) + ": analysis skipped by force");
      } else {
        startRun(RunKind::Inline, i, st.analysis);
      }
      return true;
    case StepKind::Approval:
      if (!gateApproved(i)) enterApprovalGate(i);
      return true;
    case StepKind::Checks:
      if (s_.force) {
        note(s_.started_by, "step.skipped", "step " + str(i) + ": checks skipped by force");
      } else {
        startChecks(CheckKind::Step, i, st.checks);
      }
      return true;
  }
  return true;
}

bool Machine::stepDone(const StepSpec& st) {
  const int i = s_.step_index;
  switch (st.kind) {
    case StepKind::SetWeight:
    case StepKind::SetHeaderRoute: return true;
    case StepKind::Pause:
      if (s_.force) return true;
      if (s_.phase == Phase::Paused && s_.pause_reason != PauseReason::PauseStep) return false;
      return s_.pause_skipped || (s_.pause_until && now_ >= *s_.pause_until);
    case StepKind::Analysis: return s_.force || runPassed(runFor(RunKind::Inline, i));
    case StepKind::Approval: return gateApproved(i);
    case StepKind::Checks: {
      if (s_.force) return true;
      const CheckRun* c = checksFor(CheckKind::Step, i);
      return c != nullptr && c->status == CheckStatus::Passed;
    }
  }
  return false;
}

void Machine::completeStep() {
  const int i = s_.step_index;
  s_.step_index++;
  s_.step_entered = false;
  s_.pause_skipped = false;
  s_.pause_until.reset();
  std::string msg = "step " + str(i) + " (" +
                    std::string(stepKindName(spec().steps[static_cast<std::size_t>(i)].kind)) +
                    ") completed";
  if (s_.phase == Phase::Paused || s_.phase == Phase::AwaitingApproval) {
    s_.approval_deadline.reset();
    transition(Phase::Progressing, kSystem, "step.completed", std::move(msg));
  } else {
    note(kSystem, "step.completed", std::move(msg));
  }
}

void Machine::beginPromotion() {
  completeRuns(RunKind::Background);
  s_.canary_weight = 100;
  s_.routes.clear();
  s_.pause_until.reset();
  transition(Phase::Promoting, kSystem, "promotion.started",
             s_.promoted_full ? "promote --full: " + s_.version + " takes all traffic"
                              : s_.version + " takes all traffic");
  promotingProgress();
}

// Canary and rolling: all traffic to the new version once it is ready, then wait until the
// router reports it applied.
void Machine::promotingProgress() {
  bool pending = false;
  for (const auto& sv : s_.services) pending = pending || sv.traffic_weight != 100;
  if (pending) {
    if (!allNewReady()) {
      waitForReadiness();
      return;
    }
    if (s_.awaiting_readiness) {
      s_.awaiting_readiness = false;
      s_.progress_deadline_at.reset();
    }
    for (auto& sv : s_.services) {
      if (sv.traffic_weight != 100) setTraffic(sv, 100);
    }
    note(kSystem, "traffic.full", "all traffic to " + s_.version);
  }
  for (const auto& sv : s_.services) {
    if (sv.applied_weight != 100) return;
  }
  succeed();
}

void Machine::blueGreenProgress() {
  if (s_.phase == Phase::Paused && (s_.pause_reason == PauseReason::Inconclusive ||
                                    s_.pause_reason == PauseReason::Operator)) {
    return;
  }
  if (!readinessGate()) return;
  const DeploymentSpec& sp = spec();
  if (!s_.switched) {
    if (s_.fast || s_.force || s_.promoted_full) {
      switchColour();
      return;
    }
    if (!s_.pre_gates_started) {
      s_.pre_gates_started = true;
      // The environment's A/B routes reach the new colour before the switch (a preview for
      // whoever sends the header or cookie); all other traffic stays on the active colour.
      if (!sp.routes.empty() && !s_.stable_version.empty()) {
        s_.routes = sp.routes;
        for (auto& sv : s_.services) {
          SetTraffic t;
          t.service = sv.name;
          t.weights = {VersionWeight{s_.stable_version, 100}, VersionWeight{s_.version, 0}};
          for (const auto& r : s_.routes) t.routes.push_back(RouteRule{r, s_.version});
          out_.push_back(std::move(t));
        }
        note(kSystem, "traffic.routes",
             "requests matching the environment's routes go to " + s_.version +
                 " before the switch");
      }
      if (!sp.pre_promotion_checks.empty()) {
        startChecks(CheckKind::PrePromotion, -1, sp.pre_promotion_checks);
      }
      if (sp.pre_promotion_analysis) {
        startRun(RunKind::PrePromotion, -1, *sp.pre_promotion_analysis);
      }
    }
    if (!sp.pre_promotion_checks.empty()) {
      const CheckRun* c = checksFor(CheckKind::PrePromotion, -1);
      if (c == nullptr || c->status != CheckStatus::Passed) return;
    }
    if (sp.pre_promotion_analysis && !runPassed(runFor(RunKind::PrePromotion, -1))) return;
    if (s_.phase == Phase::Paused) return;  // AwaitingPromotion: needs `promote`
    if (sp.auto_promotion) {
      if (!s_.auto_promote_at) {
        s_.auto_promote_at = now_ + sp.auto_promotion_after;
        note(kSystem, "promotion.scheduled",
             "pre-promotion gates passed; switch at " + formatTimestamp(*s_.auto_promote_at));
      }
      if (now_ >= *s_.auto_promote_at) switchColour();
      return;
    }
    s_.paused_from = s_.phase;
    transition(Phase::Paused, kSystem, "promotion.awaiting",
               "pre-promotion gates passed; the switch waits for `runway promote`");
    s_.pause_reason = PauseReason::AwaitingPromotion;
    notify(NotifyEvent::Paused, s_.version + " is ready to switch: run `runway promote`");
    return;
  }
  // Promoting: the verification period.
  if (s_.phase != Phase::Promoting) return;
  if (s_.verification_until && now_ < *s_.verification_until) return;
  if (!s_.promoted_full && !s_.fast && !s_.force && !sp.post_promotion_checks.empty()) {
    const CheckRun* c = checksFor(CheckKind::PostPromotion, -1);
    if (c == nullptr || c->status != CheckStatus::Passed) return;
  }
  // The verification period is a minimum: what was not judged yet is waited for. Not on a first
  // release: with nothing to go back to (and, usually, no users yet) it ends with the period,
  // as a canary's first release skips its steps.
  if (!s_.promoted_full && !s_.fast && !s_.force && !s_.stable_version.empty() &&
      sp.post_promotion_analysis && !postPromotionJudged()) {
    return;
  }
  for (const auto& sv : s_.services) {
    if (sv.applied_weight != 100) return;
  }
  succeed();
}

void Machine::switchColour() {
  if (!allNewReady()) {
    waitForReadiness();
    return;
  }
  const Colour to = other(s_.active_colour);
  for (auto& sv : s_.services) {
    out_.push_back(SwitchColour{sv.name, to, s_.version});
    sv.traffic_weight = 100;
  }
  s_.active_colour = to;
  s_.switched = true;
  s_.routes.clear();  // all traffic goes to the new colour now
  s_.auto_promote_at.reset();
  transition(Phase::Promoting, kSystem, "traffic.switched",
             "all traffic switched to " + std::string(toString(to)) + " (" + s_.version + ")");
  notify(NotifyEvent::Promoted, "traffic switched to " + s_.version);
  const DeploymentSpec& sp = spec();
  if (s_.promoted_full || s_.fast || s_.force) return;
  s_.verification_until = now_ + sp.verification;
  if (!sp.post_promotion_checks.empty()) {
    startChecks(CheckKind::PostPromotion, -1, sp.post_promotion_checks);
  }
  if (sp.post_promotion_analysis) {
    startRun(RunKind::PostPromotion, -1, *sp.post_promotion_analysis);
  }
}

void Machine::rollingProgress() {
  if (s_.phase == Phase::Paused) return;
  if (s_.phase == Phase::Promoting) {
    promotingProgress();
    return;
  }
  bool waiting = false;
  bool done = true;
  for (auto& sv : s_.services) {
    rollingService(sv, waiting);
    if (sv.new_ready < sv.desired || sv.stable_target > 0) done = false;
  }
  if (waiting) {
    if (!s_.awaiting_readiness) waitForReadiness();
  } else if (s_.awaiting_readiness) {
    s_.awaiting_readiness = false;
    s_.progress_deadline_at.reset();
    if (s_.phase == Phase::Degraded) {
      transition(s_.paused_from, kSystem, "deployment.recovered", "instances are ready again");
    }
  }
  if (done && s_.phase == Phase::Progressing) {
    transition(Phase::Promoting, kSystem, "promotion.started",
               "every instance runs " + s_.version);
    promotingProgress();
  }
}

void Machine::rollingService(ServiceProgress& sv, bool& waiting) {
  const DeploymentSpec& sp = spec();
  const int n = sv.desired;
  int surge = resolve(sp.max_surge, n, true);
  const int unavailable = std::min(n, resolve(sp.max_unavailable, n, false));
  if (s_.promoted_full || s_.fast) surge = n;
  if (surge == 0 && unavailable == 0) surge = 1;
  const int min_available = n - unavailable;
  const int new_up = std::min(sv.new_ready, sv.new_target);
  // Scale the old version down as far as availability allows.
  const int lowest_old = std::max(0, min_available - new_up);
  if (lowest_old < sv.stable_target && !s_.stable_version.empty()) {
    sv.stable_target = lowest_old;
    sv.stable_ready = std::min(sv.stable_ready, lowest_old);
    if (lowest_old == 0) {
      out_.push_back(RetireVersion{sv.name, s_.stable_version, now_});
    } else {
      startVersion(sv, s_.stable_version, lowest_old, std::nullopt);
    }
    note(kSystem, "rolling.scaled",
         sv.name + ": " + s_.stable_version + " scaled to " + str(lowest_old));
  }
  // Then scale the new version up within the surge. Instances of other versions still running
  // (a superseded release being retired) use up the surge too: at most n + surge live.
  const int want_new = std::min(n, n + surge - sv.stable_target - sv.others);
  if (want_new > sv.new_target) {
    sv.new_target = want_new;
    startVersion(sv, s_.version, want_new, std::nullopt);
    note(kSystem, "rolling.scaled", sv.name + ": " + s_.version + " scaled to " + str(want_new));
  }
  if (sv.new_ready < sv.new_target || (sv.new_target < n && sv.others > 0)) waiting = true;
  // Traffic follows ready instances.
  const int stable_up =
      s_.stable_version.empty() ? 0 : std::min(sv.stable_ready, sv.stable_target);
  if (new_up + stable_up > 0) {
    const int w = new_up * 100 / (new_up + stable_up);
    if (w != sv.traffic_weight && (w > 0 || stable_up > 0)) setTraffic(sv, w);
  }
}

void Machine::succeed() {
  const DeploymentSpec& sp = spec();
  completeRuns(RunKind::Background);
  completeRuns(RunKind::PostPromotion);
  stopAllRuns();
  s_.verification_until.reset();
  s_.progress_deadline_at.reset();
  s_.awaiting_readiness = false;
  if (!s_.stable_version.empty() && s_.strategy != StrategyKind::Rolling) {
    const Duration delay =
        s_.strategy == StrategyKind::BlueGreen ? sp.bg_scale_down_delay : sp.scale_down_delay;
    s_.stable_retire_at = now_ + delay;
    for (const auto& sv : s_.services) {
      out_.push_back(RetireVersion{sv.name, s_.stable_version, *s_.stable_retire_at});
    }
  } else if (!s_.stable_version.empty()) {
    s_.stable_retire_at = now_;
  }
  transition(Phase::Succeeded, kSystem, "deployment.succeeded",
             s_.version + " serves all traffic in " + s_.environment);
  notify(NotifyEvent::Succeeded, s_.version + " deployed to " + s_.environment);
  if (sp.watch_duration > Duration{0} && !s_.stable_version.empty()) {
    s_.watching = true;
    s_.watch_until = now_ + sp.watch_duration;
    note(kSystem, "watch.started",
         "post-deploy watch until " + formatTimestamp(*s_.watch_until));
    if (sp.watch_analysis) startRun(RunKind::Watch, -1, *sp.watch_analysis);
  }
}

// ---------------------------------------------------------------------------------------------
// Abort

bool Machine::stableServing(const ServiceProgress& sv) const {
  if (s_.stable_retire_at && now_ >= *s_.stable_retire_at) return sv.stable_ready > 0;
  return sv.stable_target > 0 && sv.stable_ready > 0;
}

void Machine::restoreStable(ServiceProgress& sv) {
  if (s_.strategy == StrategyKind::BlueGreen) {
    out_.push_back(SwitchColour{sv.name, s_.active_colour, s_.stable_version});
    sv.traffic_weight = 0;
  } else {
    setTraffic(sv, 0);
  }
  sv.on_stable = true;
}

void Machine::endBeforeDeploy(Phase to, std::string_view actor, std::string_view kind,
                              std::string reason) {
  for (auto& c : s_.checks) {
    if (c.status == CheckStatus::Running) c.status = CheckStatus::Stopped;
  }
  s_.approval_deadline.reset();
  s_.window_opens_at.reset();
  s_.abort_reason = reason;
  transition(to, actor, kind, reason);
  notify(to == Phase::Superseded ? NotifyEvent::Superseded
                                 : (to == Phase::Rejected ? NotifyEvent::Rejected
                                                          : NotifyEvent::Failed),
         std::move(reason));
}

void Machine::abort(std::string_view actor, std::string_view kind, std::string reason,
                    Phase target) {
  stopAllRuns();
  s_.pause_until.reset();
  s_.paused_remaining.reset();
  s_.progress_deadline_at.reset();
  s_.approval_deadline.reset();
  s_.auto_promote_at.reset();
  s_.verification_until.reset();
  s_.watch_until.reset();
  s_.watching = false;
  s_.awaiting_readiness = false;
  s_.abort_reason = reason;
  s_.abort_target = target;
  s_.routes.clear();  // header routes to the new version end with the abort
  transition(Phase::Aborting, actor, kind, std::move(reason));
  if (s_.stable_version.empty()) {
    // A first release has nothing to go back to: rolling it back leaves the environment as it
    // was before, serving nothing. Its traffic is withdrawn (an empty split) so that the
    // version can be retired. (Superseded, it keeps serving until the release replacing it
    // takes the traffic over.)
    const bool withdraw = target != Phase::Superseded;
    for (auto& sv : s_.services) {
      sv.on_stable = true;
      if (withdraw && sv.traffic_weight > 0) {
        out_.push_back(SetTraffic{sv.name, {}, {}});
        sv.traffic_weight = 0;
      }
    }
    abortProgress();
    return;
  }
  if (s_.strategy == StrategyKind::BlueGreen && s_.switched) {
    s_.active_colour = other(s_.active_colour);
    s_.switched = false;
  }
  const std::optional<Colour> colour = s_.strategy == StrategyKind::BlueGreen
                                           ? std::optional<Colour>(s_.active_colour)
                                           : std::nullopt;
  const bool stable_retired = s_.stable_retire_at && now_ >= *s_.stable_retire_at;
  for (auto& sv : s_.services) {
    sv.on_stable = false;
    if (stable_retired) {
      sv.stable_ready = 0;
    }
    if (stableServing(sv)) restoreStable(sv);
    if (sv.stable_target < sv.desired || s_.stable_retire_at) {
      // Scale the stable version back up; this also cancels a pending retirement.
      sv.stable_target = sv.desired;
      startVersion(sv, s_.stable_version, sv.desired, colour);
    }
  }
  s_.stable_retire_at.reset();
  abortProgress();
}

void Machine::abortProgress() {
  bool all = true;
  for (auto& sv : s_.services) {
    if (!sv.on_stable) {
      if (stableServing(sv)) {
        restoreStable(sv);
      } else {
        all = false;
      }
    }
  }
  if (!all) return;
  const DeploymentSpec& sp = spec();
  // A superseded version is retired at once: nothing failed that needs inspecting, and the
  // release that replaces it needs the room (a rolling update counts it against its surge).
  const TimePoint at =
      s_.abort_target == Phase::Superseded ? now_ : now_ + sp.abort_scale_down_delay;
  for (auto& sv : s_.services) {
    out_.push_back(RetireVersion{sv.name, s_.version, at});
    sv.new_target = 0;
  }
  const Phase target = s_.abort_target;
  transition(target, kSystem, target == Phase::Superseded ? "deployment.superseded"
                                                          : "deployment.rolled_back",
             s_.abort_reason);
  notify(target == Phase::Superseded ? NotifyEvent::Superseded : NotifyEvent::RolledBack,
         s_.abort_reason);
  if (target == Phase::RolledBack && sp.incident_on_rollback && !s_.incident_opened) {
    s_.incident_opened = true;
    out_.push_back(OpenIncident{2, s_.environment + ": " + s_.version + " rolled back",
                                s_.abort_reason});
    note(kSystem, "incident.requested", "incident opened for the rollback");
  }
}

void Machine::pauseForPerson(const AnalysisRun& run) {
  std::string msg = std::string(toString(run.kind)) + " analysis run " + std::to_string(run.id) +
                    " is inconclusive: a person must promote or abort";
  if (s_.phase == Phase::Succeeded) {
    note(kSystem, "analysis.inconclusive", msg);
    notify(NotifyEvent::Paused, std::move(msg));
    return;
  }
  if (s_.phase != Phase::Paused) s_.paused_from = s_.phase;
  transition(Phase::Paused, kSystem, "analysis.inconclusive", msg);
  s_.pause_reason = PauseReason::Inconclusive;
  notify(NotifyEvent::Paused, std::move(msg));
}

void Machine::acceptInconclusive(std::string_view actor) {
  for (auto& r : s_.runs) {
    if (r.status == RunStatus::Inconclusive) r.accepted = true;
  }
  transition(s_.paused_from, actor, "analysis.accepted",
             std::string(actor) + " accepted the inconclusive analysis");
  progress();
}

void Machine::deadlineExceeded() {
  std::string detail;
  for (const auto& sv : s_.services) {
    if (sv.new_ready < std::max(sv.new_target, 1) || sv.new_failed > 0) {
      detail += (detail.empty() ? "" : ", ") + sv.name + " " + str(sv.new_ready) + "/" +
                str(std::max(sv.new_target, sv.desired)) + " ready";
    }
  }
  std::string msg = "progress deadline of " +
                    std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                       spec().progress_deadline)
                                       .count()) +
                    "s exceeded" + (detail.empty() ? std::string() : ": " + detail);
  if (spec().progress_deadline_action == ProgressDeadlineAction::Abort) {
    abort(kSystem, "progress.deadline", std::move(msg));
    return;
  }
  s_.progress_deadline_at.reset();
  if (s_.phase != Phase::Degraded) s_.paused_from = s_.phase;
  transition(Phase::Degraded, kSystem, "progress.deadline", msg);
  notify(NotifyEvent::Degraded, std::move(msg));
}

// ---------------------------------------------------------------------------------------------
// Inputs

void Machine::on(const Timer&) {
  switch (s_.phase) {
    case Phase::AwaitingApproval:
      if (s_.approval_deadline && now_ >= *s_.approval_deadline) {
        const std::string msg = "approvals timed out";
        if (s_.approval_gate == kStartGate) {
          endBeforeDeploy(Phase::Failed, kSystem, "approval.timed_out", msg);
        } else {
          abort(kSystem, "approval.timed_out", "step " + str(s_.approval_gate) + ": " + msg);
        }
        return;
      }
      break;
    case Phase::WaitingForWindow:
      if (s_.window_opens_at && now_ >= *s_.window_opens_at) checkWindow();
      return;
    case Phase::Progressing:
    case Phase::Promoting:
    case Phase::Paused:
      if (s_.awaiting_readiness && s_.progress_deadline_at && now_ >= *s_.progress_deadline_at) {
        deadlineExceeded();
        return;
      }
      break;
    case Phase::Succeeded:
      if (s_.watching && s_.watch_until && now_ >= *s_.watch_until) {
        for (auto& r : s_.runs) {
          if (r.kind == RunKind::Watch && r.status == RunStatus::Running) {
            stopRun(r, RunStatus::Successful);
          }
        }
        s_.watching = false;
        s_.watch_until.reset();
        note(kSystem, "watch.completed", "post-deploy watch of " + s_.version + " completed");
        notify(NotifyEvent::WatchCompleted, "post-deploy watch completed");
      }
      return;
    default: return;
  }
  progress();
}

void Machine::on(const AnalysisResult& in) {
  AnalysisRun* run = nullptr;
  for (auto& r : s_.runs) {
    if (r.id == in.run) run = &r;
  }
  if (run == nullptr || run->status != RunStatus::Running) return;  // stale: ignored
  MetricTally* t = nullptr;
  for (auto& m : run->metrics) {
    if (m.metric == in.metric && m.service == in.service) t = &m;
  }
  if (t == nullptr) {
    MetricTally fresh;
    fresh.metric = in.metric;
    fresh.service = in.service;
    run->metrics.push_back(std::move(fresh));
    t = &run->metrics.back();
  }
  t->measurements++;
  switch (in.outcome) {
    case Outcome::Successful: t->successful++; break;
    case Outcome::Failed: t->failed++; break;
    case Outcome::Inconclusive: t->inconclusive++; break;
    case Outcome::Error:
    case Outcome::NoData: t->errors++; break;
  }
  // The analysis module decided this metric for this service (limits, `for`, no-data policy);
  // the engine only combines. A Stopped verdict means nothing here and cannot pass.
  t->status = in.verdict == RunStatus::Stopped ? RunStatus::Error : in.verdict;
  t->dry_run = in.dry_run;
  t->open_ended = in.open_ended;
  const std::string subject =
      in.service.empty() ? in.metric : in.metric + " of " + in.service;
  std::string what = "run " + std::to_string(run->id) + " " + subject + ": " +
                     std::string(toString(in.outcome));
  if (t->status != RunStatus::Running) what += " (" + std::string(toString(t->status)) + ")";
  // Worst wins across every metric of every service: Failed > Error > Inconclusive.
  const auto rank = [](RunStatus st) {
    switch (st) {
      case RunStatus::Inconclusive: return 1;
      case RunStatus::Error: return 2;
      case RunStatus::Failed: return 3;
      default: return 0;
    }
  };
  RunStatus verdict = RunStatus::Running;
  std::string why;
  for (const auto& m : run->metrics) {
    if (m.dry_run || rank(m.status) <= rank(verdict)) continue;
    verdict = m.status;
    // Only the metric this result is about can have just turned bad (a bad verdict stops the
    // run), so its reason is the one to give.
    why = &m == t ? (in.service.empty() ? in.reason : subject + ": " + in.reason)
                  : m.metric + (m.service.empty() ? "" : " of " + m.service) + " is " +
                        std::string(toString(m.status));
  }
  if (verdict == RunStatus::Running && in.run_complete) {
    // Complete: a pass only when every non-dry-run metric of every service passed. Anything
    // still without a verdict was not judged, and what was not judged is not a pass.
    verdict = RunStatus::Successful;
    for (const auto& m : run->metrics) {
      if (m.dry_run || m.status == RunStatus::Successful) continue;
      verdict = RunStatus::Error;
      why = m.metric + (m.service.empty() ? "" : " of " + m.service) +
            " has no verdict although the run is complete";
      break;
    }
    if (run->metrics.empty()) {
      verdict = RunStatus::Error;
      why = "no metric was measured";
    }
  }
  note(kSystem, "analysis.measured", std::move(what));
  if (verdict == RunStatus::Running) return;
  const RunKind kind = run->kind;
  stopRun(*run, verdict);
  const std::string run_name =
      std::string(toString(kind)) + " analysis run " + std::to_string(run->id);
  switch (verdict) {
    case RunStatus::Failed:
    case RunStatus::Error: {
      std::string reason = run_name + (verdict == RunStatus::Failed ? " failed: " : " errored: ") + why;
      if (s_.phase == Phase::Succeeded) {
        abort(kSystem, "watch.failed", "post-deploy watch: " + reason);
      } else if (!isTerminal(s_.phase) && s_.phase != Phase::Aborting) {
        abort(kSystem, verdict == RunStatus::Failed ? "analysis.failed" : "analysis.error",
              std::move(reason));
      }
      return;
    }
    case RunStatus::Inconclusive: pauseForPerson(*run); return;
    case RunStatus::Successful:
      note(kSystem, "analysis.successful", run_name + " successful");
      progress();
      return;
    default: return;
  }
}

void Machine::on(const CheckResult& in) {
  CheckRun* run = nullptr;
  for (auto& c : s_.checks) {
    if (c.id == in.run) run = &c;
  }
  if (run == nullptr || run->status != CheckStatus::Running) return;
  run->status = in.passed ? CheckStatus::Passed : CheckStatus::Failed;
  std::string msg = std::string(toString(run->kind)) + " checks run " + std::to_string(run->id) +
                    (in.passed ? " passed" : " failed") +
                    (in.detail.empty() ? std::string() : ": " + in.detail);
  if (in.passed) {
    note(kSystem, "checks.passed", std::move(msg));
    if (run->kind == CheckKind::PreFlight && s_.phase == Phase::PreFlight) {
      beginRollout();
    } else {
      progress();
    }
    return;
  }
  if (run->kind == CheckKind::PreFlight) {
    if (s_.phase == Phase::PreFlight) endBeforeDeploy(Phase::Failed, kSystem, "checks.failed", msg);
    return;
  }
  if (!isTerminal(s_.phase) && s_.phase != Phase::Aborting) {
    abort(kSystem, "checks.failed", std::move(msg));
  }
}

void Machine::on(const RuntimeReport& in) {
  if (!reportChanges(s_, in)) return;
  ServiceProgress* sv = nullptr;
  for (auto& x : s_.services) {
    if (x.name == in.service) sv = &x;
  }
  if (sv == nullptr || in.version.empty()) return;
  const int ready = std::max(0, in.ready);
  const int failed = std::max(0, in.failed);
  const bool others_changed = in.others >= 0 && in.others != sv->others;
  if (others_changed) sv->others = in.others;
  if (in.version == s_.version) {
    const int applied = in.traffic_weight >= 0 ? in.traffic_weight : sv->applied_weight;
    if (sv->new_ready == ready && sv->new_failed == failed && sv->applied_weight == applied &&
        !others_changed) {
      return;
    }
    const bool more = ready > sv->new_ready;
    sv->new_ready = ready;
    sv->new_failed = failed;
    sv->applied_weight = applied;
    if (more && s_.awaiting_readiness && s_.progress_deadline_at) {
      s_.progress_deadline_at = now_ + spec().progress_deadline;  // progress re-arms it
    }
  } else if (in.version == s_.stable_version) {
    const int applied = in.traffic_weight >= 0 ? 100 - in.traffic_weight : sv->applied_weight;
    if (sv->stable_ready == ready && sv->applied_weight == applied && !others_changed) return;
    sv->stable_ready = ready;
    sv->applied_weight = applied;
  } else if (!others_changed) {
    return;
  }
  note(kSystem, "runtime.report",
       in.service + " " + in.version + ": " + str(ready) + " ready, " + str(failed) + " failed" +
           (in.traffic_weight >= 0 ? ", weight " + str(in.traffic_weight) : std::string()) +
           (others_changed ? ", " + str(in.others) + " instance(s) of other versions"
                           : std::string()));
  const bool rolling_out = s_.phase == Phase::Progressing || s_.phase == Phase::Paused ||
                           s_.phase == Phase::Promoting || s_.phase == Phase::Degraded ||
                           (s_.phase == Phase::AwaitingApproval && s_.approval_gate != kStartGate);
  if (in.version == s_.version && failed > 0 && rolling_out) {
    abort(kSystem, "instances.failed",
          in.service + ": " + str(failed) + " instance(s) of " + s_.version + " failed" +
              (in.failure_detail.empty() ? std::string() : ": " + in.failure_detail));
    return;
  }
  progress();
}

void Machine::on(const ApprovalDecision& in) {
  if (s_.phase != Phase::AwaitingApproval) {
    refuse(ErrorCode::FailedPrecondition, in.actor, "approval.refused",
           "deployment " + s_.id + " is not waiting for approval (phase " +
               std::string(toString(s_.phase)) + ")");
    return;
  }
  const int gate = s_.approval_gate;
  const auto& roles = rolesFor(gate);
  if (std::find(roles.begin(), roles.end(), in.role) == roles.end()) {
    std::string need;
    for (const auto& r : roles) need += (need.empty() ? "" : ", ") + r;
    refuse(ErrorCode::PermissionDenied, in.actor, "approval.refused",
           "role " + in.role + " is not asked to approve; required: " + need);
    return;
  }
  if (!in.approve) {
    std::string msg = "rejected by " + in.actor + " (" + in.role + ")" +
                      (in.comment.empty() ? std::string() : ": " + in.comment);
    if (gate == kStartGate) {
      endBeforeDeploy(Phase::Rejected, in.actor, "approval.rejected", std::move(msg));
    } else {
      abort(in.actor, "approval.rejected", "step " + str(gate) + " " + msg);
    }
    return;
  }
  if (spec().prevent_self_approval && in.actor == s_.started_by) {
    refuse(ErrorCode::PermissionDenied, in.actor, "approval.refused",
           "self-approval refused: " + in.actor + " started this deployment");
    return;
  }
  if (const ApprovalRecord* a = approvalOf(gate, in.role)) {
    if (a->actor == in.actor) return;  // the same approval again: nothing changes
    refuse(ErrorCode::Conflict, in.actor, "approval.refused",
           "role " + in.role + " was already approved by " + a->actor);
    return;
  }
  for (const auto& a : s_.approvals) {
    if (a.gate == gate && a.actor == in.actor) {
      refuse(ErrorCode::PermissionDenied, in.actor, "approval.refused",
             "approvals must come from distinct people: " + in.actor +
                 " already approved as " + a.role);
      return;
    }
  }
  s_.approvals.push_back(ApprovalRecord{gate, in.role, in.actor, now_});
  note(in.actor, "approval.granted",
       in.actor + " approved as " + in.role +
           (in.comment.empty() ? std::string() : ": " + in.comment));
  if (!gateApproved(gate)) return;
  s_.approval_deadline.reset();
  if (gate == kStartGate) {
    checkWindow();
  } else {
    progress();
  }
}

void Machine::on(const OperatorCommand& in) {
  using K = OperatorCommand::Kind;
  const std::string cmd(toString(in.kind));
  const auto notNow = [&](const std::string& why) {
    refuse(ErrorCode::FailedPrecondition, in.actor, "command.refused", cmd + " refused: " + why);
  };
  const std::string phase_name(toString(s_.phase));
  switch (in.kind) {
    case K::Promote: {
      if (s_.phase == Phase::Paused) {
        switch (s_.pause_reason) {
          case PauseReason::PauseStep:
            s_.pause_skipped = true;
            note(in.actor, "step.promoted", "step " + str(s_.step_index) + " promoted by " + in.actor);
            progress();
            return;
          case PauseReason::Inconclusive: acceptInconclusive(in.actor); return;
          case PauseReason::AwaitingPromotion:
            if (!allNewReady()) {
              notNow(s_.version + " is not ready on every service");
              return;
            }
            note(in.actor, "promotion.manual", "switch promoted by " + in.actor);
            switchColour();
            return;
          default: notNow("the deployment was paused by an operator; use resume"); return;
        }
      }
      if (s_.phase == Phase::Progressing) {
        if (s_.strategy == StrategyKind::Canary && s_.step_entered &&
            static_cast<std::size_t>(s_.step_index) < spec().steps.size() &&
            spec().steps[static_cast<std::size_t>(s_.step_index)].kind == StepKind::Pause) {
          s_.pause_skipped = true;
          note(in.actor, "step.promoted", "pause at step " + str(s_.step_index) + " skipped by " + in.actor);
          progress();
          return;
        }
        if (s_.strategy == StrategyKind::BlueGreen && !s_.switched && s_.auto_promote_at &&
            allNewReady()) {
          note(in.actor, "promotion.manual", "switch promoted by " + in.actor);
          switchColour();
          return;
        }
        notNow("the current step is not a pause; gates must pass or use promote --full");
        return;
      }
      notNow("nothing to promote in phase " + phase_name);
      return;
    }
    case K::PromoteFull: {
      if (!spec().promote_full_allowed) {
        refuse(ErrorCode::PermissionDenied, in.actor, "promote_full.refused",
               "promote --full is forbidden in " + s_.environment);
        return;
      }
      const bool allowed_phase =
          s_.phase == Phase::Progressing || s_.phase == Phase::Paused ||
          s_.phase == Phase::Degraded ||
          (s_.phase == Phase::Promoting && s_.strategy == StrategyKind::BlueGreen);
      if (!allowed_phase) {
        notNow("phase " + phase_name + " cannot be promoted");
        return;
      }
      if (s_.strategy == StrategyKind::Canary) {
        for (std::size_t i = static_cast<std::size_t>(s_.step_index); i < spec().steps.size(); ++i) {
          if (spec().steps[i].kind == StepKind::Approval && !gateApproved(static_cast<int>(i))) {
            notNow("step " + std::to_string(i) + " needs approval, which promote --full cannot skip");
            return;
          }
        }
      }
      s_.promoted_full = true;
      for (auto& r : s_.runs) {
        if (r.status == RunStatus::Inconclusive) r.accepted = true;  // a person decided
      }
      stopAllRuns();
      s_.pause_until.reset();
      s_.paused_remaining.reset();
      s_.auto_promote_at.reset();
      s_.verification_until.reset();
      if (s_.phase == Phase::Paused || s_.phase == Phase::Degraded) {
        transition(Phase::Progressing, in.actor, "promote_full",
                   "promote --full by " + in.actor + ": remaining steps and analysis skipped");
      } else {
        note(in.actor, "promote_full",
             "promote --full by " + in.actor + ": remaining steps and analysis skipped");
      }
      progress();
      return;
    }
    case K::Abort: {
      const std::string reason = "aborted by " + in.actor + (in.reason.empty() ? "" : ": " + in.reason);
      switch (s_.phase) {
        case Phase::Pending:
        case Phase::WaitingForWindow:
        case Phase::PreFlight:
          endBeforeDeploy(Phase::Failed, in.actor, "deployment.aborted", reason + " (nothing was deployed)");
          return;
        case Phase::AwaitingApproval:
          if (s_.approval_gate == kStartGate) {
            endBeforeDeploy(Phase::Failed, in.actor, "deployment.aborted", reason + " (nothing was deployed)");
          } else {
            abort(in.actor, "deployment.aborted", reason);
          }
          return;
        case Phase::Progressing:
        case Phase::Paused:
        case Phase::Promoting:
        case Phase::Degraded: abort(in.actor, "deployment.aborted", reason); return;
        case Phase::Succeeded:
          if (s_.watching) {
            abort(in.actor, "deployment.aborted", reason + " (during the post-deploy watch)");
            return;
          }
          notNow("the deployment succeeded; use rollback");
          return;
        default: notNow("the deployment has already ended (" + phase_name + ")"); return;
      }
    }
    case K::Retry: {
      if (s_.phase != Phase::RolledBack) {
        notNow("retry applies to a rolled-back deployment; this one is " + phase_name);
        return;
      }
      s_.attempt++;
      s_.step_index = 0;
      s_.step_entered = false;
      s_.pause_skipped = false;
      s_.canary_weight = 0;
      s_.routes.clear();
      s_.switched = false;
      s_.pre_gates_started = false;
      s_.background_started = false;
      s_.promoted_full = false;
      s_.awaiting_readiness = false;
      s_.runs.clear();
      s_.checks.clear();
      s_.abort_reason.clear();
      s_.abort_target = Phase::RolledBack;
      s_.incident_opened = false;
      for (auto& sv : s_.services) {
        sv.new_target = 0;
        sv.new_ready = 0;
        sv.new_failed = 0;
        sv.applied_weight = -1;
        sv.traffic_weight = 0;
        sv.on_stable = false;
      }
      note(in.actor, "deployment.retried",
           "retry by " + in.actor + ": attempt " + str(s_.attempt) + " from the first step");
      // A new attempt passes the gates a start passes: the start approvals (those already given
      // for this deployment stay valid), the change window, pre-flight.
      if ((!s_.rollback || spec().rollback_gates) && !spec().approval_roles.empty() &&
          !gateApproved(kStartGate)) {
        enterApprovalGate(kStartGate);
        return;
      }
      checkWindow();
      return;
    }
    case K::Pause: {
      if (s_.phase != Phase::Progressing) {
        notNow("only a progressing deployment can be paused (phase " + phase_name + ")");
        return;
      }
      if (s_.pause_until) {
        s_.paused_remaining = std::max(Duration{0}, *s_.pause_until - now_);
        s_.pause_until.reset();
      } else if (s_.auto_promote_at) {
        s_.paused_remaining = std::max(Duration{0}, *s_.auto_promote_at - now_);
        s_.auto_promote_at.reset();
      }
      s_.paused_from = Phase::Progressing;
      transition(Phase::Paused, in.actor, "deployment.paused",
                 "paused by " + in.actor + (in.reason.empty() ? "" : ": " + in.reason));
      s_.pause_reason = PauseReason::Operator;
      notify(NotifyEvent::Paused, "paused by " + in.actor);
      return;
    }
    case K::Resume: {
      if (s_.phase == Phase::Paused && s_.pause_reason == PauseReason::Inconclusive) {
        acceptInconclusive(in.actor);
        return;
      }
      if (s_.phase != Phase::Paused || s_.pause_reason != PauseReason::Operator) {
        notNow(s_.phase == Phase::Paused ? "this pause needs promote, not resume"
                                         : "the deployment is not paused (phase " + phase_name + ")");
        return;
      }
      if (s_.paused_remaining) {
        if (s_.strategy == StrategyKind::BlueGreen && s_.pre_gates_started && !s_.switched) {
          s_.auto_promote_at = now_ + *s_.paused_remaining;
        } else {
          s_.pause_until = now_ + *s_.paused_remaining;
        }
        s_.paused_remaining.reset();
      }
      transition(s_.paused_from, in.actor, "deployment.resumed", "resumed by " + in.actor);
      progress();
      return;
    }
  }
}

void Machine::on(const NewerRelease& in) {
  const Admission decision =
      s_.spec ? admitRelease(&s_, in.rollback, spec().concurrency) : Admission::StartNow;
  admission = decision;
  const std::string what = (in.rollback ? "rollback to " : "release ") + in.version;
  switch (decision) {
    case Admission::StartNow:
      if (s_.phase == Phase::Succeeded && s_.watching) {
        stopAllRuns();
        s_.watching = false;
        s_.watch_until.reset();
        note(in.actor, "watch.ended", "post-deploy watch ended: " + what + " takes over");
      }
      return;
    case Admission::Reject:
      refuse(ErrorCode::Conflict, in.actor, "release.refused",
             s_.environment + " is busy with " + s_.version + " (" +
                 std::string(toString(s_.phase)) + "); its policy rejects " + what);
      return;
    case Admission::Queue:
      note(in.actor, "release.queued", what + " queued behind " + s_.version);
      notify(NotifyEvent::ReleaseQueued, what + " queued behind " + s_.version);
      return;
    case Admission::Supersede: {
      std::string reason = "superseded by " + what + " (" + in.actor + ")";
      if (s_.phase == Phase::Pending || s_.phase == Phase::WaitingForWindow ||
          s_.phase == Phase::PreFlight ||
          (s_.phase == Phase::AwaitingApproval && s_.approval_gate == kStartGate)) {
        endBeforeDeploy(Phase::Superseded, in.actor, "deployment.superseded", std::move(reason));
      } else if (s_.phase == Phase::Aborting) {
        s_.abort_target = Phase::Superseded;
        note(in.actor, "deployment.superseded", std::move(reason));
      } else {
        abort(in.actor, "deployment.superseded", std::move(reason), Phase::Superseded);
      }
      return;
    }
  }
}

void Machine::scheduleWake() {
  std::optional<TimePoint> next;
  const auto consider = [&](const std::optional<TimePoint>& t) {
    if (t && (!next || *t < *next)) next = t;
  };
  switch (s_.phase) {
    case Phase::AwaitingApproval: consider(s_.approval_deadline); break;
    case Phase::WaitingForWindow: consider(s_.window_opens_at); break;
    case Phase::Progressing:
      if (!s_.pause_skipped) consider(s_.pause_until);
      consider(s_.auto_promote_at);
      if (s_.awaiting_readiness) consider(s_.progress_deadline_at);
      break;
    case Phase::Promoting:
      consider(s_.verification_until);
      if (s_.awaiting_readiness) consider(s_.progress_deadline_at);
      break;
    case Phase::Succeeded:
      if (s_.watching) consider(s_.watch_until);
      break;
    default: break;
  }
  if (next == s_.wake_at) return;
  s_.wake_at = next;
  if (next) out_.push_back(WakeAt{*next});
}

}  // namespace

bool isTerminal(Phase phase) {
  switch (phase) {
    case Phase::Succeeded:
    case Phase::RolledBack:
    case Phase::Failed:
    case Phase::Rejected:
    case Phase::Superseded: return true;
    default: return false;
  }
}

bool reportChanges(const DeploymentState& state, const RuntimeReport& in) {
  const ServiceProgress* sv = nullptr;
  for (const auto& x : state.services) {
    if (x.name == in.service) sv = &x;
  }
  if (sv == nullptr || in.version.empty()) return false;
  const int ready = std::max(0, in.ready);
  const int failed = std::max(0, in.failed);
  const bool others_changed = in.others >= 0 && in.others != sv->others;
  if (in.version == state.version) {
    const int applied = in.traffic_weight >= 0 ? in.traffic_weight : sv->applied_weight;
    return sv->new_ready != ready || sv->new_failed != failed || sv->applied_weight != applied || others_changed;
  }
  if (in.version == state.stable_version) {
    const int applied = in.traffic_weight >= 0 ? 100 - in.traffic_weight : sv->applied_weight;
    return sv->stable_ready != ready || sv->applied_weight != applied || others_changed;
  }
  return others_changed;
}

Admission admitRelease(const DeploymentState* active, bool rollback, ConcurrencyPolicy policy) {
  if (active == nullptr || isTerminal(active->phase)) return Admission::StartNow;
  if (rollback) return Admission::Supersede;
  switch (policy) {
    case ConcurrencyPolicy::Reject: return Admission::Reject;
    case ConcurrencyPolicy::Queue: return Admission::Queue;
    case ConcurrencyPolicy::Supersede: return Admission::Supersede;
  }
  return Admission::Reject;
}

void enqueue(std::vector<QueuedRelease>& queue, QueuedRelease release) {
  if (release.rollback) {
    auto it = std::find_if(queue.begin(), queue.end(),
                           [](const QueuedRelease& q) { return !q.rollback; });
    queue.insert(it, std::move(release));
    return;
  }
  queue.push_back(std::move(release));
}

std::optional<QueuedRelease> dequeue(std::vector<QueuedRelease>& queue) {
  if (queue.empty()) return std::nullopt;
  QueuedRelease front = std::move(queue.front());
  queue.erase(queue.begin());
  return front;
}

std::optional<Error> apply(DeploymentState& state, const Input& input, TimePoint now,
                           std::vector<Action>& actions, std::optional<Admission>* admission) {
  const bool started = state.phase != Phase::Pending || std::holds_alternative<Start>(input);
  Machine m(state, actions, now);
  if (!started) {
    return Error{ErrorCode::FailedPrecondition, "deployment has not been started"};
  }
  std::visit([&](const auto& in) { m.on(in); }, input);
  if (state.spec) m.scheduleWake();
  if (admission != nullptr) *admission = m.admission;
  return std::move(m.refused);
}

Step step(const DeploymentState& state, const Input& input, TimePoint now) {
  Step out;
  out.state = state;
  out.refused = apply(out.state, input, now, out.actions, &out.admission);
  return out;
}

}  // namespace runway::engine
