#include "runway/engine/spec.hpp"

#include <algorithm>
#include <charconv>
#include <string>

namespace runway::engine {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kDayMs = 24 * 60 * kMinuteMs;

Result<AnalysisSpec> analysisSpec(const config::AnalysisRef& ref,
                                  const std::vector<config::AnalysisTemplate>& templates,
                                  const std::string& where) {
  AnalysisSpec out;
  out.templates = ref.templates;
  out.args = ref.args;
  out.interval = ref.interval;
  out.thresholds = ref.thresholds;
  for (const auto& name : ref.templates) {
    auto it = std::find_if(templates.begin(), templates.end(),
                           [&](const config::AnalysisTemplate& t) { return t.name == name; });
    if (it == templates.end()) {
      return fail(ErrorCode::InvalidArgument,
                  where + ": analysis template \"" + name + "\" does not exist");
    }
  }
  return out;
}

CheckSpec checkSpec(const config::CheckRef& ref) { return CheckSpec{ref.smoke, ref.health}; }

int parseTwoDigits(std::string_view s, bool& ok) {
  if (s.size() != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') {
    ok = false;
    return 0;
  }
  return (s[0] - '0') * 10 + (s[1] - '0');
}

// Local minute of day and day index (days since epoch) of `t` in a fixed offset.
struct LocalTime {
  std::int64_t day;
  int minute;
};
LocalTime localTime(TimePoint t, int offset_minutes) {
  const std::int64_t ms = toUnixMillis(t) + std::int64_t{offset_minutes} * kMinuteMs;
  std::int64_t day = ms / kDayMs;
  std::int64_t rem = ms % kDayMs;
  if (rem < 0) {
    rem += kDayMs;
    --day;
  }
  return LocalTime{day, static_cast<int>(rem / kMinuteMs)};
}

// Monday = 0 (1970-01-01 was a Thursday).
int weekdayOf(std::int64_t day) {
  const std::int64_t w = (day + 3) % 7;
  return static_cast<int>(w < 0 ? w + 7 : w);
}

bool dayMatches(const WindowSpec& w, std::int64_t day) {
  return w.days == 0 || (w.days & (1u << weekdayOf(day))) != 0;
}

TimePoint utcOf(std::int64_t day, int minute, int offset_minutes) {
  return fromUnixMillis(day * kDayMs + std::int64_t{minute} * kMinuteMs -
                        std::int64_t{offset_minutes} * kMinuteMs);
}

bool insideWindow(const WindowSpec& w, TimePoint t) {
  const LocalTime lt = localTime(t, w.offset_minutes);
  if (w.end_minute > w.start_minute) {
    return dayMatches(w, lt.day) && lt.minute >= w.start_minute && lt.minute < w.end_minute;
  }
  // Crosses midnight (or spans the whole day when end == start): the day is the start's day.
  if (lt.minute >= w.start_minute) return dayMatches(w, lt.day);
  return lt.minute < w.end_minute && dayMatches(w, lt.day - 1);
}

// Earliest opening of `w` at or after t (t itself when inside).
std::optional<TimePoint> nextOpening(const WindowSpec& w, TimePoint t) {
  if (insideWindow(w, t)) return t;
  const LocalTime lt = localTime(t, w.offset_minutes);
  for (std::int64_t d = 0; d <= 8; ++d) {
    const std::int64_t day = lt.day + d;
    if (!dayMatches(w, day)) continue;
    TimePoint start = utcOf(day, w.start_minute, w.offset_minutes);
    if (start >= t) return start;
  }
  return std::nullopt;
}

const FreezeSpec* freezeAt(const DeploymentSpec& spec, TimePoint t) {
  for (const auto& f : spec.freezes) {
    if (t >= f.start && t < f.end) return &f;
  }
  return nullptr;
}

bool insideSomeWindow(const DeploymentSpec& spec, TimePoint t) {
  if (spec.windows.empty()) return true;
  return std::any_of(spec.windows.begin(), spec.windows.end(),
                     [&](const WindowSpec& w) { return insideWindow(w, t); });
}

}  // namespace

