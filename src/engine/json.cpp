#include "runway/engine/json.hpp"

#include <boost/json.hpp>
#include <string>

#include "runway/engine/inputs.hpp"

namespace runway::engine {
namespace json = boost::json;
namespace {

// ---------------------------------------------------------------------------------------------
// Writing

std::int64_t ms(Duration d) { return d.count(); }
std::int64_t ms(TimePoint t) { return toUnixMillis(t); }

json::value opt(const std::optional<TimePoint>& t) {
  return t ? json::value(ms(*t)) : json::value(nullptr);
}
json::value opt(const std::optional<Duration>& d) {
  return d ? json::value(ms(*d)) : json::value(nullptr);
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}
json::object stringMap(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}
json::value ior(const IntOrPercent& v) {
  return json::object{{"value", v.value}, {"percent", v.percent}};
}

json::value analysisToJson(const AnalysisSpec& a) {
  return json::object{{"templates", strings(a.templates)}, {"args", stringMap(a.args)},
                      {"interval", ms(a.interval)},       {"thresholds", stringMap(a.thresholds)}};
}
json::value optAnalysis(const std::optional<AnalysisSpec>& a) {
  return a ? analysisToJson(*a) : json::value(nullptr);
}
json::value checkToJson(const CheckSpec& c) {
  return json::object{{"smoke", c.smoke}, {"health", c.health}};
}
json::value routeToJson(const HeaderRouteSpec& r) {
  return json::object{
      {"header", r.header}, {"cookie", r.cookie}, {"match", matchName(r.match)}, {"value", r.value}};
}

json::value specToJson(const DeploymentSpec& s) {
  json::array services;
  for (const auto& sv : s.services) {
    services.push_back(json::object{{"name", sv.name}, {"instances", sv.instances}});
  }
  json::array steps;
  for (const auto& st : s.steps) {
    json::object o{{"kind", stepKindName(st.kind)}};
    switch (st.kind) {
      case config::CanaryStep::Kind::SetWeight: o["weight"] = st.weight; break;
      case config::CanaryStep::Kind::Pause: o["pause"] = opt(st.pause); break;
      case config::CanaryStep::Kind::Analysis: o["analysis"] = analysisToJson(st.analysis); break;
      case config::CanaryStep::Kind::Approval: o["approval"] = strings(st.approval); break;
      case config::CanaryStep::Kind::Checks: o["checks"] = checkToJson(st.checks); break;
      case config::CanaryStep::Kind::SetHeaderRoute: o["route"] = routeToJson(st.route); break;
    }
    steps.push_back(std::move(o));
  }
  json::array routes;
  for (const auto& r : s.routes) routes.push_back(routeToJson(r));
  json::array windows;
  for (const auto& w : s.windows) {
    windows.push_back(json::object{{"days", w.days},
                                   {"start", w.start_minute},
                                   {"end", w.end_minute},
                                   {"offset", w.offset_minutes}});
  }
  json::array freezes;
  for (const auto& f : s.freezes) {
    freezes.push_back(json::object{{"start", ms(f.start)}, {"end", ms(f.end)}, {"reason", f.reason}});
  }
  return json::object{
      {"environment", s.environment},
      {"application", s.application},
      {"services", std::move(services)},
      {"strategy", strategyName(s.strategy)},
      {"maxSurge", ior(s.max_surge)},
      {"maxUnavailable", ior(s.max_unavailable)},
      {"steps", std::move(steps)},
      {"background", optAnalysis(s.background)},
      {"backgroundStart", s.background_start},
      {"abortScaleDownDelay", ms(s.abort_scale_down_delay)},
      {"scaleDownDelay", ms(s.scale_down_delay)},
      {"stepsOnInitialDeploy", s.steps_on_initial_deploy},
      {"routes", std::move(routes)},
      {"stickyCookie", s.sticky_cookie},
      {"stickyMaxAge", ms(s.sticky_max_age)},
      {"autoPromotion", s.auto_promotion},
      {"autoPromotionAfter", ms(s.auto_promotion_after)},
      {"prePromotionAnalysis", optAnalysis(s.pre_promotion_analysis)},
      {"prePromotionChecks", checkToJson(s.pre_promotion_checks)},
      {"verification", ms(s.verification)},
      {"postPromotionAnalysis", optAnalysis(s.post_promotion_analysis)},
      {"postPromotionChecks", checkToJson(s.post_promotion_checks)},
      {"bgScaleDownDelay", ms(s.bg_scale_down_delay)},
      {"preflight", checkToJson(s.preflight)},
      {"approvalRoles", strings(s.approval_roles)},
      {"preventSelfApproval", s.prevent_self_approval},
      {"approvalTimeout", opt(s.approval_timeout)},
      {"forceAllowed", s.force_allowed},
      {"promoteFullAllowed", s.promote_full_allowed},
      {"windows", std::move(windows)},
      {"freezes", std::move(freezes)},
      {"progressDeadline", ms(s.progress_deadline)},
      {"progressDeadlineAction", deadlineActionName(s.progress_deadline_action)},
      {"rollbackWindow", s.rollback_window},
      {"rollbackGates", s.rollback_gates},
      {"concurrency", concurrencyName(s.concurrency)},
      {"promotesFrom", s.promotes_from},
      {"watchDuration", ms(s.watch_duration)},
      {"watchAnalysis", optAnalysis(s.watch_analysis)},
      {"incidentOnRollback", s.incident_on_rollback},
  };
}

json::value stateToValue(const DeploymentState& s) {
  json::array artifacts;
  for (const auto& a : s.artifacts) artifacts.push_back(json::object{{"service", a.service}, {"ref", a.ref}});
  json::array routes;
  for (const auto& r : s.routes) routes.push_back(routeToJson(r));
  json::array services;
  // Compact: [name, desired, newTarget, newReady, newFailed, stableTarget, stableReady,
  //           appliedWeight, trafficWeight, onStable, others].
  for (const auto& sv : s.services) {
    services.push_back(json::array{json::value(sv.name), sv.desired, sv.new_target, sv.new_ready,
                                   sv.new_failed, sv.stable_target, sv.stable_ready,
                                   sv.applied_weight, sv.traffic_weight, sv.on_stable,
                                   sv.others});
  }
  json::array runs;
  for (const auto& r : s.runs) {
    json::array metrics;
    for (const auto& m : r.metrics) {
      // [metric, measurements, successful, failed, inconclusive, errors, status, service, dryRun,
      //  openEnded]
      metrics.push_back(json::array{json::value(m.metric), m.measurements, m.successful, m.failed,
                                    m.inconclusive, m.errors, json::value(toString(m.status)),
                                    json::value(m.service), m.dry_run, m.open_ended});
    }
    runs.push_back(json::object{{"id", r.id},
                                {"kind", static_cast<int>(r.kind)},
                                {"step", r.step},
                                {"status", toString(r.status)},
                                {"accepted", r.accepted},
                                {"metrics", std::move(metrics)}});
  }
  json::array checks;
  for (const auto& c : s.checks) {
    checks.push_back(json::array{c.id, static_cast<int>(c.kind), c.step, static_cast<int>(c.status)});
  }
  json::array approvals;
  for (const auto& a : s.approvals) {
    approvals.push_back(
        json::object{{"gate", a.gate}, {"role", a.role}, {"actor", a.actor}, {"at", ms(a.at)}});
  }
  json::object o{
      {"schemaVersion", s.schema_version},
      {"id", s.id},
      {"environment", s.environment},
      {"application", s.application},
      {"version", s.version},
      {"artifacts", std::move(artifacts)},
      {"stableVersion", s.stable_version},
      {"startedBy", s.started_by},
      {"reason", s.reason},
      {"phase", toString(s.phase)},
      {"strategy", strategyName(s.strategy)},
      {"pauseReason", toString(s.pause_reason)},
      {"pausedFrom", toString(s.paused_from)},
      {"attempt", s.attempt},
      {"force", s.force},
      {"rollback", s.rollback},
      {"fast", s.fast},
      {"emergency", s.emergency},
      {"stepIndex", s.step_index},
      {"stepEntered", s.step_entered},
      {"pauseSkipped", s.pause_skipped},
      {"canaryWeight", s.canary_weight},
      {"routes", std::move(routes)},
      {"activeColour", toString(s.active_colour)},
      {"switched", s.switched},
      {"preGatesStarted", s.pre_gates_started},
      {"backgroundStarted", s.background_started},
      {"promotedFull", s.promoted_full},
      {"awaitingReadiness", s.awaiting_readiness},
      {"watching", s.watching},
      {"services", std::move(services)},
      {"runs", std::move(runs)},
      {"checks", std::move(checks)},
      {"nextRunId", s.next_run_id},
      {"approvals", std::move(approvals)},
      {"approvalGate", s.approval_gate},
      {"pauseUntil", opt(s.pause_until)},
      {"pausedRemaining", opt(s.paused_remaining)},
      {"progressDeadlineAt", opt(s.progress_deadline_at)},
      {"approvalDeadline", opt(s.approval_deadline)},
      {"windowOpensAt", opt(s.window_opens_at)},
      {"autoPromoteAt", opt(s.auto_promote_at)},
      {"verificationUntil", opt(s.verification_until)},
      {"watchUntil", opt(s.watch_until)},
      {"stableRetireAt", opt(s.stable_retire_at)},
      {"wakeAt", opt(s.wake_at)},
      {"abortReason", s.abort_reason},
      {"abortTarget", toString(s.abort_target)},
      {"incidentOpened", s.incident_opened},
      {"createdAt", ms(s.created_at)},
      {"updatedAt", ms(s.updated_at)},
  };
  o["spec"] = s.spec ? specToJson(*s.spec) : json::value(nullptr);
  return o;
}

// ---------------------------------------------------------------------------------------------
// Reading: the first problem wins; callers check `error` at the end.

class Reader {
 public:
  std::string error;

