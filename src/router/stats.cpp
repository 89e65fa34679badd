#include "runway/router/stats.hpp"

#include <algorithm>
#include <charconv>

#include <boost/json.hpp>

#include "json_util.hpp"

namespace runway::router {
namespace json = boost::json;
using json_util::invalid;

double TrafficCounts::errorRate() const {
  if (requests == 0) return 0.0;
  return static_cast<double>(by_class[5]) / static_cast<double>(requests);
}

const VersionStats* StatsReport::find(std::string_view listener, std::string_view version) const {
  for (const auto& v : versions) {
    if (v.listener == listener && v.version == version) return &v;
  }
  return nullptr;
}

namespace {

json::object countsToJson(const TrafficCounts& c, bool with_latency) {
  json::object o;
  o["requests"] = c.requests;
  json::object classes;
  for (std::size_t i = 1; i < c.by_class.size(); ++i) {
    classes[std::to_string(i) + "xx"] = c.by_class[i];
  }
  classes["none"] = c.by_class[0];
  o["by_class"] = std::move(classes);
  json::object codes;
  for (const auto& [code, n] : c.by_code) codes[std::to_string(code)] = n;
  o["by_code"] = std::move(codes);
  o["upstream_errors"] = c.upstream_errors;
  o["router_errors"] = c.router_errors;
  o["in_flight"] = c.in_flight;
  if (!with_latency) {
    o["open_connections"] = c.open_connections;
    o["state"] = c.state;
  }
  if (with_latency) {
    o["latency_ms"] = json::object{{"p50", c.latency.p50_ms},   {"p95", c.latency.p95_ms},
                                   {"p99", c.latency.p99_ms},   {"mean", c.latency.mean_ms},
                                   {"max", c.latency.max_ms}};
  }
  return o;
}

Result<TrafficCounts> countsFromJson(const json::value& v, const std::string& path) {
  using namespace json_util;
  RUNWAY_ROUTER_TRY(o, asObject(v, path));
  TrafficCounts c;
  auto num = [&](const char* key) -> Result<std::uint64_t> {
    const auto* f = o->if_contains(key);
    if (f == nullptr) return std::uint64_t{0};
    return asUnsigned(*f, path + "." + key, UINT64_MAX);
  };
  RUNWAY_ROUTER_TRY(requests, num("requests"));
  c.requests = requests;
  RUNWAY_ROUTER_TRY(upstream_errors, num("upstream_errors"));
  c.upstream_errors = upstream_errors;
  RUNWAY_ROUTER_TRY(router_errors, num("router_errors"));
  c.router_errors = router_errors;
  if (const auto* f = o->if_contains("in_flight")) {
    RUNWAY_ROUTER_TRY(inf, asInt(*f, path + ".in_flight"));
    c.in_flight = inf;
  }
  if (const auto* f = o->if_contains("open_connections")) {
    RUNWAY_ROUTER_TRY(open, asInt(*f, path + ".open_connections"));
    c.open_connections = open;
  }
  if (const auto* f = o->if_contains("state")) {
    RUNWAY_ROUTER_TRY(state, asString(*f, path + ".state"));
    c.state = std::move(state);
  }
  if (const auto* f = o->if_contains("by_class")) {
    RUNWAY_ROUTER_TRY(classes, asObject(*f, path + ".by_class"));
    for (const auto& kv : *classes) {
      const std::string key(kv.key());
      RUNWAY_ROUTER_TRY(n, asUnsigned(kv.value(), path + ".by_class." + key, UINT64_MAX));
      if (key == "none") {
        c.by_class[0] = n;
      } else if (key.size() == 3 && key[0] >= '1' && key[0] <= '5' && key.substr(1) == "xx") {
        c.by_class[static_cast<std::size_t>(key[0] - '0')] = n;
      } else {
        return invalid(path + ".by_class", "unknown class \"" + key + "\"");
      }
    }
  }
  if (const auto* f = o->if_contains("by_code")) {
    RUNWAY_ROUTER_TRY(codes, asObject(*f, path + ".by_code"));
    for (const auto& kv : *codes) {
      const std::string_view key(kv.key());
      int code = 0;
      auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), code);
      if (ec != std::errc() || p != key.data() + key.size()) {
        return invalid(path + ".by_code", "invalid status code \"" + std::string(key) + "\"");
      }
      RUNWAY_ROUTER_TRY(n, asUnsigned(kv.value(), path + ".by_code", UINT64_MAX));
      c.by_code[code] = n;
    }
  }
  if (const auto* f = o->if_contains("latency_ms")) {
    RUNWAY_ROUTER_TRY(lat, asObject(*f, path + ".latency_ms"));
    auto d = [&](const char* key, double& out) -> Result<void> {
      if (const auto* x = lat->if_contains(key)) {
        RUNWAY_ROUTER_TRY(val, asDouble(*x, path + ".latency_ms." + key));
        out = val;
      }
      return {};
    };
    for (auto [k, dst] : {std::pair{"p50", &c.latency.p50_ms}, std::pair{"p95", &c.latency.p95_ms},
                          std::pair{"p99", &c.latency.p99_ms}, std::pair{"mean", &c.latency.mean_ms},
                          std::pair{"max", &c.latency.max_ms}}) {
      if (auto r = d(k, *dst); !r) return fail(r.error());
    }
  }
  return c;
}

}  // namespace

