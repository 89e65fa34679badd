#pragma once

// The TrafficBackend of the embedded shape: the router process (`runway router`) driven over
// its admin socket. The conversions are exposed for tests.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runway/core/clock.hpp"
#include "runway/router/routing_table.hpp"
#include "runway/router/stats.hpp"
#include "runway/runtime/traffic.hpp"

namespace runway::runtime {

// The router's instance id of an endpoint: "<service>.<environment>.<version>.<index>".
std::string routerInstanceId(std::string_view environment, std::string_view service,
                             std::string_view version, int index);

// One listener per ServiceTraffic. Versions are those with a weight, a route or an endpoint;
// endpoints become Ready or Draining instances. A service whose split is still empty (no
// setTraffic yet) lists its instances NotReady: nothing is routed to it until a split is set.
router::RoutingTable toRoutingTable(const TrafficTable& table,
                                    const router::ProxySettings& settings = {});

// The per-version statistics of one listener ("service.environment") in a report.
std::vector<VersionStatistics> toVersionStatistics(const router::StatsReport& report,
                                                   std::string_view environment,
                                                   std::string_view service);

// A TrafficBackend over the router's admin socket (each call one request, `timeout` bound).
// Thread-safe. inFlight() looks the port up in the last table it pushed.
std::unique_ptr<TrafficBackend> routerTrafficBackend(std::string admin_socket,
                                                     Duration timeout = Duration{5'000},
                                                     router::ProxySettings settings = {});

}  // namespace runway::runtime