  const json::value* at(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) bad(key, "is missing");
    return v;
  }
  void bad(std::string_view key, std::string_view what) {
    if (error.empty()) error = "field \"" + std::string(key) + "\" " + std::string(what);
  }
  std::int64_t i64(const json::object& o, std::string_view key) {
    const json::value* v = at(o, key);
    if (v == nullptr) return 0;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      return static_cast<std::int64_t>(v->get_uint64());
    }
    bad(key, "must be an integer");
    return 0;
  }
  int i32(const json::object& o, std::string_view key) {
    const std::int64_t v = i64(o, key);
    if (v < INT32_MIN || v > INT32_MAX) {
      bad(key, "is out of range");
      return 0;
    }
    return static_cast<int>(v);
  }
  static int i32(const json::value& v, Reader& r, std::string_view what) {
    if (v.is_int64() && v.get_int64() >= INT32_MIN && v.get_int64() <= INT32_MAX) {
      return static_cast<int>(v.get_int64());
    }
    if (v.is_uint64() && v.get_uint64() <= INT32_MAX) return static_cast<int>(v.get_uint64());
    r.bad(what, "must be a small integer");
    return 0;
  }
  // A flag added after the schema version: `absent` when the document predates it.
  bool flagOr(const json::object& o, std::string_view key, bool absent) {
    if (o.if_contains(key) == nullptr) return absent;
    return flag(o, key);
  }
  bool flag(const json::object& o, std::string_view key) {
    const json::value* v = at(o, key);
    if (v == nullptr) return false;
    if (!v->is_bool()) {
      bad(key, "must be true or false");
      return false;
    }
    return v->get_bool();
  }
  std::string str(const json::object& o, std::string_view key) {
    const json::value* v = at(o, key);
    if (v == nullptr) return {};
    if (!v->is_string()) {
      bad(key, "must be a string");
      return {};
    }
    return std::string(v->get_string());
  }
  const json::object& obj(const json::object& o, std::string_view key) {
    static const json::object kEmpty;
    const json::value* v = at(o, key);
    if (v == nullptr) return kEmpty;
    if (!v->is_object()) {
      bad(key, "must be an object");
      return kEmpty;
    }
    return v->get_object();
  }
  const json::array& arr(const json::object& o, std::string_view key) {
    static const json::array kEmpty;
    const json::value* v = at(o, key);
    if (v == nullptr) return kEmpty;
    if (!v->is_array()) {
      bad(key, "must be an array");
      return kEmpty;
    }
    return v->get_array();
  }
  const json::object& item(const json::value& v, std::string_view what) {
    static const json::object kEmpty;
    if (!v.is_object()) {
      bad(what, "must hold objects");
      return kEmpty;
    }
    return v.get_object();
  }
  bool isNull(const json::object& o, std::string_view key) {
    const json::value* v = at(o, key);
    return v == nullptr || v->is_null();
  }
  Duration dur(const json::object& o, std::string_view key) { return Duration{i64(o, key)}; }
  TimePoint time(const json::object& o, std::string_view key) { return fromUnixMillis(i64(o, key)); }
  std::optional<TimePoint> optTime(const json::object& o, std::string_view key) {
    if (isNull(o, key)) return std::nullopt;
    return time(o, key);
  }
  std::optional<Duration> optDur(const json::object& o, std::string_view key) {
    if (isNull(o, key)) return std::nullopt;
    return dur(o, key);
  }
  std::vector<std::string> strs(const json::object& o, std::string_view key) {
    std::vector<std::string> out;
    for (const auto& v : arr(o, key)) {
      if (!v.is_string()) {
        bad(key, "must hold strings");
        return out;
      }
      out.emplace_back(v.get_string());
    }
    return out;
  }
  std::map<std::string, std::string> strMap(const json::object& o, std::string_view key) {
    std::map<std::string, std::string> out;
    for (const auto& kv : obj(o, key)) {
      if (!kv.value().is_string()) {
        bad(key, "must map to strings");
        return out;
      }
      out.emplace(std::string(kv.key()), std::string(kv.value().get_string()));
    }
    return out;
  }
  // An enum from its name, given a name function and the number of enumerators.
  template <typename E, typename F>
  E named(const json::object& o, std::string_view key, F name_of, int count) {
    const std::string s = str(o, key);
    for (int i = 0; i < count; ++i) {
      if (name_of(static_cast<E>(i)) == s) return static_cast<E>(i);
    }
    bad(key, "has an unknown value \"" + s + "\"");
    return static_cast<E>(0);
  }
  template <typename E>
  E indexed(const json::value& v, int count, std::string_view what) {
    const int i = i32(v, *this, what);
    if (i < 0 || i >= count) {
      bad(what, "has an unknown value");
      return static_cast<E>(0);
    }
    return static_cast<E>(i);
  }
};

