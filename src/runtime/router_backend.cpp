#include "runway/runtime/router_backend.hpp"

#include <set>
#include <utility>

#include <fmt/format.h>


namespace runway::runtime {

std::string routerInstanceId(std::string_view environment, std::string_view service,
                             std::string_view version, int index) {
  return fmt::format("{}.{}.{}.{}", service, environment, version, index);
}

router::RoutingTable toRoutingTable(const TrafficTable& table,
                                    const router::ProxySettings& settings) {
  router::RoutingTable out;
  out.revision = table.generation;
  out.settings = settings;
  for (const auto& s : table.services) {
    router::Listener listener;
    listener.service = s.service;
    listener.environment = s.environment;
    listener.bind_address = s.listen_address;
    listener.port = static_cast<std::uint16_t>(s.listen_port);
    listener.limits = router::ListenerLimits{s.limits.header_timeout, s.limits.idle_timeout,
                                             s.limits.request_timeout, s.limits.max_request_body};
    if (s.tls) listener.tls = router::ListenerTls{s.tls->certificate_file, s.tls->key_file};
    std::set<std::string> names;
    for (const auto& [version, weight] : s.split.weights) names.insert(version);
    for (const auto& route : s.split.routes) names.insert(route.version);
    for (const auto& e : s.endpoints) names.insert(e.version);
    const bool split_set = !s.split.weights.empty();
    for (const auto& name : names) {
      router::Version version;
      version.name = name;
      const auto w = s.split.weights.find(name);
      version.weight_permille = w == s.split.weights.end() ? 0u : static_cast<std::uint32_t>(w->second);
      for (const auto& e : s.endpoints) {
        if (e.version != name) continue;
        router::Instance instance;
        instance.id = routerInstanceId(s.environment, s.service, e.version, e.index);
        instance.host = e.address;
        instance.port = static_cast<std::uint16_t>(e.port);
        instance.state = e.draining     ? router::InstanceState::Draining
                         : split_set    ? router::InstanceState::Ready
                                        : router::InstanceState::NotReady;
        version.instances.push_back(std::move(instance));
      }
      listener.versions.push_back(std::move(version));
    }
    for (const auto& route : s.split.routes) {
      router::MatchRule rule;
      rule.source = route.header.empty() ? router::MatchSource::Cookie : router::MatchSource::Header;
      rule.name = route.header.empty() ? route.cookie : route.header;
      switch (route.match) {
        case TrafficRoute::Match::Exact: rule.kind = router::MatchKind::Exact; break;
        case TrafficRoute::Match::Prefix: rule.kind = router::MatchKind::Prefix; break;
        case TrafficRoute::Match::Regex: rule.kind = router::MatchKind::Regex; break;
      }
      rule.value = route.value;
      rule.version = route.version;
      listener.rules.push_back(std::move(rule));
    }
    if (!s.split.sticky_cookie.empty()) {
      listener.sticky = router::StickySession{s.split.sticky_cookie, s.split.sticky_max_age};
    }
    out.listeners.push_back(std::move(listener));
  }
  return out;
}

std::vector<VersionStatistics> toVersionStatistics(const router::StatsReport& report,
                                                   std::string_view environment,
                                                   std::string_view service) {
  const std::string listener = fmt::format("{}.{}", service, environment);
  std::vector<VersionStatistics> out;
  for (const auto& v : report.versions) {
    if (v.listener != listener) continue;
    VersionStatistics s;
    s.version = v.version;
    s.requests = v.total.requests;
    s.responses_2xx = v.total.by_class[2];
    s.responses_3xx = v.total.by_class[3];
    s.responses_4xx = v.total.by_class[4];
    s.responses_5xx = v.total.by_class[5];
    s.upstream_errors = v.total.upstream_errors;
    s.in_flight = v.total.in_flight;
    s.latency_p50_ms = v.total.latency.p50_ms;
    s.latency_p95_ms = v.total.latency.p95_ms;
    s.latency_p99_ms = v.total.latency.p99_ms;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace runway::runtime
