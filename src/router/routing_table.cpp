#include "runway/router/routing_table.hpp"

#include <optional>
#include <set>
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "json_util.hpp"
#include "runway/core/ids.hpp"
#include "runway/core/pattern.hpp"

namespace runway::router {
namespace json = boost::json;
using json_util::invalid;

std::string_view toString(InstanceState state) {
  switch (state) {
    case InstanceState::Ready: return "ready";
    case InstanceState::Draining: return "draining";
    case InstanceState::NotReady: return "not_ready";
  }
  return "not_ready";
}

Result<InstanceState> parseInstanceState(std::string_view text) {
  if (text == "ready") return InstanceState::Ready;
  if (text == "draining") return InstanceState::Draining;
  if (text == "not_ready") return InstanceState::NotReady;
  return fail(ErrorCode::InvalidArgument,
              fmt::format("unknown instance state \"{}\" (ready, draining, not_ready)", text));
}

std::string_view toString(MatchSource source) {
  return source == MatchSource::Header ? "header" : "cookie";
}

std::string_view toString(MatchKind kind) {
  switch (kind) {
    case MatchKind::Exact: return "exact";
    case MatchKind::Prefix: return "prefix";
    case MatchKind::Regex: return "regex";
  }
  return "exact";
}

namespace {

bool isToken(std::string_view s) { return isHttpToken(s); }

bool isIpAddress(const std::string& s) {
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(s, ec);
  return !ec;
}

void validateListener(const Listener& l, const std::string& path, std::vector<std::string>& errs) {
  if (!isValidName(l.service)) errs.push_back(path + ".service: invalid name \"" + l.service + "\"");
  if (!isValidName(l.environment)) {
    errs.push_back(path + ".environment: invalid name \"" + l.environment + "\"");
  }
  if (!isIpAddress(l.bind_address)) {
    errs.push_back(path + ".bind_address: \"" + l.bind_address + "\" is not an IP address");
  }
  std::set<std::string> names;
  std::uint64_t sum = 0;
  bool any_ready = false;
  for (std::size_t i = 0; i < l.versions.size(); ++i) {
    const auto& v = l.versions[i];
    const std::string vp = fmt::format("{}.versions[{}]", path, i);
    if (v.name.empty() || v.name.size() > 128 || !isToken(v.name)) {
      errs.push_back(vp + ".name: invalid version name \"" + v.name + "\"");
    }
    if (!names.insert(v.name).second) errs.push_back(vp + ".name: duplicate version \"" + v.name + "\"");
    if (v.weight_permille > 1000) {
      errs.push_back(fmt::format("{}.weight_permille: {} is over 1000", vp, v.weight_permille));
    }
    sum += v.weight_permille;
    for (std::size_t j = 0; j < v.instances.size(); ++j) {
      const auto& in = v.instances[j];
      const std::string ip = fmt::format("{}.instances[{}]", vp, j);
      if (in.id.empty() || !isToken(in.id)) errs.push_back(ip + ".id: invalid instance id \"" + in.id + "\"");
      if (!isIpAddress(in.host)) errs.push_back(ip + ".host: \"" + in.host + "\" is not an IP address");
      if (in.port == 0) errs.push_back(ip + ".port: must be 1..65535");
      any_ready = any_ready || in.state == InstanceState::Ready;
    }
  }
  if (any_ready && sum != 1000) {
    errs.push_back(fmt::format("{}.versions: weights sum to {} per mille, expected 1000", path, sum));
  } else if (sum > 1000) {
    errs.push_back(fmt::format("{}.versions: weights sum to {} per mille, over 1000", path, sum));
  }
  for (std::size_t i = 0; i < l.rules.size(); ++i) {
    const auto& r = l.rules[i];
    const std::string rp = fmt::format("{}.rules[{}]", path, i);
    if (!isToken(r.name)) errs.push_back(rp + ".name: invalid header or cookie name \"" + r.name + "\"");
    if (names.count(r.version) == 0) errs.push_back(rp + ".version: no version \"" + r.version + "\"");
    if (r.kind == MatchKind::Regex) {
      if (auto compiled = Pattern::compile(r.value); !compiled) {
        errs.push_back(rp + ".value: " + compiled.error().message);
      }
    }
  }
  auto positive = [&](Duration d, std::string_view name) {
    if (d.count() <= 0) errs.push_back(fmt::format("{}.limits.{}: must be positive", path, name));
  };
  positive(l.limits.header_timeout, "header_timeout_ms");
  positive(l.limits.idle_timeout, "idle_timeout_ms");
  positive(l.limits.request_timeout, "request_timeout_ms");
  if (l.tls) {
    for (const auto& [file, name] : {std::pair{&l.tls->certificate_file, "certificate_file"},
                                     std::pair{&l.tls->key_file, "key_file"}}) {
      if (file->empty() || file->front() != '/') {
        errs.push_back(fmt::format("{}.tls.{}: \"{}\" is not an absolute path", path, name, *file));
      }
    }
  }
  if (l.sticky) {
    if (!isToken(l.sticky->cookie)) {
      errs.push_back(path + ".sticky.cookie: invalid cookie name \"" + l.sticky->cookie + "\"");
    }
    if (l.sticky->max_age.count() < 0) errs.push_back(path + ".sticky.max_age_ms: negative");
  }
}

}  // namespace

Result<void> validate(const RoutingTable& table) {
  std::vector<std::string> errs;
  const auto& s = table.settings;
  auto positive = [&](Duration d, std::string_view name) {
    if (d.count() <= 0) errs.push_back(fmt::format("settings.{}: must be positive", name));
  };
  positive(s.connect_timeout, "connect_timeout_ms");
  if (s.max_header_bytes < 1024) errs.push_back("settings.max_header_bytes: must be at least 1024");
  if (!s.access_log.path.empty()) {
    if (s.access_log.path.front() != '/') {
      errs.push_back("settings.access_log.path: \"" + s.access_log.path + "\" is not absolute");
    }
    if (s.access_log.max_bytes < 4096) {
      errs.push_back("settings.access_log.max_bytes: must be at least 4096");
    }
    if (s.access_log.keep < 1 || s.access_log.keep > 100) {
      errs.push_back("settings.access_log.keep: must be 1..100");
    }
  }
  std::optional<std::pair<std::string, std::uint16_t>> metrics;
  if (!s.metrics_address.empty()) {
    if (auto hp = parseHostPort(s.metrics_address)) {
      metrics = *hp;
    } else {
      errs.push_back("settings.metrics_address: " + hp.error().message);
    }
  }
  std::set<std::string> listener_names;
  std::set<std::pair<std::string, std::uint16_t>> addresses;
  std::set<std::string> instance_ids;
  for (std::size_t i = 0; i < table.listeners.size(); ++i) {
    const auto& l = table.listeners[i];
    const std::string path = fmt::format("listeners[{}]", i);
    validateListener(l, path, errs);
    if (!listener_names.insert(l.name()).second) {
      errs.push_back(path + ": duplicate listener \"" + l.name() + "\"");
    }
    if (metrics && metrics->second != 0 && l.port == metrics->second &&
        l.bind_address == metrics->first) {
      errs.push_back(fmt::format("{}: address {}:{} is the metrics address", path, l.bind_address,
                                 l.port));
    }
    if (l.port != 0 && !addresses.insert({l.bind_address, l.port}).second) {
      errs.push_back(fmt::format("{}: address {}:{} used twice", path, l.bind_address, l.port));
    }
    for (const auto& v : l.versions) {
      for (const auto& in : v.instances) {
        if (!in.id.empty() && !instance_ids.insert(in.id).second) {
          errs.push_back(path + ": duplicate instance id \"" + in.id + "\"");
        }
      }
    }
  }
  if (errs.empty()) return {};
  std::string msg = "invalid routing table: " + errs.front();
  for (std::size_t i = 1; i < errs.size(); ++i) msg += "; " + errs[i];
  return fail(ErrorCode::InvalidArgument, std::move(msg));
}

Result<std::pair<std::string, std::uint16_t>> parseHostPort(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("\"{}\" is not host:port (e.g. 127.0.0.1:9464)", text));
  }
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  bool digits = !port_text.empty() && port_text.size() <= 5;
  for (const char c : port_text) {
    if (c < '0' || c > '9') digits = false;
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (!digits || port > 65535) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("\"{}\": the port must be a number 0..65535", text));
  }
  if (!isIpAddress(host)) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("\"{}\": the host must be a numeric IP address", text));
  }
  return std::pair{host, static_cast<std::uint16_t>(port)};
}