Result<int> parseUtcOffset(std::string_view tz) {
  if (tz == "UTC" || tz == "Z" || tz == "utc" || tz == "Etc/UTC" || tz == "GMT") return 0;
  std::string_view rest = tz;
  if (rest.substr(0, 3) == "UTC" || rest.substr(0, 3) == "GMT") rest.remove_prefix(3);
  bool ok = rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':';
  int hours = 0;
  int minutes = 0;
  if (ok) {
    hours = parseTwoDigits(rest.substr(1, 2), ok);
    minutes = parseTwoDigits(rest.substr(4, 2), ok);
  }
  if (!ok || hours > 14 || minutes > 59) {
    return fail(ErrorCode::InvalidArgument,
                "timezone \"" + std::string(tz) +
                    "\" is not supported: use UTC or a fixed offset such as \"+02:00\"");
  }
  const int total = hours * 60 + minutes;
  return rest[0] == '-' ? -total : total;
}

bool windowOpen(const DeploymentSpec& spec, TimePoint t) {
  return freezeAt(spec, t) == nullptr && insideSomeWindow(spec, t);
}

std::optional<TimePoint> nextWindowOpening(const DeploymentSpec& spec, TimePoint t) {
  const TimePoint limit = t + Duration{400 * kDayMs};
  TimePoint at = t;
  while (at <= limit) {
    if (const FreezeSpec* f = freezeAt(spec, at)) {
      at = f->end;
      continue;
    }
    if (spec.windows.empty()) return at;
    std::optional<TimePoint> best;
    for (const auto& w : spec.windows) {
      auto o = nextOpening(w, at);
      if (o && (!best || *o < *best)) best = o;
    }
    if (!best) return std::nullopt;
    if (*best == at) return at;
    at = *best;  // re-check freezes at the opening
  }
  return std::nullopt;
}

