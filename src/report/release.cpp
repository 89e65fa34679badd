#include "runway/report/release.hpp"

#include <map>
#include <tuple>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/checks/perf.hpp"
#include "runway/report/history.hpp"
#include "runway/report/snapshots.hpp"

namespace runway::report {
namespace {

namespace json = boost::json;

json::object parseObject(const std::string& text) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.get_object());
}

double number(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_number() ? v->to_number<double>() : 0.0;
}

std::string field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

const config::MetricSpec* findMetric(const config::Config* cfg, const std::string& name) {
  if (cfg == nullptr) return nullptr;
  for (const auto& t : cfg->templates) {
    for (const auto& m : t.metrics) {
      if (m.name == name) return &m;
    }
  }
  return nullptr;
}

checks::LoadResult loadOf(const json::object& s, double window_s) {
  checks::LoadResult r;
  r.requests = static_cast<std::uint64_t>(number(s, "requests"));
  r.failed = static_cast<std::uint64_t>(number(s, "errors"));
  r.ok = r.requests - std::min(r.requests, r.failed);
  r.elapsed_s = window_s;
  r.rate = number(s, "throughput");
  r.throughput = number(s, "throughput");
  r.error_rate = r.requests > 0 ? static_cast<double>(r.failed) / static_cast<double>(r.requests) : 0;
  r.p50_ms = number(s, "p50Ms");
  r.p95_ms = number(s, "p95Ms");
  r.p99_ms = number(s, "p99Ms");
  return r;
}

json::object sideJson(const checks::LoadResult& r) {
  return json::object{{"requests", r.requests}, {"errors", r.failed},  {"errorRate", r.error_rate},
                      {"throughput", r.throughput}, {"p50Ms", r.p50_ms}, {"p95Ms", r.p95_ms},
                      {"p99Ms", r.p99_ms}};
}

json::value relative(double before, double after) {
  if (before <= 0) return nullptr;
  return after / before - 1.0;
}

// The before/after comparison from the two snapshots.
json::object comparison(const DeploymentHistory& h, const config::PerformanceSpec& spec, TimePoint now) {
  std::optional<json::object> before, after;
  for (const auto& e : h.events) {
    if (e.kind != kTrafficSnapshotKind) continue;
    auto data = parseObject(e.data_json);
    if (field(data, "when") == "before" && !before) before = std::move(data);
    else if (field(data, "when") == "after" && !after) after = std::move(data);
  }
  json::object out{{"tolerances", json::object{{"p95", spec.p95_tolerance},
                                               {"p99", spec.p99_tolerance},
                                               {"latencyNoiseMs", spec.latency_noise.count()},
                                               {"maxErrorRate", spec.max_error_rate}}}};
  out["before"] = before ? json::value(json::object{{"from", (*before)["from"]}, {"to", (*before)["to"]}})
                         : json::value(nullptr);
  out["after"] = after ? json::value(json::object{{"from", (*after)["from"]}, {"to", (*after)["to"]}})
                       : json::value(nullptr);
  out["windowSeconds"] = before ? number(*before, "windowMs") / 1000.0 : 0.0;
  json::array services;
  if (!before && now - h.created_at <= kSnapshotSlack + std::chrono::seconds(1)) {
    out["verdict"] = "pending";
    out["why"] = "the window before the deployment is being recorded";
    out["services"] = std::move(services);
    return out;
  }
  if (!before) {
    out["verdict"] = "unavailable";
    out["why"] = "no traffic snapshot was taken before the deployment started";
    out["services"] = std::move(services);
    return out;
  }
  std::optional<TimePoint> ended;
  for (const char* phase : {"Succeeded", "RolledBack", "Superseded"}) {
    if (h.phase == phase) ended = h.entered(phase).value_or(h.updated_at);
  }
  const Duration window{static_cast<Duration::rep>(number(*before, "windowMs"))};
  if (!after && ended && now > *ended + window + kSnapshotSlack + std::chrono::seconds(1)) {
    out["verdict"] = "unavailable";
    out["why"] = "the window after the deployment was not recorded (the server was not running when it ended)";
    out["services"] = std::move(services);
    return out;
  }
  if (!after) {
    out["verdict"] = "pending";
    out["why"] = "the window after the deployment ended has not passed yet (or it has not ended)";
    out["services"] = std::move(services);
    return out;
  }
  const double window_s = number(*before, "windowMs") / 1000.0;
  std::map<std::string, json::object> after_by_service;
  if (const auto* list = after->if_contains("services"); list != nullptr && list->is_array()) {
    for (const auto& s : list->get_array()) {
      if (s.is_object()) after_by_service[field(s.get_object(), "service")] = s.get_object();
    }
  }
  bool any_judged = false;
  bool any_failed = false;
  if (const auto* list = before->if_contains("services"); list != nullptr && list->is_array()) {
    for (const auto& sv : list->get_array()) {
      if (!sv.is_object()) continue;
      const auto& b = sv.get_object();
      const std::string name = field(b, "service");
      json::object so{{"service", name}};
      auto a = after_by_service.find(name);
      const bool available = b.contains("available") && b.at("available") == true && a != after_by_service.end() &&
                             a->second.contains("available") && a->second.at("available") == true;
      if (!available) {
        so["verdict"] = "unavailable";
        so["why"] = "the router's statistics could not be read for one of the windows";
        services.push_back(std::move(so));
        continue;
      }
      const auto lb = loadOf(b, window_s);
      const auto la = loadOf(a->second, window_s);
      so["before"] = sideJson(lb);
      so["after"] = sideJson(la);
      so["delta"] = json::object{{"p50Ms", la.p50_ms - lb.p50_ms},
                                 {"p95Ms", la.p95_ms - lb.p95_ms},
                                 {"p99Ms", la.p99_ms - lb.p99_ms},
                                 {"p95Relative", relative(lb.p95_ms, la.p95_ms)},
                                 {"errorRate", la.error_rate - lb.error_rate},
                                 {"throughputRelative", relative(lb.throughput, la.throughput)}};
      if (lb.requests == 0 || la.requests == 0) {
        so["verdict"] = "insufficient data";
        so["why"] = "no requests in one of the windows";
        services.push_back(std::move(so));
        continue;
      }
      // The perf check's own comparison: the after window judged against the before window as
      // its baseline. Throughput of real traffic follows the users, not the release: shown, not
      // judged.
      const auto judged = checks::comparePerformance(la, lb, spec);
      json::array items;
      bool failed = false;
      for (const auto& item : judged.items) {
        if (item.name == "load") continue;
        std::string status(checks::toString(item.status));
        if (item.name == "throughput") status = "info";
        if (status == "failed") failed = true;
        items.push_back(json::object{{"name", item.name}, {"status", status}, {"detail", item.reason}});
      }
      so["checks"] = std::move(items);
      so["verdict"] = failed ? "failed" : "passed";
      any_judged = true;
      any_failed = any_failed || failed;
      services.push_back(std::move(so));
    }
  }
  out["services"] = std::move(services);
  out["verdict"] = any_failed ? "failed" : any_judged ? "passed" : "insufficient data";
  return out;
}

}  // namespace