auto phaseName = [](Phase p) { return toString(p); };

IntOrPercent readIor(Reader& r, const json::object& o, std::string_view key) {
  const json::object& v = r.obj(o, key);
  return IntOrPercent{r.i32(v, "value"), r.flag(v, "percent")};
}

AnalysisSpec readAnalysis(Reader& r, const json::object& o) {
  AnalysisSpec a;
  a.templates = r.strs(o, "templates");
  a.args = r.strMap(o, "args");
  a.interval = r.dur(o, "interval");
  a.thresholds = r.strMap(o, "thresholds");
  // Documents written before the analysis module became the one verdict authority also carry
  // "metrics" (per-metric limits); they are ignored.
  return a;
}
std::optional<AnalysisSpec> readOptAnalysis(Reader& r, const json::object& o, std::string_view key) {
  if (r.isNull(o, key)) return std::nullopt;
  return readAnalysis(r, r.obj(o, key));
}
CheckSpec readCheck(Reader& r, const json::object& o, std::string_view key) {
  const json::object& c = r.obj(o, key);
  return CheckSpec{r.str(c, "smoke"), r.str(c, "health")};
}
HeaderRouteSpec readRoute(Reader& r, const json::object& o) {
  return HeaderRouteSpec{r.str(o, "header"), r.str(o, "cookie"),
                         r.named<config::HeaderRoute::Match>(o, "match", matchName, 3),
                         r.str(o, "value")};
}