std::string toJson(const RoutingTable& table) {
  json::object root;
  root["revision"] = table.revision;
  const auto& s = table.settings;
  root["settings"] = json::object{
      {"connect_timeout_ms", s.connect_timeout.count()},
      {"max_header_bytes", s.max_header_bytes},
      {"max_idle_upstream", s.max_idle_upstream},
      {"metrics_address", s.metrics_address},
      {"access_log", json::object{{"path", s.access_log.path},
                                  {"max_bytes", s.access_log.max_bytes},
                                  {"keep", s.access_log.keep}}},
  };
  json::array listeners;
  for (const auto& l : table.listeners) {
    json::object lo;
    lo["service"] = l.service;
    lo["environment"] = l.environment;
    lo["bind_address"] = l.bind_address;
    lo["port"] = l.port;
    lo["limits"] = json::object{{"header_timeout_ms", l.limits.header_timeout.count()},
                                {"idle_timeout_ms", l.limits.idle_timeout.count()},
                                {"request_timeout_ms", l.limits.request_timeout.count()},
                                {"max_body_bytes", l.limits.max_body_bytes}};
    if (l.tls) {
      lo["tls"] = json::object{{"certificate_file", l.tls->certificate_file},
                               {"key_file", l.tls->key_file}};
    }
    json::array versions;
    for (const auto& v : l.versions) {
      json::array instances;
      for (const auto& in : v.instances) {
        instances.push_back(json::object{{"id", in.id},
                                         {"host", in.host},
                                         {"port", in.port},
                                         {"state", toString(in.state)}});
      }
      versions.push_back(json::object{
          {"name", v.name}, {"weight_permille", v.weight_permille}, {"instances", instances}});
    }
    lo["versions"] = std::move(versions);
    json::array rules;
    for (const auto& r : l.rules) {
      rules.push_back(json::object{{"source", toString(r.source)},
                                   {"name", r.name},
                                   {"kind", toString(r.kind)},
                                   {"value", r.value},
                                   {"version", r.version}});
    }
    lo["rules"] = std::move(rules);
    if (l.sticky) {
      lo["sticky"] =
          json::object{{"cookie", l.sticky->cookie}, {"max_age_ms", l.sticky->max_age.count()}};
    }
    listeners.push_back(std::move(lo));
  }
  root["listeners"] = std::move(listeners);
  return json::serialize(root);
}

