#pragma once

// The embedded L7 router (`runway router`): an HTTP/1.1 reverse proxy serving one listener per
// service × environment of its routing table, driven over an admin socket. Also usable
// in-process (tests, benchmarks).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/router/routing_table.hpp"
#include "runway/router/stats.hpp"

namespace runway::router {

struct RouterOptions {
  // Unix socket path of the admin API (HTTP/JSON); empty = no admin socket.
  std::string admin_socket;
  // Directory holding table.json, the last table applied; loaded on start. Empty = none.
  std::string state_dir;
  // Worker threads, each with its own event loop and SO_REUSEPORT acceptors. 0 = one per core.
  unsigned threads = 1;
  // Clock for the statistics windows; null = system clock.
  std::shared_ptr<Clock> clock;
};

class Router {
 public:
  virtual ~Router() = default;

  // Starts the workers and the admin socket, then serves the persisted table if there is one.
  // Errors: InvalidArgument (persisted table unreadable), Conflict (admin socket in use by a
  // live router, or a listener address taken), Unavailable (cannot create the socket).
  static Result<std::unique_ptr<Router>> start(RouterOptions options);

  // Validates, binds new listeners, persists, then swaps the table atomically: requests that
  // already started finish on the table they started with. Thread-safe. Errors: InvalidArgument,
  // Conflict (address in use), Internal (cannot persist).
  virtual Result<void> setTable(const RoutingTable& table) = 0;
  virtual RoutingTable table() const = 0;
  // Marks the instance Draining (persisted). NotFound for an unknown id.
  virtual Result<void> drain(std::string_view instance_id) = 0;
  // Statistics over the last `window` (1 s .. 15 min). Thread-safe.
  virtual StatsReport stats(Duration window) const = 0;
  // Prometheus text exposition 0.0.4.
  virtual std::string metrics() const = 0;
  // The port a listener ("service.environment") is bound to, if it exists.
  virtual std::optional<std::uint16_t> boundPort(std::string_view listener) const = 0;
  // The port of the metrics listener (ProxySettings::metrics_address), if there is one.
  virtual std::optional<std::uint16_t> boundMetricsPort() const = 0;
  // Loads every TLS listener's certificate and key again now (SIGHUP), as the router also does
  // by itself within a second of either file changing; a pair that fails keeps the one in use
  // (logged). Thread-safe.
  virtual void reloadTls() = 0;
  // Stops accepting new connections on every listener (graceful shutdown, first step).
  virtual void stopAccepting() = 0;
  // Requests being proxied now, over all workers.
  virtual std::int64_t activeRequests() const = 0;
};

}  // namespace runway::router