DeploymentSpec readSpec(Reader& r, const json::object& o) {
  DeploymentSpec s;
  s.environment = r.str(o, "environment");
  s.application = r.str(o, "application");
  for (const auto& v : r.arr(o, "services")) {
    const json::object& sv = r.item(v, "services");
    s.services.push_back(ServiceSpec{r.str(sv, "name"), r.i32(sv, "instances")});
  }
  s.strategy = r.named<StrategyKind>(o, "strategy", strategyName, 3);
  s.max_surge = readIor(r, o, "maxSurge");
  s.max_unavailable = readIor(r, o, "maxUnavailable");
  for (const auto& v : r.arr(o, "steps")) {
    const json::object& so = r.item(v, "steps");
    StepSpec st;
    st.kind = r.named<config::CanaryStep::Kind>(so, "kind", stepKindName, 6);
    using K = config::CanaryStep::Kind;
    switch (st.kind) {
      case K::SetWeight: st.weight = r.i32(so, "weight"); break;
      case K::Pause: st.pause = r.optDur(so, "pause"); break;
      case K::Analysis: st.analysis = readAnalysis(r, r.obj(so, "analysis")); break;
      case K::Approval: st.approval = r.strs(so, "approval"); break;
      case K::Checks: st.checks = readCheck(r, so, "checks"); break;
      case K::SetHeaderRoute: st.route = readRoute(r, r.obj(so, "route")); break;
    }
    s.steps.push_back(std::move(st));
  }
  s.background = readOptAnalysis(r, o, "background");
  s.background_start = r.i32(o, "backgroundStart");
  s.abort_scale_down_delay = r.dur(o, "abortScaleDownDelay");
  s.scale_down_delay = r.dur(o, "scaleDownDelay");
  // Absent in states written before the setting existed, when first deployments ran the steps.
  s.steps_on_initial_deploy = r.flagOr(o, "stepsOnInitialDeploy", true);
  // Absent in states written before environments had `traffic:`.
  if (o.if_contains("routes") != nullptr) {
    for (const auto& v : r.arr(o, "routes")) s.routes.push_back(readRoute(r, r.item(v, "routes")));
    s.sticky_cookie = r.str(o, "stickyCookie");
    s.sticky_max_age = r.dur(o, "stickyMaxAge");
  }
  s.auto_promotion = r.flag(o, "autoPromotion");
  s.auto_promotion_after = r.dur(o, "autoPromotionAfter");
  s.pre_promotion_analysis = readOptAnalysis(r, o, "prePromotionAnalysis");
  s.pre_promotion_checks = readCheck(r, o, "prePromotionChecks");
  s.verification = r.dur(o, "verification");
  s.post_promotion_analysis = readOptAnalysis(r, o, "postPromotionAnalysis");
  s.post_promotion_checks = readCheck(r, o, "postPromotionChecks");
  s.bg_scale_down_delay = r.dur(o, "bgScaleDownDelay");
  s.preflight = readCheck(r, o, "preflight");
  s.approval_roles = r.strs(o, "approvalRoles");
  s.prevent_self_approval = r.flag(o, "preventSelfApproval");
  s.approval_timeout = r.optDur(o, "approvalTimeout");
  s.force_allowed = r.flag(o, "forceAllowed");
  s.promote_full_allowed = r.flag(o, "promoteFullAllowed");
  for (const auto& v : r.arr(o, "windows")) {
    const json::object& w = r.item(v, "windows");
    const int days = r.i32(w, "days");
    if (days < 0 || days > 127) r.bad("days", "must be 0..127");
    s.windows.push_back(WindowSpec{static_cast<std::uint8_t>(days & 127), r.i32(w, "start"),
                                   r.i32(w, "end"), r.i32(w, "offset")});
  }
  for (const auto& v : r.arr(o, "freezes")) {
    const json::object& f = r.item(v, "freezes");
    s.freezes.push_back(FreezeSpec{r.time(f, "start"), r.time(f, "end"), r.str(f, "reason")});
  }
  s.progress_deadline = r.dur(o, "progressDeadline");
  s.progress_deadline_action =
      r.named<ProgressDeadlineAction>(o, "progressDeadlineAction", deadlineActionName, 2);
  s.rollback_window = r.i32(o, "rollbackWindow");
  s.rollback_gates = r.flagOr(o, "rollbackGates", false);  // absent before rollback gates
  s.concurrency = r.named<ConcurrencyPolicy>(o, "concurrency", concurrencyName, 3);
  s.promotes_from = r.str(o, "promotesFrom");
  s.watch_duration = r.dur(o, "watchDuration");
  s.watch_analysis = readOptAnalysis(r, o, "watchAnalysis");
  s.incident_on_rollback = r.flag(o, "incidentOnRollback");
  return s;
}

