#include "runway/rehearse/rehearsal.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runway/analysis/provider.hpp"
#include "runway/controller/controller.hpp"
#include "runway/controller/stepper.hpp"
#include "runway/core/duration.hpp"
#include "runway/rehearse/clock.hpp"
#include "runway/rehearse/simulated_gates.hpp"
#include "runway/store/store.hpp"

namespace runway::rehearse {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using engine::Phase;

// Who asks for the release in the rehearsal (approvers are the roles themselves, so
// preventSelfApproval never refuses them).
constexpr std::string_view kRequester = "rehearsal";
// A plan that has not ended after this much simulated time never will.
constexpr Duration kHorizon = std::chrono::hours(24 * 400);

// The throwaway store's directory, removed with everything in it.
class WorkDir {
 public:
  static Result<WorkDir> make(const std::string& parent) {
    std::string base = parent;
    if (base.empty()) {
      base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : fs::temp_directory_path().string();
    }
    std::string pattern = base + "/runway-rehearsal-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return fail(ErrorCode::Unavailable,
                  "cannot make a directory in " + base + " for the rehearsal's store");
    }
    return WorkDir(pattern);
  }
  WorkDir(WorkDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  WorkDir& operator=(WorkDir&&) = delete;
  ~WorkDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit WorkDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Prometheus and web metrics are not simulated: a rehearsal never queries a real system.
class NotSimulated final : public analysis::MetricProvider {
 public:
  Result<analysis::MetricValue> measure(const config::MetricSpec& metric,
                                        const analysis::MeasureContext& context) override {
    (void)context;
    return fail(
        ErrorCode::Unavailable,
        fmt::format(
            "metric {} uses provider {}, which a rehearsal does not simulate (only builtin and "
            "judge metrics are)",
            metric.name, config::toString(metric.provider)));
  }
};

// Environments in promotion order: each after the one it promotes from, else in file order.
std::vector<const config::Environment*> promotionOrder(const config::Config& cfg) {
  std::vector<const config::Environment*> order;
  std::set<std::string> placed;
  while (order.size() < cfg.environments.size()) {
    bool progressed = false;
    for (const auto& env : cfg.environments) {
      if (placed.count(env.name) != 0) continue;
      if (!env.promotes_from.empty() && placed.count(env.promotes_from) == 0 &&
          cfg.findEnvironment(env.promotes_from) != nullptr) {
        continue;
      }
      order.push_back(&env);
      placed.insert(env.name);
      progressed = true;
    }
    if (!progressed) break;  // a cycle: the loader refuses those
  }
  return order;
}

// The analysis references an environment makes, with the place of each.
std::vector<const config::AnalysisRef*> analysisRefs(const config::Environment& env) {
  std::vector<const config::AnalysisRef*> refs;
  const auto add = [&](const config::AnalysisRef& r) {
    if (!r.templates.empty()) refs.push_back(&r);
  };
  if (env.blue_green.pre_promotion_analysis) add(*env.blue_green.pre_promotion_analysis);
  if (env.blue_green.post_promotion_analysis) add(*env.blue_green.post_promotion_analysis);
  if (env.canary.analysis) add(env.canary.analysis->analysis);
  for (const auto& step : env.canary.steps) add(step.analysis);
  add(env.post_deploy.analysis);
  return refs;
}

// Where the first metric `matches` among the templates `env` uses is written; the environment
// when none does.
config::SourceLocation metricWhere(const config::Config& cfg, const config::Environment& env,
                                   const std::function<bool(const config::MetricSpec&)>& matches) {
  for (const auto* ref : analysisRefs(env)) {
    for (const auto& t : ref->templates) {
      const auto* tmpl = cfg.findTemplate(t);
      if (tmpl == nullptr) continue;
      for (const auto& m : tmpl->metrics) {
        if (matches(m)) return m.location;
      }
    }
  }
  return env.location;
}

// "analysis run 3 ..." -> 3.
std::optional<std::uint32_t> runNumber(std::string_view text) {
  const auto at = text.find("analysis run ");
  if (at == std::string_view::npos) return std::nullopt;
  std::uint32_t n = 0;
  bool any = false;
  for (std::size_t i = at + 13; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    n = n * 10 + static_cast<std::uint32_t>(text[i] - '0');
    any = true;
  }
  return any ? std::optional<std::uint32_t>(n) : std::nullopt;
}

std::string formatValue(double v) { return fmt::format("{:.4g}", v); }

class Rehearsal {
 public:
  Rehearsal(const RehearsalOptions& o, RehearsalReport& report) : o_(o), report_(report) {}

  Result<void> run() {
    const auto& cfg = *o_.config;
    for (const auto* env : promotionOrder(cfg)) order_.push_back(env);
    if (order_.empty())
      return fail(ErrorCode::InvalidArgument, "the configuration has no environment to rehearse");
    for (const auto* env : order_) report_.path.push_back(env->name);
    if (const auto* app = cfg.applicationFor(*order_.front())) report_.application = app->name;

    auto dir = WorkDir::make(o_.work_dir);
    if (!dir) return fail(dir.error());
    auto opened = store::openSqliteStore(dir->path() + "/rehearsal.db");
    if (!opened) return fail(opened.error());
    store_ = std::move(*opened);

    // The baseline starts one readiness delay before T+0, so that it serves at T+0.
    const TimePoint before = o_.start - o_.model.ready_after - Duration{1000};
    if (o_.speed > 0) {
      clock_ = std::make_shared<ScaledClock>(before, o_.speed);
    } else {
      clock_ = std::make_shared<JumpingClock>(before);
    }
    runtime::SimulatedRuntimeOptions ro;
    ro.clock = clock_;
    ro.model = o_.model;
    if (o_.fault) {
      auto fault = *o_.fault;
      if (fault.environments.empty()) fault.environments.push_back(order_.back()->name);
      bad_in_ = fault.environments;
      ro.faults.emplace(o_.version, std::move(fault));
      report_.fault += " in " + fmt::format("{}", fmt::join(bad_in_, ", "));
    }
    runtime_ = std::make_shared<runtime::SimulatedRuntime>(std::move(ro));
    if (auto r = seedBaseline(); !r) return r;
    clock_->advanceTo(o_.start);

    controller::ControllerOptions co;
    co.store = store_;
    co.runtime = runtime_;
    auto others = std::make_shared<analysis::ProviderSet>();
    others->set(config::MetricSpec::Provider::Prometheus, std::make_shared<NotSimulated>());
    others->set(config::MetricSpec::Provider::Web, std::make_shared<NotSimulated>());
    std::shared_ptr<const runtime::SimulatedRuntime> model = runtime_;
    co.provider = analysis::environmentScopedProvider(
        [model](const std::string& environment) {
          return runtime::simulatedTrafficStatistics(model, environment);
        },
        others);
    co.checks = std::make_shared<SimulatedChecks>(runtime_);
    co.hooks = std::make_shared<RehearsedHooks>();
    co.checklist = std::make_shared<RehearsedChecklist>();
    co.clock = clock_;
    co.config = o_.config;
    co.id_seed = o_.model.seed;
    auto stepper = controller::Stepper::start(std::move(co));
    if (!stepper) return fail(stepper.error());
    stepper_ = std::move(*stepper);

    for (std::size_t i = 0; i < order_.size(); ++i) {
      if (!promote(*order_[i], i + 1 == order_.size())) break;
    }
    report_.elapsed = clock_->now() - o_.start;
    const bool stopped = !report_.stops.empty();
    if (report_.bad) {
      // Caught where it is bad, or before: an environment at or before the first bad one.
      bool in_time = false;
      for (const auto* env : order_) {
        if (env->name == report_.rolled_back_in) in_time = true;
        if (std::find(bad_in_.begin(), bad_in_.end(), env->name) != bad_in_.end()) break;
      }
      report_.passed = !stopped && in_time;
    } else {
      report_.passed = !stopped && report_.reached == order_.back()->name;
    }
    return {};
  }

 private:
  // Every environment serves the baseline: its instances run with all the traffic, and the
  // store says it serves (as a promotion before the rehearsal would have left it).
  Result<void> seedBaseline() {
    const auto& cfg = *o_.config;
    for (const auto* env : order_) {
      const auto* app = cfg.applicationFor(*env);
      if (app == nullptr) continue;
      for (const auto& svc : app->services) {
        if (auto r = runtime_->startVersion(*env, svc, o_.baseline, svc.instances, {}); !r)
          return r;
        runtime::TrafficSplit split;
        split.weights[o_.baseline] = 1000;
        if (auto r = runtime_->setTraffic(env->name, svc.name, split); !r) return r;
      }
      controller::PersistedDeployment doc;
      doc.state.id = "dep-baseline-" + env->name;
      doc.state.environment = env->name;
      doc.state.application = app->name;
      doc.state.version = o_.baseline;
      doc.state.phase = Phase::Succeeded;
      doc.state.created_at = clock_->now();
      doc.state.updated_at = clock_->now();
      store::DeploymentRecord rec;
      rec.id = doc.state.id;
      rec.environment = env->name;
      rec.application = app->name;
      rec.version = o_.baseline;
      rec.phase = "Succeeded";
      rec.state_json = controller::toJson(doc);
      rec.created_at = clock_->now();
      rec.updated_at = clock_->now();
      auto created = store_->createDeployment(rec, {});
      if (!created) return fail(created.error());
      store::ServingRecord serving{env->name, o_.baseline, rec.id,
                                   env->strategy == config::StrategyKind::BlueGreen ? "blue" : "",
                                   clock_->now()};
      if (auto r = store_->updateDeployment(*created, {}, {}, serving); !r) return fail(r.error());
    }
    events_after_ = lastSeq();
    return {};
  }

  std::int64_t lastSeq() {
    std::int64_t seq = events_after_;
    while (true) {
      store::EventFilter f;
      f.after_seq = seq;
      f.limit = 1000;
      auto events = store_->listEvents(f);
      if (!events || events->empty()) return seq;
      seq = events->back().seq;
    }
  }

  Duration offset() const { return clock_->now() - o_.start; }

  void add(const std::string& environment, std::string kind, std::string text, TimePoint at) {
    report_.timeline.push_back(
        TimelineEntry{at - o_.start, environment, std::move(kind), std::move(text)});
  }

  void stop(std::string kind, const std::string& environment, std::string message,
            config::SourceLocation where) {
    report_.stops.push_back(
        Stop{std::move(kind), environment, offset(), std::move(message), std::move(where)});
  }

  // Drives `version` through `env`. Returns whether the next environment may follow.
  bool promote(const config::Environment& env, bool last) {
    current_environment_ = env.name;
    controller::DeployRequest request;
    request.environment = env.name;
    request.version = o_.version;
    request.actor.name = std::string(kRequester);
    request.reason = "rehearsal";
    add(env.name, "rehearsal.deploy",
        fmt::format("deploy {} to {} ({})", o_.version, env.name, config::toString(env.strategy)),
        clock_->now());
    auto admitted = stepper_->deploy(request);
    if (!admitted) {
      drainEvents();
      stop("refused", env.name, admitted.error().message, env.location);
      return false;
    }
    const std::string id = admitted->deployment_id;
    std::set<int> approved_gates;
    while (true) {
      if (!stepper_->settle()) {
        stop("stuck", env.name, "the controller did not settle (a loop that never ends)",
             env.location);
        return false;
      }
      drainEvents();
      auto rec = store_->getDeployment(id);
      if (!rec) {
        stop("failed", env.name, rec.error().message, env.location);
        return false;
      }
      const std::string& phase = rec->phase;
      if (phase == "Succeeded") {
        report_.reached = env.name;
        // The last environment's post-deploy watch keeps measurements due until it ends.
        if (!last || !stepper_->nextDue()) return true;
      }
      // The whole document only where a decision needs it (a 24-hour watch is 1,440 jumps).
      static const std::set<std::string, std::less<>> kDecisions = {
          "AwaitingApproval", "Paused", "RolledBack", "Failed", "Rejected", "Superseded"};
      if (kDecisions.count(phase) != 0) {
        auto doc = controller::parsePersisted(rec->state_json);
        if (!doc) {
          stop("failed", env.name, doc.error().message, env.location);
          return false;
        }
        const auto& s = doc->state;
        if (s.phase == Phase::AwaitingApproval) {
          if (approved_gates.insert(s.approval_gate).second) {
            if (!approve(env, id, s)) return false;
            continue;
          }
        } else if (s.phase == Phase::Paused) {
          pausedForPerson(env, *doc);
          return false;
        } else {
          ended(env, s);
          return false;
        }
      }
      std::optional<TimePoint> next = stepper_->nextDue();
      if (const auto change = runtime_->nextChange(); change && (!next || *change < *next))
        next = change;
      if (!next) {
        stop("stuck", env.name,
             fmt::format("{} stays {}: nothing more is scheduled and no person is asked",
                         o_.version, phase),
             env.location);
        return false;
      }
      if (*next - o_.start > kHorizon) {
        stop("stuck", env.name,
             fmt::format("nothing happens for more than {} days", kHorizon.count() / 86'400'000),
             env.location);
        return false;
      }
      clock_->advanceTo(*next);
    }
  }

  // Plays the roles the gate waits for, one approver per role.
  // Returns false when the plan stops there (a role no one holds, a refused approval).
  bool approve(const config::Environment& env, const std::string& id,
               const engine::DeploymentState& s) {
    std::vector<std::string> roles = env.approvals.roles;
    config::SourceLocation where = env.approvals.location;
    if (s.approval_gate != engine::kStartGate && s.spec &&
        static_cast<std::size_t>(s.approval_gate) < s.spec->steps.size()) {
      const auto gate = static_cast<std::size_t>(s.approval_gate);
      roles = s.spec->steps[gate].approval;
      if (gate < env.canary.steps.size()) where = env.canary.steps[gate].location;
    }
    for (const auto& role : roles) {
      if (o_.held_roles &&
          std::find(o_.held_roles->begin(), o_.held_roles->end(), role) == o_.held_roles->end()) {
        drainEvents();
        stop("approval", env.name,
             fmt::format("{} waits for an approval by {}, a role no one holds", o_.version, role),
             where);
        return false;
      }
      controller::ApprovalRequest request;
      request.deployment_id = id;
      request.environment = env.name;
      request.actor.name = role;
      request.actor.roles = {role};
      request.comment = "played by the rehearsal (approver: the role itself)";
      if (auto r = stepper_->decide(request); !r) {
        drainEvents();
        stop("approval", env.name,
             fmt::format("the approval of {} was refused: {}", role, r.error().message), where);
        return false;
      }
    }
    return true;
  }

  void pausedForPerson(const config::Environment& env, const controller::PersistedDeployment& doc) {
    const auto& s = doc.state;
    if (s.pause_reason == engine::PauseReason::Inconclusive) {
      // The metric the run could not decide: the latest Inconclusive measurement of it.
      std::string metric;
      for (const auto& [key, m] : doc.latest) {
        if (m.outcome == "Inconclusive") metric = key.substr(key.rfind('/') + 1);
      }
      const auto where = metricWhere(*o_.config, env,
                                     [&](const config::MetricSpec& m) { return m.name == metric; });
      stop("inconclusive", env.name,
           fmt::format(
               "{} is inconclusive: the rollout pauses for a person to promote or abort; give the "
               "metric an initialDelay, a window with data, or an inconclusiveLimit that fits",
               metric.empty() ? std::string("an analysis metric") : "metric " + metric),
           where);
      return;
    }
    stop("paused", env.name,
         fmt::format("{} pauses ({}) until a person promotes it", o_.version,
                     engine::toString(s.pause_reason)),
         env.canary.location);
  }

  void ended(const config::Environment& env, const engine::DeploymentState& s) {
    if (s.phase == Phase::RolledBack) {
      report_.rolled_back_in = env.name;
      report_.rollback_reason = s.abort_reason;
      if (auto w = weights_.find(env.name); w != weights_.end())
        report_.rolled_back_at_weight = w->second;
      if (rolled_back_by_ == "analysis.error") {
        // A metric that cannot be measured (a provider the rehearsal does not simulate, a source
        // that cannot answer): the plan can never judge the release.
        stop("analysis", env.name, "an analysis could not measure: " + s.abort_reason,
             // the metric the message names: "error-rate of api: ..."
             metricWhere(*o_.config, env, [&](const config::MetricSpec& m) {
               return s.abort_reason.find(m.name + " of ") != std::string::npos;
             }));
        return;
      }
      if (!report_.bad)
        stop("failed", env.name, "a good build was rolled back: " + s.abort_reason, env.location);
      return;
    }
    if (last_kind_ == "window.never") {
      // The freeze that covers now for longest is what closes every window; else the windows
      // themselves never open.
      const TimePoint now = clock_->now();
      const config::Freeze* freeze = nullptr;
      for (const auto& f : env.freezes) {
        if (f.start <= now && f.end > now && (freeze == nullptr || f.end > freeze->end))
          freeze = &f;
      }
      const auto where = freeze != nullptr     ? freeze->location
                         : env.windows.empty() ? env.location
                                               : env.windows.front().location;
      stop("window", env.name,
           s.abort_reason.empty() ? std::string("no change window ever opens") : s.abort_reason,
           where);
      return;
    }
    stop(s.phase == Phase::Rejected ? "refused" : "failed", env.name,
         fmt::format("{} {}: {}", o_.version, engine::toString(s.phase), last_reason_),
         env.location);
  }

  // The audit events committed since the last call, as timeline entries; measurements are
  // folded into the verdict of their run.
  void drainEvents() {
    while (true) {
      store::EventFilter f;
      f.after_seq = events_after_;
      f.limit = 1000;
      auto events = store_->listEvents(f);
      if (!events || events->empty()) return;
      for (const auto& e : *events) {
        events_after_ = e.seq;
        timelineOf(e);
      }
    }
  }

  std::string environmentOf(const std::string& subject) {
    auto it = environments_.find(subject);
    if (it != environments_.end()) return it->second;
    auto rec = store_->getDeployment(subject);
    std::string env = rec ? rec->environment : std::string();
    environments_[subject] = env;
    return env;
  }

  void timelineOf(const store::EventRecord& e) {
    static const std::set<std::string, std::less<>> kQuiet = {
        "runtime.report", "deployment.requested", "instances.waiting", "analysis.started",
        "checks.started"};
    // Events about something else than a deployment (an incident) belong to the environment
    // being released into.
    std::string env = environmentOf(e.subject);
    if (env.empty()) env = current_environment_;
    if (e.kind == "analysis.measured") {
      measured(e);
      return;
    }
    last_kind_ = e.kind;
    last_reason_ = e.reason;
    if (e.kind == "analysis.error" || e.kind == "analysis.failed" || e.kind == "watch.failed")
      rolled_back_by_ = e.kind;
    noteWeight(env, e.reason);
    if (kQuiet.count(e.kind) != 0) return;
    std::string text = e.reason;
    if (e.kind.rfind("analysis.", 0) == 0 || e.kind.rfind("watch.", 0) == 0) {
      const auto seen = summarise(e.subject, runNumber(e.reason));
      if (!seen.empty()) text += "; seen: " + seen;
    }
    if (e.kind == "checklist.passed") text = rehearsedChecklist(e);
    add(env, e.kind, std::move(text), e.at);
  }

  // A rehearsal judges no checklist item (RehearsedChecklist): the line names the items the
  // gate will judge when the release is deployed for real.
  static std::string rehearsedChecklist(const store::EventRecord& e) {
    json::error_code ec;
    const auto data = json::parse(e.data_json, ec);
    std::vector<std::string> names;
    if (!ec && data.is_object()) {
      if (const auto* items = data.as_object().if_contains("items"); items != nullptr && items->is_array()) {
        for (const auto& item : items->as_array()) {
          if (item.is_object() && item.as_object().contains("name") && item.at("name").is_string()) {
            names.emplace_back(item.at("name").as_string());
          }
        }
      }
    }
    return fmt::format("checklist rehearsed, not judged: {} (judged on the release's evidence when it is deployed)",
                       fmt::join(names, ", "));
  }

  // The version's traffic share in `env`, as the events say it changes.
  void noteWeight(const std::string& env, std::string_view reason) {
    const std::string weight_of = "weight of " + o_.version + " set to ";
    const std::string switched = "switched to ";
    if (const auto at = reason.find(weight_of); at != std::string_view::npos) {
      weights_[env] = std::atoi(std::string(reason.substr(at + weight_of.size())).c_str());
    } else if (reason.find(switched) != std::string_view::npos &&
               reason.find("(" + o_.version + ")") != std::string_view::npos) {
      weights_[env] = 100;
    } else if (reason == o_.version + " takes all traffic" ||
               reason == "every instance runs " + o_.version) {
      weights_[env] = 100;
    }
  }

  struct Seen {
    int count = 0;
    double min = 0;
    double max = 0;
    std::string max_service;
    std::string min_service;
    int no_data = 0;
  };

  void measured(const store::EventRecord& e) {
    json::error_code ec;
    auto data = json::parse(e.data_json, ec);
    if (ec || !data.is_object()) return;
    const auto& o = data.as_object();
    const auto* run = o.if_contains("run");
    const auto* metric = o.if_contains("metric");
    const auto* value = o.if_contains("value");
    const auto* service = o.if_contains("service");
    if (run == nullptr || metric == nullptr || !metric->is_string()) return;
    auto& seen = seen_[e.subject][static_cast<std::uint32_t>(run->to_number<std::int64_t>())]
                      [std::string(metric->as_string())];
    const std::string svc =
        service != nullptr && service->is_string() ? std::string(service->as_string()) : "";
    const auto* outcome = o.if_contains("outcome");
    const bool undecided =
        outcome != nullptr && outcome->is_string() &&
        (outcome->as_string() == "Inconclusive" || outcome->as_string() == "Error");
    // An inconclusive or failed measurement carries no value worth showing (no data, or no
    // answer): it is counted, with the reason the engine gave for the last one.
    if (value == nullptr || value->is_null() || undecided) {
      ++seen.no_data;
      return;
    }
    const double v = value->to_number<double>();
    if (seen.count == 0 || v > seen.max) {
      seen.max = v;
      seen.max_service = svc;
    }
    if (seen.count == 0 || v < seen.min) {
      seen.min = v;
      seen.min_service = svc;
    }
    ++seen.count;
  }

  // "error-rate 0..0.0012 (150 measurements, max at api)", for one run or every open run.
  std::string summarise(const std::string& subject, std::optional<std::uint32_t> run) {
    auto dit = seen_.find(subject);
    if (dit == seen_.end()) return {};
    std::string out;
    for (auto rit = dit->second.begin(); rit != dit->second.end();) {
      if (run && rit->first != *run) {
        ++rit;
        continue;
      }
      for (const auto& [metric, s] : rit->second) {
        if (!out.empty()) out += ", ";
        if (s.count == 0) {
          out += fmt::format("{} undecided ({} measurement{})", metric, s.no_data,
                             s.no_data == 1 ? "" : "s");
          continue;
        }
        out += fmt::format("{} {}..{} ({} measurement{}{}{})", metric, formatValue(s.min),
                           formatValue(s.max), s.count, s.count == 1 ? "" : "s",
                           s.max_service.empty() ? "" : ", max at " + s.max_service,
                           s.no_data > 0 ? fmt::format(", {} undecided", s.no_data) : "");
      }
      rit = dit->second.erase(rit);
    }
    return out;
  }

  const RehearsalOptions& o_;
  RehearsalReport& report_;
  std::vector<const config::Environment*> order_;
  std::shared_ptr<store::Store> store_;
  std::shared_ptr<SimulatedClock> clock_;
  std::shared_ptr<runtime::SimulatedRuntime> runtime_;
  std::unique_ptr<controller::Stepper> stepper_;
  std::int64_t events_after_ = 0;
  std::map<std::string, std::string> environments_;  // deployment id -> environment
  std::map<std::string, std::map<std::uint32_t, std::map<std::string, Seen>>> seen_;
  std::vector<std::string> bad_in_;
  std::string current_environment_;
  std::map<std::string, int> weights_;  // environment -> percent of traffic on the version
  std::string rolled_back_by_;          // the kind of the event that aborted the last deployment
  std::string last_kind_;
  std::string last_reason_;
};

}  // namespace

Result<RehearsalReport> rehearse(const RehearsalOptions& options) {
  if (!options.config) return fail(ErrorCode::InvalidArgument, "no configuration to rehearse");
  RehearsalReport report;
  report.version = options.version;
  report.baseline = options.baseline;
  report.bad = options.fault.has_value();
  if (options.fault) {
    std::vector<std::string> parts;
    if (options.fault->error_rate)
      parts.push_back(fmt::format("error rate {}", formatValue(*options.fault->error_rate)));
    if (options.fault->latency_p95)
      parts.push_back("P95 latency " + formatDuration(*options.fault->latency_p95));
    for (const auto& p : parts) report.fault += (report.fault.empty() ? "" : ", ") + p;
  }
  report.start = options.start;
  Rehearsal rehearsal(options, report);
  if (auto r = rehearsal.run(); !r) return fail(r.error());
  return report;
}

}  // namespace runway::rehearse
