// The persisted form of a deployment: {"state": <engine state>, "intent": {...}, ...}.

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/controller/controller.hpp"
#include "runway/engine/json.hpp"

namespace runway::controller {
namespace {

namespace json = boost::json;
using namespace engine;

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

json::object routeJson(const HeaderRouteSpec& r) {
  return json::object{{"header", r.header},
                      {"cookie", r.cookie},
                      {"match", static_cast<int>(r.match)},
                      {"value", r.value}};
}

json::object startJson(const StartVersion& a) {
  json::object o{{"service", a.service}, {"version", a.version}, {"artifact", a.artifact},
                 {"instances", a.instances}};
  if (a.colour) o["colour"] = static_cast<int>(*a.colour);
  return o;
}

json::object trafficJson(const SetTraffic& a) {
  json::array weights;
  for (const auto& w : a.weights) weights.push_back(json::object{{"version", w.version}, {"weight", w.weight}});
  json::array routes;
  for (const auto& r : a.routes) {
    json::object o = routeJson(r.route);
    o["version"] = r.version;
    routes.push_back(std::move(o));
  }
  return json::object{{"service", a.service}, {"weights", std::move(weights)}, {"routes", std::move(routes)}};
}

json::object retireJson(const RetireVersion& a) {
  return json::object{{"service", a.service}, {"version", a.version}, {"at", toUnixMillis(a.at)}};
}

json::object analysisJson(const StartAnalysis& a) {
  return json::object{{"run", a.run},
                      {"kind", static_cast<int>(a.kind)},
                      {"step", a.step},
                      {"version", a.version},
                      {"baseline", a.baseline},
                      {"templates", strings(a.templates)},
                      {"args", stringMap(a.args)},
                      {"intervalMs", a.interval.count()},
                      {"thresholds", stringMap(a.thresholds)}};
}

json::object checksJson(const RunChecks& a) {
  return json::object{{"run", a.run},     {"kind", static_cast<int>(a.kind)},
                      {"step", a.step},   {"version", a.version},
                      {"smoke", a.checks.smoke}, {"health", a.checks.health}};
}

// Lenient typed reads: the document is ours; a wrong type is reported once.
struct Reader {
  std::string error;
  void bad(std::string_view what) {
    if (error.empty()) error = std::string(what);
  }
  std::string str(const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    if (v == nullptr) return {};
    if (!v->is_string()) {
      bad(std::string(k) + " must be a string");
      return {};
    }
    return std::string(v->get_string());
  }
  std::int64_t i64(const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    if (v == nullptr) return 0;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
    bad(std::string(k) + " must be an integer");
    return 0;
  }
  int i32(const json::object& o, std::string_view k) { return static_cast<int>(i64(o, k)); }
  bool boolean(const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    if (v == nullptr) return false;
    if (!v->is_bool()) {
      bad(std::string(k) + " must be a boolean");
      return false;
    }
    return v->get_bool();
  }
  const json::array& arr(const json::object& o, std::string_view k) {
    static const json::array kEmpty;
    const auto* v = o.if_contains(k);
    if (v == nullptr || !v->is_array()) return kEmpty;
    return v->get_array();
  }
  const json::object& obj(const json::value& v) {
    static const json::object kEmpty;
    if (!v.is_object()) {
      bad("array items must be objects");
      return kEmpty;
    }
    return v.get_object();
  }
  std::vector<std::string> strs(const json::object& o, std::string_view k) {
    std::vector<std::string> out;
    for (const auto& v : arr(o, k)) {
      if (v.is_string()) out.emplace_back(v.get_string());
    }
    return out;
  }
  std::map<std::string, std::string> strMap(const json::object& o, std::string_view k) {
    std::map<std::string, std::string> out;
    const auto* v = o.if_contains(k);
    if (v == nullptr || !v->is_object()) return out;
    for (const auto& kv : v->get_object()) {
      if (kv.value().is_string()) out[std::string(kv.key())] = std::string(kv.value().get_string());
    }
    return out;
  }
};

HeaderRouteSpec readRoute(Reader& r, const json::object& o) {
  HeaderRouteSpec route;
  route.header = r.str(o, "header");
  route.cookie = r.str(o, "cookie");
  route.match = static_cast<config::HeaderRoute::Match>(r.i32(o, "match"));
  route.value = r.str(o, "value");
  return route;
}

}  // namespace

bool PersistedDeployment::live() const {
  return queued || !isTerminal(state.phase) || state.watching || !retirements.empty() ||
         !analyses.empty() || !checks.empty() || !hooks.empty();
}

std::string toJson(const PersistedDeployment& doc) {
  json::error_code ec;
  json::value state = json::parse(engine::stateToJson(doc.state), ec);
  json::array starts, traffic, retirements, analyses, checks;
  for (const auto& a : doc.starts) starts.push_back(startJson(a));
  for (const auto& a : doc.traffic) traffic.push_back(trafficJson(a));
  for (const auto& a : doc.retirements) retirements.push_back(retireJson(a));
  for (const auto& a : doc.analyses) analyses.push_back(analysisJson(a));
  for (const auto& a : doc.checks) checks.push_back(checksJson(a));
  json::object o{{"state", std::move(state)},
                 {"starts", std::move(starts)},
                 {"traffic", std::move(traffic)},
                 {"retirements", std::move(retirements)},
                 {"analyses", std::move(analyses)},
                 {"checks", std::move(checks)},
                 {"queued", doc.queued},
                 {"rollback", doc.rollback},
                 {"emergency", doc.emergency},
                 {"force", doc.force},
                 {"requestedBy", doc.requested_by},
                 {"reason", doc.reason}};
  if (doc.strategy) o["strategy"] = static_cast<int>(*doc.strategy);
  if (doc.commit_time) o["commitTime"] = toUnixMillis(*doc.commit_time);
  json::object latest;
  for (const auto& [key, m] : doc.latest) {
    latest[key] = json::object{{"value", m.value}, {"outcome", m.outcome}, {"at", toUnixMillis(m.at)}};
  }
  o["latest"] = std::move(latest);
  json::array hooks;
  for (const auto& h : doc.hooks) {
    hooks.push_back(json::object{{"point", config::toString(h.point)}, {"attempt", h.attempt}});
  }
  o["hooks"] = std::move(hooks);
  if (doc.checklist) {
    const auto& c = *doc.checklist;
    json::array items, waivers;
    for (const auto& i : c.items) items.push_back(json::object{{"name", i.name}, {"passed", i.passed}, {"reason", i.reason}});
    for (const auto& w : c.waivers) {
      waivers.push_back(json::object{{"item", w.item}, {"actor", w.actor}, {"role", w.role}, {"comment", w.comment},
                                     {"at", toUnixMillis(w.at)}});
    }
    o["checklist"] = json::object{{"status", toString(c.status)}, {"items", std::move(items)},
                                  {"waivers", std::move(waivers)}, {"runs", c.runs},
                                  {"judgedAt", toUnixMillis(c.judged_at)}};
  }
  if (!doc.spec_key.empty()) {
    o["spec"] = json::object{{"key", doc.spec_key}};
  } else if (doc.spec_sources && !doc.spec_sources->empty()) {
    json::array files;
    for (const auto& f : *doc.spec_sources) files.push_back(json::object{{"name", f.name}, {"text", f.text}});
    o["spec"] = json::object{{"files", std::move(files)}};
  }
  return json::serialize(o);
}

Result<PersistedDeployment> parsePersisted(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return fail(ErrorCode::InvalidArgument, "deployment document is not a JSON object");
  const json::object& o = v.get_object();
  const auto* state = o.if_contains("state");
  if (state == nullptr) return fail(ErrorCode::InvalidArgument, "deployment document has no state");
  PersistedDeployment doc;
  auto parsed = engine::stateFromJson(json::serialize(*state));
  if (!parsed) return fail(parsed.error());
  doc.state = std::move(*parsed);
  Reader r;
  for (const auto& item : r.arr(o, "starts")) {
    const auto& x = r.obj(item);
    StartVersion a;
    a.service = r.str(x, "service");
    a.version = r.str(x, "version");
    a.artifact = r.str(x, "artifact");
    a.instances = r.i32(x, "instances");
    if (x.contains("colour")) a.colour = static_cast<Colour>(r.i32(x, "colour"));
    doc.starts.push_back(std::move(a));
  }
  for (const auto& item : r.arr(o, "traffic")) {
    const auto& x = r.obj(item);
    SetTraffic a;
    a.service = r.str(x, "service");
    for (const auto& w : r.arr(x, "weights")) {
      const auto& wo = r.obj(w);
      a.weights.push_back(VersionWeight{r.str(wo, "version"), r.i32(wo, "weight")});
    }
    for (const auto& rt : r.arr(x, "routes")) {
      const auto& ro = r.obj(rt);
      a.routes.push_back(RouteRule{readRoute(r, ro), r.str(ro, "version")});
    }
    doc.traffic.push_back(std::move(a));
  }
  for (const auto& item : r.arr(o, "retirements")) {
    const auto& x = r.obj(item);
    doc.retirements.push_back(
        RetireVersion{r.str(x, "service"), r.str(x, "version"), fromUnixMillis(r.i64(x, "at"))});
  }
  for (const auto& item : r.arr(o, "analyses")) {
    const auto& x = r.obj(item);
    StartAnalysis a;
    a.run = static_cast<std::uint32_t>(r.i64(x, "run"));
    a.kind = static_cast<RunKind>(r.i32(x, "kind"));
    a.step = r.i32(x, "step");
    a.version = r.str(x, "version");
    a.baseline = r.str(x, "baseline");
    a.templates = r.strs(x, "templates");
    a.args = r.strMap(x, "args");
    a.interval = Duration{r.i64(x, "intervalMs")};
    a.thresholds = r.strMap(x, "thresholds");
    doc.analyses.push_back(std::move(a));
  }
  for (const auto& item : r.arr(o, "checks")) {
    const auto& x = r.obj(item);
    RunChecks a;
    a.run = static_cast<std::uint32_t>(r.i64(x, "run"));
    a.kind = static_cast<CheckKind>(r.i32(x, "kind"));
    a.step = r.i32(x, "step");
    a.version = r.str(x, "version");
    a.checks.smoke = r.str(x, "smoke");
    a.checks.health = r.str(x, "health");
    doc.checks.push_back(std::move(a));
  }
  doc.queued = r.boolean(o, "queued");
  doc.rollback = r.boolean(o, "rollback");
  doc.emergency = r.boolean(o, "emergency");
  doc.force = r.boolean(o, "force");
  doc.requested_by = r.str(o, "requestedBy");
  doc.reason = r.str(o, "reason");
  if (o.contains("strategy")) doc.strategy = static_cast<config::StrategyKind>(r.i32(o, "strategy"));
  if (o.contains("commitTime")) doc.commit_time = fromUnixMillis(r.i64(o, "commitTime"));
  if (const auto* latest = o.if_contains("latest"); latest != nullptr && latest->is_object()) {
    for (const auto& kv : latest->get_object()) {
      const auto& x = r.obj(kv.value());
      PersistedDeployment::Measured m;
      if (const auto* num = x.if_contains("value"); num != nullptr && num->is_number()) m.value = num->to_number<double>();
      m.outcome = r.str(x, "outcome");
      m.at = fromUnixMillis(r.i64(x, "at"));
      doc.latest[std::string(kv.key())] = std::move(m);
    }
  }
  if (o.contains("hooks")) {  // absent in documents written before hook intents were kept
    for (const auto& item : r.arr(o, "hooks")) {
      const auto& x = r.obj(item);
      const std::string point = r.str(x, "point");
      PersistedDeployment::HookIntent h;
      bool known = false;
      for (const auto p : {config::HookPoint::PreDeploy, config::HookPoint::PostDeploy,
                           config::HookPoint::PreRollback, config::HookPoint::PostRollback,
                           config::HookPoint::OnAbort}) {
        if (config::toString(p) == point) {
          h.point = p;
          known = true;
        }
      }
      if (!known) return fail(ErrorCode::InvalidArgument, "deployment document: unknown hook point " + point);
      h.attempt = r.i32(x, "attempt");
      doc.hooks.push_back(h);
    }
  }
  if (const auto* list = o.if_contains("checklist"); list != nullptr && list->is_object()) {
    const auto& x = list->get_object();
    ChecklistState c;
    const std::string status = r.str(x, "status");
    if (status == "judging") {
      c.status = ChecklistState::Status::Judging;
    } else if (status == "blocked") {
      c.status = ChecklistState::Status::Blocked;
    } else if (status == "passed") {
      c.status = ChecklistState::Status::Passed;
    } else {
      return fail(ErrorCode::InvalidArgument, "deployment document: unknown checklist status " + status);
    }
    for (const auto& item : r.arr(x, "items")) {
      const auto& i = r.obj(item);
      c.items.push_back(ChecklistItemResult{r.str(i, "name"), r.boolean(i, "passed"), r.str(i, "reason")});
    }
    for (const auto& item : r.arr(x, "waivers")) {
      const auto& w = r.obj(item);
      c.waivers.push_back(ChecklistState::Waiver{r.str(w, "item"), r.str(w, "actor"), r.str(w, "role"),
                                                 r.str(w, "comment"), fromUnixMillis(r.i64(w, "at"))});
    }
    c.runs = r.i32(x, "runs");
    c.judged_at = fromUnixMillis(r.i64(x, "judgedAt"));
    doc.checklist = std::move(c);
  }
  if (const auto* spec = o.if_contains("spec"); spec != nullptr && spec->is_object()) {
    // Either the snapshot's key in the store, or (documents written before) the files.
    if (spec->get_object().contains("key")) {
      doc.spec_key = r.str(spec->get_object(), "key");
    } else {
      std::vector<config::SourceFile> files;
      for (const auto& item : r.arr(spec->get_object(), "files")) {
        const auto& x = r.obj(item);
        files.push_back(config::SourceFile{r.str(x, "name"), r.str(x, "text")});
      }
      if (!files.empty()) doc.spec_sources = std::make_shared<const std::vector<config::SourceFile>>(std::move(files));
    }
  }
  if (!r.error.empty()) return fail(ErrorCode::InvalidArgument, "deployment document: " + r.error);
  return doc;
}

std::string_view toString(ChecklistState::Status status) {
  switch (status) {
    case ChecklistState::Status::Judging: return "judging";
    case ChecklistState::Status::Blocked: return "blocked";
    case ChecklistState::Status::Passed: return "passed";
  }
  return "judging";
}

const ChecklistState::Waiver* ChecklistState::waiverFor(std::string_view item) const {
  for (const auto& w : waivers) {
    if (w.item == item) return &w;
  }
  return nullptr;
}

std::vector<std::string> ChecklistState::unwaivedFailures() const {
  std::vector<std::string> out;
  for (const auto& i : items) {
    if (!i.passed && waiverFor(i.name) == nullptr) out.push_back(i.name);
  }
  return out;
}

std::string latestKey(std::uint32_t run, const std::string& service, const std::string& metric) {
  return service.empty() ? fmt::format("{}/{}", run, metric)
                         : fmt::format("{}/{}/{}", run, service, metric);
}

}  // namespace runway::controller