DeploymentState readState(Reader& r, const json::object& o) {
  DeploymentState s;
  s.schema_version = r.i32(o, "schemaVersion");
  s.id = r.str(o, "id");
  s.environment = r.str(o, "environment");
  s.application = r.str(o, "application");
  s.version = r.str(o, "version");
  for (const auto& v : r.arr(o, "artifacts")) {
    const json::object& a = r.item(v, "artifacts");
    s.artifacts.push_back(Artifact{r.str(a, "service"), r.str(a, "ref")});
  }
  s.stable_version = r.str(o, "stableVersion");
  s.started_by = r.str(o, "startedBy");
  s.reason = r.str(o, "reason");
  s.phase = r.named<Phase>(o, "phase", phaseName, 14);
  s.strategy = r.named<StrategyKind>(o, "strategy", strategyName, 3);
  s.pause_reason = r.named<PauseReason>(o, "pauseReason",
                                        [](PauseReason p) { return toString(p); }, 5);
  s.paused_from = r.named<Phase>(o, "pausedFrom", phaseName, 14);
  s.attempt = r.i32(o, "attempt");
  s.force = r.flag(o, "force");
  s.rollback = r.flag(o, "rollback");
  s.fast = r.flag(o, "fast");
  s.emergency = r.flag(o, "emergency");
  s.step_index = r.i32(o, "stepIndex");
  s.step_entered = r.flag(o, "stepEntered");
  s.pause_skipped = r.flag(o, "pauseSkipped");
  s.canary_weight = r.i32(o, "canaryWeight");
  for (const auto& v : r.arr(o, "routes")) s.routes.push_back(readRoute(r, r.item(v, "routes")));
  s.active_colour = r.named<Colour>(o, "activeColour", [](Colour c) { return toString(c); }, 2);
  s.switched = r.flag(o, "switched");
  s.pre_gates_started = r.flag(o, "preGatesStarted");
  s.background_started = r.flag(o, "backgroundStarted");
  s.promoted_full = r.flag(o, "promotedFull");
  s.awaiting_readiness = r.flag(o, "awaitingReadiness");
  s.watching = r.flag(o, "watching");
  for (const auto& v : r.arr(o, "services")) {
    // The 11th element (others) is absent in states written before it existed.
    if (!v.is_array() || v.get_array().size() < 10 || v.get_array().size() > 11 ||
        !v.get_array()[0].is_string() || !v.get_array()[9].is_bool()) {
      r.bad("services", "must hold [name, 8 counts, onStable, others] arrays");
      break;
    }
    const json::array& a = v.get_array();
    ServiceProgress p;
    p.name = std::string(a[0].get_string());
    p.desired = Reader::i32(a[1], r, "services");
    p.new_target = Reader::i32(a[2], r, "services");
    p.new_ready = Reader::i32(a[3], r, "services");
    p.new_failed = Reader::i32(a[4], r, "services");
    p.stable_target = Reader::i32(a[5], r, "services");
    p.stable_ready = Reader::i32(a[6], r, "services");
    p.applied_weight = Reader::i32(a[7], r, "services");
    p.traffic_weight = Reader::i32(a[8], r, "services");
    p.on_stable = a[9].get_bool();
    if (a.size() == 11) p.others = Reader::i32(a[10], r, "services");
    s.services.push_back(std::move(p));
  }
  for (const auto& v : r.arr(o, "runs")) {
    const json::object& ro = r.item(v, "runs");
    AnalysisRun run;
    const std::int64_t id = r.i64(ro, "id");
    if (id < 0 || id > UINT32_MAX) r.bad("id", "is out of range");
    run.id = static_cast<std::uint32_t>(id);
    const json::value* kind = r.at(ro, "kind");
    if (kind != nullptr) run.kind = r.indexed<RunKind>(*kind, 5, "kind");
    run.step = r.i32(ro, "step");
    run.status = r.named<RunStatus>(ro, "status", [](RunStatus x) { return toString(x); }, 6);
    run.accepted = r.flag(ro, "accepted");
    for (const auto& mv : r.arr(ro, "metrics")) {
      // 10 members; 9 before open-ended metrics were told apart; 7 in documents written before
      // verdicts were per service. Those tallies added up all services and carry no verdict:
      // they are dropped (the analysis module reports every metric of every service again after
      // a restart).
      std::size_t n = mv.is_array() ? mv.get_array().size() : 0;
      if (n == 10 && !mv.get_array()[9].is_bool()) n = 0;
      if (n == 10) n = 9;  // the tenth member is read below
      if ((n != 7 && n != 9) || !mv.get_array()[0].is_string() ||
          (n == 9 && (!mv.get_array()[6].is_string() || !mv.get_array()[7].is_string() ||
                      !mv.get_array()[8].is_bool()))) {
        r.bad("metrics", "must hold [name, 5 counts, status, service, dryRun] arrays");
        break;
      }
      const json::array& m = mv.get_array();
      MetricTally t;
      t.metric = std::string(m[0].get_string());
      t.measurements = Reader::i32(m[1], r, "metrics");
      t.successful = Reader::i32(m[2], r, "metrics");
      t.failed = Reader::i32(m[3], r, "metrics");
      t.inconclusive = Reader::i32(m[4], r, "metrics");
      t.errors = Reader::i32(m[5], r, "metrics");
      if (n != 9) continue;
      json::object holder{{"status", m[6]}};
      t.status = r.named<RunStatus>(holder, "status", [](RunStatus x) { return toString(x); }, 6);
      t.service = std::string(m[7].get_string());
      t.dry_run = m[8].get_bool();
      // Absent in states written before open-ended metrics were told apart.
      if (m.size() > 9 && m[9].is_bool()) t.open_ended = m[9].get_bool();
      run.metrics.push_back(std::move(t));
    }
    s.runs.push_back(std::move(run));
  }
  for (const auto& v : r.arr(o, "checks")) {
    if (!v.is_array() || v.get_array().size() != 4) {
      r.bad("checks", "must hold [id, kind, step, status] arrays");
      break;
    }
    const json::array& c = v.get_array();
    const int id = Reader::i32(c[0], r, "checks");
    s.checks.push_back(CheckRun{static_cast<std::uint32_t>(std::max(0, id)),
                                r.indexed<CheckKind>(c[1], 4, "checks"),
                                Reader::i32(c[2], r, "checks"),
                                r.indexed<CheckStatus>(c[3], 4, "checks")});
  }
  const std::int64_t next = r.i64(o, "nextRunId");
  if (next < 0 || next > UINT32_MAX) r.bad("nextRunId", "is out of range");
  s.next_run_id = static_cast<std::uint32_t>(next);
  for (const auto& v : r.arr(o, "approvals")) {
    const json::object& a = r.item(v, "approvals");
    s.approvals.push_back(
        ApprovalRecord{r.i32(a, "gate"), r.str(a, "role"), r.str(a, "actor"), r.time(a, "at")});
  }
  s.approval_gate = r.i32(o, "approvalGate");
  s.pause_until = r.optTime(o, "pauseUntil");
  s.paused_remaining = r.optDur(o, "pausedRemaining");
  s.progress_deadline_at = r.optTime(o, "progressDeadlineAt");
  s.approval_deadline = r.optTime(o, "approvalDeadline");
  s.window_opens_at = r.optTime(o, "windowOpensAt");
  s.auto_promote_at = r.optTime(o, "autoPromoteAt");
  s.verification_until = r.optTime(o, "verificationUntil");
  s.watch_until = r.optTime(o, "watchUntil");
  s.stable_retire_at = r.optTime(o, "stableRetireAt");
  s.wake_at = r.optTime(o, "wakeAt");
  s.abort_reason = r.str(o, "abortReason");
  s.abort_target = r.named<Phase>(o, "abortTarget", phaseName, 14);
  s.incident_opened = r.flag(o, "incidentOpened");
  s.created_at = r.time(o, "createdAt");
  s.updated_at = r.time(o, "updatedAt");
  if (!r.isNull(o, "spec")) {
    s.spec = SpecRef{std::make_shared<const DeploymentSpec>(readSpec(r, r.obj(o, "spec")))};
  }
  return s;
}