Result<DeploymentSpec> buildSpec(const config::Environment& env, const config::Application& app,
                                 const std::vector<config::AnalysisTemplate>& templates,
                                 const SpecOptions& options) {
  DeploymentSpec s;
  s.environment = env.name;
  s.application = app.name;
  if (app.services.empty()) {
    return fail(ErrorCode::InvalidArgument,
                "application \"" + app.name + "\" has no services to deploy");
  }
  for (const auto& svc : app.services) {
    if (svc.instances < 1) {
      return fail(ErrorCode::InvalidArgument,
                  "service \"" + svc.name + "\": instances must be at least 1");
    }
    s.services.push_back(ServiceSpec{svc.name, svc.instances});
  }
  s.strategy = env.strategy;
  s.max_surge = IntOrPercent{env.rolling.max_surge.value, env.rolling.max_surge.percent};
  s.max_unavailable =
      IntOrPercent{env.rolling.max_unavailable.value, env.rolling.max_unavailable.percent};

  for (const auto& r : env.traffic.routes) {
    s.routes.push_back(HeaderRouteSpec{r.header, r.cookie, r.match, r.value});
  }
  if (env.traffic.sticky) {
    s.sticky_cookie = env.traffic.sticky->cookie;
    s.sticky_max_age = env.traffic.sticky->max_age;
  }

  const std::string where = "environment \"" + env.name + "\"";
  for (std::size_t i = 0; i < env.canary.steps.size(); ++i) {
    const auto& c = env.canary.steps[i];
    StepSpec st;
    st.kind = c.kind;
    st.weight = c.weight;
    st.pause = c.pause;
    st.approval = c.approval;
    st.checks = checkSpec(c.checks);
    st.route = HeaderRouteSpec{c.header_route.header, c.header_route.cookie,
                               c.header_route.match, c.header_route.value};
    const std::string step_where = where + " canary step " + std::to_string(i);
    if (c.kind == config::CanaryStep::Kind::SetWeight && (c.weight < 0 || c.weight > 100)) {
      return fail(ErrorCode::InvalidArgument, step_where + ": setWeight must be 0..100");
    }
    if (c.kind == config::CanaryStep::Kind::Approval && c.approval.empty()) {
      return fail(ErrorCode::InvalidArgument, step_where + ": approval step names no roles");
    }
    if (c.kind == config::CanaryStep::Kind::Analysis) {
      auto a = analysisSpec(c.analysis, templates, step_where);
      if (!a) return fail(a.error());
      st.analysis = std::move(*a);
    }
    s.steps.push_back(std::move(st));
  }
  if (env.canary.analysis) {
    const auto& bg = *env.canary.analysis;
    if (bg.starting_step < 0 ||
        static_cast<std::size_t>(bg.starting_step) > env.canary.steps.size()) {
      return fail(ErrorCode::InvalidArgument,
                  where + ": background analysis startingStep is past the last step");
    }
    auto a = analysisSpec(bg.analysis, templates, where + " canary analysis");
    if (!a) return fail(a.error());
    s.background = std::move(*a);
    s.background_start = bg.starting_step;
  }
  s.abort_scale_down_delay = env.canary.abort_scale_down_delay;
  s.scale_down_delay = env.canary.scale_down_delay;
  s.steps_on_initial_deploy = env.canary.steps_on_initial_deploy;

  const auto& bgs = env.blue_green;
  s.auto_promotion = bgs.auto_promotion;
  s.auto_promotion_after = bgs.auto_promotion_after;
  if (bgs.pre_promotion_analysis) {
    auto a = analysisSpec(*bgs.pre_promotion_analysis, templates, where + " prePromotionAnalysis");
    if (!a) return fail(a.error());
    s.pre_promotion_analysis = std::move(*a);
  }
  if (bgs.pre_promotion_checks) s.pre_promotion_checks = checkSpec(*bgs.pre_promotion_checks);
  s.verification = bgs.verification;
  if (bgs.post_promotion_analysis) {
    auto a =
        analysisSpec(*bgs.post_promotion_analysis, templates, where + " postPromotionAnalysis");
    if (!a) return fail(a.error());
    s.post_promotion_analysis = std::move(*a);
  }
  if (bgs.post_promotion_checks) s.post_promotion_checks = checkSpec(*bgs.post_promotion_checks);
  s.bg_scale_down_delay = bgs.scale_down_delay;

  s.preflight = options.preflight;
  s.approval_roles = env.approvals.roles;
  s.prevent_self_approval = env.approvals.prevent_self_approval;
  s.approval_timeout = env.approvals.timeout;
  s.force_allowed = env.force_deploy == config::ForceDeployPolicy::Allowed;
  s.promote_full_allowed = env.promote_full_allowed;
  for (const auto& w : env.windows) {
    auto offset = parseUtcOffset(w.timezone);
    if (!offset) return fail(ErrorCode::InvalidArgument, where + ": " + offset.error().message);
    if (w.start_minute < 0 || w.start_minute > 1439 || w.end_minute < 0 || w.end_minute > 1440) {
      return fail(ErrorCode::InvalidArgument, where + ": change window times must be 00:00..24:00");
    }
    WindowSpec ws;
    for (auto d : w.days) ws.days = static_cast<std::uint8_t>(ws.days | (1u << static_cast<int>(d)));
    ws.start_minute = w.start_minute;
    ws.end_minute = w.end_minute;
    ws.offset_minutes = *offset;
    s.windows.push_back(ws);
  }
  for (const auto& f : env.freezes) s.freezes.push_back(FreezeSpec{f.start, f.end, f.reason});
  s.progress_deadline = env.progress_deadline;
  s.progress_deadline_action = env.progress_deadline_action;
  s.rollback_window = env.rollback_window;
  s.rollback_gates = env.rollback.gates == config::RollbackPolicy::Gates::Enforce;
  s.concurrency = env.concurrency;
  s.promotes_from = env.promotes_from;
  s.watch_duration = env.post_deploy.duration;
  if (env.post_deploy.duration > Duration{0} && !env.post_deploy.analysis.templates.empty()) {
    auto a = analysisSpec(env.post_deploy.analysis, templates, where + " postDeploy");
    if (!a) return fail(a.error());
    s.watch_analysis = std::move(*a);
  }
  s.incident_on_rollback = env.incident_on_rollback;
  return s;
}

}  // namespace runway::engine
