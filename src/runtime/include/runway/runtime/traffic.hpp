#pragma once

// The seam between the supervisor and the data plane: LocalRuntime computes the whole routing
// table (every service it runs, with its ready instances and split) and hands it to a
// TrafficBackend, which in production is the router's admin socket.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/runtime/runtime.hpp"

namespace runway::runtime {

// One routable instance of a version.
struct TrafficEndpoint {
  std::string version;
  int index = 0;
  std::string address = "127.0.0.1";
  int port = 0;
  // Being stopped: serves the requests it has, takes no new ones.
  bool draining = false;

  friend bool operator==(const TrafficEndpoint&, const TrafficEndpoint&) = default;
};

// The routing of one service in one environment.
struct ServiceTraffic {
  std::string environment;
  std::string service;
  std::string listen_address = "127.0.0.1";
  int listen_port = 0;  // the router's listener for this service
  ListenerLimits limits;
  std::optional<ListenerTlsFiles> tls;  // nullopt = plain HTTP
  TrafficSplit split;
  // Ready instances, and draining ones while they are being stopped; sorted by version, index.
  std::vector<TrafficEndpoint> endpoints;

  friend bool operator==(const ServiceTraffic&, const ServiceTraffic&) = default;
};

// Everything the router should serve. `generation` increases with every change.
struct TrafficTable {
  std::uint64_t generation = 0;
  std::vector<ServiceTraffic> services;  // sorted by environment, service

  friend bool operator==(const TrafficTable&, const TrafficTable&) = default;
};

class TrafficBackend {
 public:
  virtual ~TrafficBackend() = default;

  // Replaces the whole table atomically. Returns once the data plane uses it.
  // Errors: Unavailable (data plane unreachable), InvalidArgument (table rejected).
  virtual Result<void> setTable(const TrafficTable& table) = 0;

  // Per-version statistics of one service over the last `window`.
  virtual Result<std::vector<VersionStatistics>> statistics(std::string_view environment,
                                                            std::string_view service,
                                                            Duration window) = 0;

  // Requests in flight to one instance (by its port), used to end a drain early.
  virtual Result<std::int64_t> inFlight(std::string_view environment, std::string_view service,
                                        int port) = 0;
};

}  // namespace runway::runtime