namespace {

using json_util::asArray;
using json_util::asObject;
using json_util::asString;
using json_util::asUnsigned;
using json_util::onlyKeys;

Result<Duration> durationMs(const json::value& v, const std::string& path) {
  RUNWAY_ROUTER_TRY(n, asUnsigned(v, path, 365ull * 24 * 3600 * 1000));
  return Duration{static_cast<Duration::rep>(n)};
}

Result<Instance> instanceFrom(const json::value& v, const std::string& path) {
  RUNWAY_ROUTER_TRY(o, asObject(v, path));
  if (auto r = onlyKeys(*o, path, {"id", "host", "port", "state"}); !r) return fail(r.error());
  Instance in;
  const auto* id = o->if_contains("id");
  if (id == nullptr) return invalid(path + ".id", "required");
  RUNWAY_ROUTER_TRY(ids, asString(*id, path + ".id"));
  in.id = std::move(ids);
  if (const auto* h = o->if_contains("host")) {
    RUNWAY_ROUTER_TRY(host, asString(*h, path + ".host"));
    in.host = std::move(host);
  }
  const auto* p = o->if_contains("port");
  if (p == nullptr) return invalid(path + ".port", "required");
  RUNWAY_ROUTER_TRY(port, asUnsigned(*p, path + ".port", 65535));
  in.port = static_cast<std::uint16_t>(port);
  if (const auto* st = o->if_contains("state")) {
    RUNWAY_ROUTER_TRY(sts, asString(*st, path + ".state"));
    auto state = parseInstanceState(sts);
    if (!state) return invalid(path + ".state", state.error().message);
    in.state = *state;
  }
  return in;
}

Result<Version> versionFrom(const json::value& v, const std::string& path) {
  RUNWAY_ROUTER_TRY(o, asObject(v, path));
  if (auto r = onlyKeys(*o, path, {"name", "weight_permille", "instances"}); !r) return fail(r.error());
  Version out;
  const auto* n = o->if_contains("name");
  if (n == nullptr) return invalid(path + ".name", "required");
  RUNWAY_ROUTER_TRY(name, asString(*n, path + ".name"));
  out.name = std::move(name);
  if (const auto* w = o->if_contains("weight_permille")) {
    RUNWAY_ROUTER_TRY(weight, asUnsigned(*w, path + ".weight_permille", 1000));
    out.weight_permille = static_cast<std::uint32_t>(weight);
  }
  if (const auto* is = o->if_contains("instances")) {
    RUNWAY_ROUTER_TRY(arr, asArray(*is, path + ".instances"));
    for (std::size_t i = 0; i < arr->size(); ++i) {
      RUNWAY_ROUTER_TRY(in, instanceFrom((*arr)[i], fmt::format("{}.instances[{}]", path, i)));
      out.instances.push_back(std::move(in));
    }
  }
  return out;
}

Result<MatchRule> ruleFrom(const json::value& v, const std::string& path) {
  RUNWAY_ROUTER_TRY(o, asObject(v, path));
  if (auto r = onlyKeys(*o, path, {"source", "name", "kind", "value", "version"}); !r) {
    return fail(r.error());
  }
  MatchRule rule;
  auto field = [&](const char* key) -> Result<std::string> {
    const auto* f = o->if_contains(key);
    if (f == nullptr) return invalid(path + "." + key, "required");
    return asString(*f, path + "." + key);
  };
  RUNWAY_ROUTER_TRY(source, field("source"));
  if (source == "header") {
    rule.source = MatchSource::Header;
  } else if (source == "cookie") {
    rule.source = MatchSource::Cookie;
  } else {
    return invalid(path + ".source", "expected \"header\" or \"cookie\"");
  }
  RUNWAY_ROUTER_TRY(name, field("name"));
  rule.name = std::move(name);
  RUNWAY_ROUTER_TRY(kind, field("kind"));
  if (kind == "exact") {
    rule.kind = MatchKind::Exact;
  } else if (kind == "prefix") {
    rule.kind = MatchKind::Prefix;
  } else if (kind == "regex") {
    rule.kind = MatchKind::Regex;
  } else {
    return invalid(path + ".kind", "expected \"exact\", \"prefix\" or \"regex\"");
  }
  RUNWAY_ROUTER_TRY(value, field("value"));
  rule.value = std::move(value);
  RUNWAY_ROUTER_TRY(version, field("version"));
  rule.version = std::move(version);
  return rule;
}

Result<ListenerLimits> limitsFrom(const json::value& v, const std::string& path,
                                  ListenerLimits limits) {
  RUNWAY_ROUTER_TRY(o, asObject(v, path));
  for (const auto& kv : *o) {
    const std::string key(kv.key());
    const std::string kp = path + "." + key;
    if (key == "header_timeout_ms" || key == "idle_timeout_ms" || key == "request_timeout_ms") {
      RUNWAY_ROUTER_TRY(d, durationMs(kv.value(), kp));
      if (key == "header_timeout_ms") limits.header_timeout = d;
      if (key == "idle_timeout_ms") limits.idle_timeout = d;
      if (key == "request_timeout_ms") limits.request_timeout = d;
    } else if (key == "max_body_bytes") {
      RUNWAY_ROUTER_TRY(n, asUnsigned(kv.value(), kp, UINT64_MAX));
      limits.max_body_bytes = n;
    } else {
      return invalid(path, fmt::format("unknown field \"{}\"", key));
    }
  }
  return limits;
}

Result<Listener> listenerFrom(const json::value& v, const std::string& path,
                              const ListenerLimits& default_limits) {
  RUNWAY_ROUTER_TRY(o, asObject(v, path));
  if (auto r = onlyKeys(*o, path, {"service", "environment", "bind_address", "port", "limits",
                                   "tls", "versions", "rules", "sticky"});
      !r) {
    return fail(r.error());
  }
  Listener l;
  for (auto [key, dest] : {std::pair{"service", &l.service}, std::pair{"environment", &l.environment}}) {
    const auto* f = o->if_contains(key);
    if (f == nullptr) return invalid(path + "." + key, "required");
    RUNWAY_ROUTER_TRY(s, asString(*f, path + "." + key));
    *dest = std::move(s);
  }
  if (const auto* b = o->if_contains("bind_address")) {
    RUNWAY_ROUTER_TRY(addr, asString(*b, path + ".bind_address"));
    l.bind_address = std::move(addr);
  }
  if (const auto* p = o->if_contains("port")) {
    RUNWAY_ROUTER_TRY(port, asUnsigned(*p, path + ".port", 65535));
    l.port = static_cast<std::uint16_t>(port);
  }
  l.limits = default_limits;
  if (const auto* lim = o->if_contains("limits")) {
    RUNWAY_ROUTER_TRY(limits, limitsFrom(*lim, path + ".limits", default_limits));
    l.limits = limits;
  }
  if (const auto* t = o->if_contains("tls"); t != nullptr && !t->is_null()) {
    const std::string tp = path + ".tls";
    RUNWAY_ROUTER_TRY(to, asObject(*t, tp));
    if (auto r = onlyKeys(*to, tp, {"certificate_file", "key_file"}); !r) return fail(r.error());
    ListenerTls tls;
    for (auto [key, dest] : {std::pair{"certificate_file", &tls.certificate_file},
                             std::pair{"key_file", &tls.key_file}}) {
      const auto* f = to->if_contains(key);
      if (f == nullptr) return invalid(tp + "." + key, "required");
      RUNWAY_ROUTER_TRY(file, asString(*f, tp + "." + key));
      *dest = std::move(file);
    }
    l.tls = std::move(tls);
  }
  if (const auto* vs = o->if_contains("versions")) {
    RUNWAY_ROUTER_TRY(arr, asArray(*vs, path + ".versions"));
    for (std::size_t i = 0; i < arr->size(); ++i) {
      RUNWAY_ROUTER_TRY(ver, versionFrom((*arr)[i], fmt::format("{}.versions[{}]", path, i)));
      l.versions.push_back(std::move(ver));
    }
  }
  if (const auto* rs = o->if_contains("rules")) {
    RUNWAY_ROUTER_TRY(arr, asArray(*rs, path + ".rules"));
    for (std::size_t i = 0; i < arr->size(); ++i) {
      RUNWAY_ROUTER_TRY(rule, ruleFrom((*arr)[i], fmt::format("{}.rules[{}]", path, i)));
      l.rules.push_back(std::move(rule));
    }
  }
  if (const auto* st = o->if_contains("sticky"); st != nullptr && !st->is_null()) {
    const std::string sp = path + ".sticky";
    RUNWAY_ROUTER_TRY(so, asObject(*st, sp));
    if (auto r = onlyKeys(*so, sp, {"cookie", "max_age_ms"}); !r) return fail(r.error());
    StickySession sticky;
    const auto* c = so->if_contains("cookie");
    if (c == nullptr) return invalid(sp + ".cookie", "required");
    RUNWAY_ROUTER_TRY(cookie, asString(*c, sp + ".cookie"));
    sticky.cookie = std::move(cookie);
    if (const auto* m = so->if_contains("max_age_ms")) {
      RUNWAY_ROUTER_TRY(age, durationMs(*m, sp + ".max_age_ms"));
      sticky.max_age = age;
    }
    l.sticky = std::move(sticky);
  }
  return l;
}

// The settings, and the listener limits of a table persisted before limits were per listener
// (its settings held them).
struct SettingsAndLegacyLimits {
  ProxySettings settings;
  ListenerLimits limits;
};

Result<SettingsAndLegacyLimits> settingsFrom(const json::value& v) {
  const std::string path = "settings";
  RUNWAY_ROUTER_TRY(o, asObject(v, path));
  SettingsAndLegacyLimits out;
  ProxySettings& s = out.settings;
  for (const auto& kv : *o) {
    const std::string key(kv.key());
    const std::string kp = path + "." + key;
    if (key == "header_timeout_ms" || key == "idle_timeout_ms" || key == "connect_timeout_ms" ||
        key == "response_timeout_ms") {
      RUNWAY_ROUTER_TRY(d, durationMs(kv.value(), kp));
      if (key == "header_timeout_ms") out.limits.header_timeout = d;
      if (key == "idle_timeout_ms") out.limits.idle_timeout = d;
      if (key == "connect_timeout_ms") s.connect_timeout = d;
      if (key == "response_timeout_ms") out.limits.request_timeout = d;
    } else if (key == "max_header_bytes") {
      RUNWAY_ROUTER_TRY(n, asUnsigned(kv.value(), kp, 1024 * 1024));
      s.max_header_bytes = static_cast<std::uint32_t>(n);
    } else if (key == "max_body_bytes") {
      RUNWAY_ROUTER_TRY(n, asUnsigned(kv.value(), kp, UINT64_MAX));
      out.limits.max_body_bytes = n;
    } else if (key == "max_idle_upstream") {
      RUNWAY_ROUTER_TRY(n, asUnsigned(kv.value(), kp, 100000));
      s.max_idle_upstream = static_cast<std::uint32_t>(n);
    } else if (key == "metrics_address") {
      RUNWAY_ROUTER_TRY(addr, asString(kv.value(), kp));
      s.metrics_address = std::move(addr);
    } else if (key == "access_log") {
      RUNWAY_ROUTER_TRY(ao, asObject(kv.value(), kp));
      if (auto r = onlyKeys(*ao, kp, {"path", "max_bytes", "keep"}); !r) return fail(r.error());
      if (const auto* p = ao->if_contains("path")) {
        RUNWAY_ROUTER_TRY(log_path, asString(*p, kp + ".path"));
        s.access_log.path = std::move(log_path);
      }
      if (const auto* m = ao->if_contains("max_bytes")) {
        RUNWAY_ROUTER_TRY(n, asUnsigned(*m, kp + ".max_bytes", UINT64_MAX));
        s.access_log.max_bytes = n;
      }
      if (const auto* k = ao->if_contains("keep")) {
        RUNWAY_ROUTER_TRY(n, asUnsigned(*k, kp + ".keep", 100));
        s.access_log.keep = static_cast<std::uint32_t>(n);
      }
    } else {
      return invalid(path, fmt::format("unknown field \"{}\"", key));
    }
  }
  return out;
}

}  // namespace