// Action JSON.
struct ActionWriter {
  json::object operator()(const StartVersion& a) const {
    json::object o{{"type", "startVersion"}, {"service", a.service}, {"version", a.version},
                   {"artifact", a.artifact}, {"instances", a.instances}};
    if (a.colour) o["colour"] = toString(*a.colour);
    return o;
  }
  json::object operator()(const SetTraffic& a) const {
    json::object weights;
    for (const auto& w : a.weights) weights[w.version] = w.weight;
    json::array routes;
    for (const auto& r : a.routes) {
      json::value v = routeToJson(r.route);
      v.as_object()["version"] = r.version;
      routes.push_back(std::move(v));
    }
    return json::object{{"type", "setTraffic"},
                        {"service", a.service},
                        {"weights", std::move(weights)},
                        {"routes", std::move(routes)}};
  }
  json::object operator()(const SwitchColour& a) const {
    return json::object{{"type", "switchColour"}, {"service", a.service},
                        {"colour", toString(a.colour)}, {"version", a.version}};
  }
  json::object operator()(const RetireVersion& a) const {
    return json::object{{"type", "retireVersion"}, {"service", a.service},
                        {"version", a.version}, {"at", formatTimestamp(a.at)}};
  }
  json::object operator()(const StartAnalysis& a) const {
    return json::object{{"type", "startAnalysis"},     {"run", a.run},
                        {"kind", toString(a.kind)},    {"step", a.step},
                        {"version", a.version},        {"baseline", a.baseline},
                        {"templates", strings(a.templates)}, {"args", stringMap(a.args)},
                        {"intervalMs", ms(a.interval)}, {"thresholds", stringMap(a.thresholds)}};
  }
  json::object operator()(const StopAnalysis& a) const {
    return json::object{{"type", "stopAnalysis"}, {"run", a.run}};
  }
  json::object operator()(const RunChecks& a) const {
    return json::object{{"type", "runChecks"}, {"run", a.run}, {"kind", toString(a.kind)},
                        {"step", a.step},      {"version", a.version},
                        {"smoke", a.checks.smoke}, {"health", a.checks.health}};
  }
  json::object operator()(const RequestApproval& a) const {
    json::object o{{"type", "requestApproval"}, {"gate", a.gate}, {"roles", strings(a.roles)}};
    if (a.deadline) o["deadline"] = formatTimestamp(*a.deadline);
    return o;
  }
  json::object operator()(const Notify& a) const {
    return json::object{{"type", "notify"}, {"event", toString(a.event)},
                        {"phase", toString(a.phase)}, {"version", a.version}, {"reason", a.reason}};
  }
  json::object operator()(const OpenIncident& a) const {
    return json::object{{"type", "openIncident"}, {"severity", a.severity}, {"title", a.title},
                        {"reason", a.reason}};
  }
  json::object operator()(const WakeAt& a) const {
    return json::object{{"type", "wakeAt"}, {"at", formatTimestamp(a.at)}};
  }
  json::object operator()(const Audit& a) const {
    return json::object{{"type", "audit"},   {"at", formatTimestamp(a.at)}, {"actor", a.actor},
                        {"kind", a.kind},    {"reason", a.reason},
                        {"from", toString(a.from)}, {"to", toString(a.to)}};
  }
};

}  // namespace

