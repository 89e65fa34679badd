#pragma once

// Client for the router's admin socket (HTTP/1.1 + JSON over a Unix socket), used by the
// controller and by tests. Each call opens a connection, sends one request and waits for the
// answer or the timeout. Thread-compatible: one AdminClient per thread, or external locking.

#include <string>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/router/routing_table.hpp"
#include "runway/router/stats.hpp"

namespace runway::router {

class AdminClient {
 public:
  explicit AdminClient(std::string socket_path, Duration timeout = Duration{5'000});

  // PUT /table. The router validates, binds new listeners, swaps and persists; on success the
  // table serves every request that starts after the call returns. Errors: InvalidArgument
  // (validation), Conflict (a listener address cannot be bound), Unavailable (no router on the
  // socket), Timeout.
  Result<void> putTable(const RoutingTable& table);
  // GET /table: the table the router serves now.
  Result<RoutingTable> table();
  // GET /stats?window=...: statistics over the last `window` (1s..15m).
  Result<StatsReport> stats(Duration window);
  // GET /metrics: Prometheus text exposition 0.0.4.
  Result<std::string> metrics();
  // POST /drain {"instance": id}: marks the instance Draining in the served (and persisted)
  // table. NotFound if no instance has that id.
  Result<void> drain(const std::string& instance_id);

  const std::string& socketPath() const { return socket_path_; }

 private:
  struct Response {
    int status = 0;
    std::string body;
  };
  Result<Response> call(const std::string& method, const std::string& target,
                        const std::string& body);

  std::string socket_path_;
  Duration timeout_;
};

}  // namespace runway::router