std::string toJson(const StatsReport& report) {
  json::object root;
  root["window_ms"] = report.window.count();
  root["at_ms"] = toUnixMillis(report.at);
  root["at"] = formatTimestamp(report.at);
  json::array versions;
  for (const auto& v : report.versions) {
    json::object vo;
    vo["listener"] = v.listener;
    vo["version"] = v.version;
    vo["total"] = countsToJson(v.total, true);
    json::object instances;
    for (const auto& [id, c] : v.instances) instances[id] = countsToJson(c, false);
    vo["instances"] = std::move(instances);
    versions.push_back(std::move(vo));
  }
  root["versions"] = std::move(versions);
  return json::serialize(root);
}

Result<StatsReport> statsFromJson(std::string_view text) {
  using namespace json_util;
  RUNWAY_ROUTER_TRY(doc, parse(text));
  RUNWAY_ROUTER_TRY(o, asObject(doc, "stats"));
  StatsReport r;
  if (const auto* w = o->if_contains("window_ms")) {
    RUNWAY_ROUTER_TRY(ms, asInt(*w, "window_ms"));
    r.window = Duration{ms};
  }
  if (const auto* a = o->if_contains("at_ms")) {
    RUNWAY_ROUTER_TRY(ms, asInt(*a, "at_ms"));
    r.at = fromUnixMillis(ms);
  }
  if (const auto* vs = o->if_contains("versions")) {
    RUNWAY_ROUTER_TRY(arr, asArray(*vs, "versions"));
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string path = "versions[" + std::to_string(i) + "]";
      RUNWAY_ROUTER_TRY(vo, asObject((*arr)[i], path));
      VersionStats v;
      const auto* l = vo->if_contains("listener");
      const auto* n = vo->if_contains("version");
      if (l == nullptr || n == nullptr) return invalid(path, "listener and version are required");
      RUNWAY_ROUTER_TRY(ls, asString(*l, path + ".listener"));
      RUNWAY_ROUTER_TRY(ns, asString(*n, path + ".version"));
      v.listener = std::move(ls);
      v.version = std::move(ns);
      if (const auto* t = vo->if_contains("total")) {
        RUNWAY_ROUTER_TRY(total, countsFromJson(*t, path + ".total"));
        v.total = std::move(total);
      }
      if (const auto* is = vo->if_contains("instances")) {
        RUNWAY_ROUTER_TRY(io, asObject(*is, path + ".instances"));
        for (const auto& kv : *io) {
          RUNWAY_ROUTER_TRY(c, countsFromJson(kv.value(), path + ".instances"));
          v.instances[std::string(kv.key())] = std::move(c);
        }
      }
      r.versions.push_back(std::move(v));
    }
  }
  return r;
}

}  // namespace runway::router
