#pragma once

// The optional TCP listener Prometheus scrapes (ProxySettings::metrics_address): GET /metrics
// answers the router's Prometheus text (the admin socket's GET /metrics); any other path is
// 404, any other method 405. One request per connection (Connection: close), read and written
// within 5 seconds, a 8 KiB header limit and no body: a scraper needs nothing more, and a
// stuck or hostile client costs one coroutine for 5 seconds at most.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "runway/core/error.hpp"

namespace runway::router {

class MetricsListener {
 public:
  using Render = std::function<std::string()>;

  // Binds host:port (port 0 = any free one) and serves on `ioc` (a worker's loop). Errors:
  // Conflict (cannot bind or listen).
  static Result<std::unique_ptr<MetricsListener>> start(boost::asio::io_context& ioc,
                                                        const std::string& host,
                                                        std::uint16_t port, Render render);
  virtual ~MetricsListener() = default;
  virtual std::uint16_t port() const = 0;
  // Stops accepting (posted to the listener's loop); connections being answered finish.
  virtual void close() = 0;
};

}  // namespace runway::router