std::string stateToJson(const DeploymentState& state) {
  return json::serialize(stateToValue(state));
}

Result<DeploymentState> stateFromJson(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return fail(ErrorCode::InvalidArgument, "deployment state is not JSON: " + ec.message());
  if (!v.is_object()) return fail(ErrorCode::InvalidArgument, "deployment state must be an object");
  const json::object& o = v.get_object();
  const json::value* sv = o.if_contains("schemaVersion");
  if (sv == nullptr || !sv->is_int64()) {
    return fail(ErrorCode::InvalidArgument, "deployment state has no integer schemaVersion");
  }
  if (sv->get_int64() > kStateSchemaVersion) {
    return fail(ErrorCode::FailedPrecondition,
                "deployment state has schemaVersion " + std::to_string(sv->get_int64()) +
                    "; this runway understands up to " + std::to_string(kStateSchemaVersion) +
                    ": upgrade runway");
  }
  if (sv->get_int64() < 1) {
    return fail(ErrorCode::InvalidArgument, "deployment state has an invalid schemaVersion");
  }
  Reader r;
  DeploymentState s = readState(r, o);
  if (!r.error.empty()) return fail(ErrorCode::InvalidArgument, "deployment state: " + r.error);
  return s;
}

std::string actionToJson(const Action& action) {
  return json::serialize(std::visit(ActionWriter{}, action));
}

}  // namespace runway::engine