Result<RoutingTable> tableFromJson(std::string_view text) {
  RUNWAY_ROUTER_TRY(doc, json_util::parse(text));
  RUNWAY_ROUTER_TRY(o, asObject(doc, "table"));
  if (auto r = onlyKeys(*o, "table", {"revision", "settings", "listeners"}); !r) return fail(r.error());
  RoutingTable t;
  if (const auto* rev = o->if_contains("revision")) {
    RUNWAY_ROUTER_TRY(n, asUnsigned(*rev, "revision", UINT64_MAX));
    t.revision = n;
  }
  ListenerLimits legacy_limits;
  if (const auto* s = o->if_contains("settings")) {
    RUNWAY_ROUTER_TRY(settings, settingsFrom(*s));
    t.settings = settings.settings;
    legacy_limits = settings.limits;
  }
  if (const auto* ls = o->if_contains("listeners")) {
    RUNWAY_ROUTER_TRY(arr, asArray(*ls, "listeners"));
    for (std::size_t i = 0; i < arr->size(); ++i) {
      RUNWAY_ROUTER_TRY(l, listenerFrom((*arr)[i], fmt::format("listeners[{}]", i), legacy_limits));
      t.listeners.push_back(std::move(l));
    }
  }
  if (auto r = validate(t); !r) return fail(r.error());
  return t;
}

}  // namespace runway::router