Result<json::value> releaseReport(store::Store& store, const std::string& id, const config::Config* cfg,
                                 TimePoint now) {
  auto loaded = loadDeployment(store, id);
  if (!loaded) return fail(loaded.error());
  const auto& h = *loaded;
  auto approvals = store.listApprovals(id);
  if (!approvals) return fail(approvals.error());

  json::array timeline;
  std::map<std::tuple<std::int64_t, std::string, std::string>, json::array> measured;
  for (const auto& e : h.events) {
    auto data = parseObject(e.data_json);
    if (e.kind == "analysis.measured") {
      if (!data.contains("metric")) continue;  // written before measurements were recorded
      const auto key = std::make_tuple(static_cast<std::int64_t>(number(data, "run")), field(data, "metric"),
                                       field(data, "service"));
      const auto* v = data.if_contains("value");
      measured[key].push_back(json::object{{"at", formatTimestamp(e.at)},
                                           {"value", v != nullptr ? *v : json::value(nullptr)},
                                           {"outcome", field(data, "outcome")}});
      continue;
    }
    if (e.kind == "runtime.report" || e.kind == kTrafficSnapshotKind) continue;
    json::object item{{"at", formatTimestamp(e.at)}, {"kind", e.kind}, {"actor", e.actor}, {"reason", e.reason}};
    const std::string from = field(data, "from");
    const std::string to = field(data, "to");
    if (!from.empty() && from != to) {
      item["from"] = from;
      item["to"] = to;
    }
    if (const auto* step = data.if_contains("step")) item["step"] = *step;
    timeline.push_back(std::move(item));
  }
  json::array analysis;
  for (auto& [key, list] : measured) {
    const auto& [run, metric, service] = key;
    const auto* spec = findMetric(cfg, metric);
    analysis.push_back(json::object{{"run", run},
                                    {"metric", metric},
                                    {"service", service},
                                    {"failureCondition", spec != nullptr ? spec->failure_condition : ""},
                                    {"successCondition", spec != nullptr ? spec->success_condition : ""},
                                    {"measurements", std::move(list)}});
  }
  json::array approval_list;
  for (const auto& a : *approvals) {
    approval_list.push_back(json::object{{"actor", a.actor},
                                         {"role", a.role},
                                         {"decision", a.approved ? "approved" : "rejected"},
                                         {"comment", a.comment},
                                         {"at", formatTimestamp(a.at)}});
  }
  config::PerformanceSpec perf;
  if (cfg != nullptr) {
    if (const auto* env = cfg->findEnvironment(h.environment)) perf = env->performance;
  }
  std::optional<TimePoint> ended;
  for (const char* phase : {"Succeeded", "RolledBack", "Superseded", "Failed", "Rejected"}) {
    if (h.phase == phase) ended = h.entered(phase).value_or(h.updated_at);
  }
  return json::object{{"report", "deployment"},
                      {"id", h.id},
                      {"environment", h.environment},
                      {"application", h.application},
                      {"version", h.version},
                      {"phase", h.phase},
                      {"rollback", h.rollback},
                      {"requestedBy", h.requested_by},
                      {"reason", h.reason},
                      {"abortReason", h.abort_reason},
                      {"createdAt", formatTimestamp(h.created_at)},
                      {"endedAt", ended ? json::value(formatTimestamp(*ended)) : json::value(nullptr)},
                      {"timeline", std::move(timeline)},
                      {"approvals", std::move(approval_list)},
                      {"analysis", std::move(analysis)},
                      {"comparison", comparison(h, perf, now)}};
}

}  // namespace runway::report
