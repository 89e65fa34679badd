#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <tl/expected.hpp>

#include "knobs.hpp"

namespace runway::demo {

// The demo HTTP/1.1 service: routes, injected faults, metrics and graceful shutdown.
//
// Threading: all connections run on one io_context driven by Knobs::threads threads; each
// connection is a coroutine on its own strand. Shared state (metrics, random source, request
// counter) is thread-safe.
class Server {
 public:
  virtual ~Server() = default;

  // The bound endpoint as "127.0.0.1:PORT" (or "[::1]:PORT").
  virtual std::string endpoint() const = 0;

  // Starts accepting and installs the SIGTERM/SIGINT handler, then drives the io_context on
  // the configured number of threads until shutdown completes. On a signal it stops accepting,
  // closes idle keep-alive connections, lets in-flight requests finish (bounded by
  // Knobs::drain_timeout) and returns.
  virtual void run() = 0;
};

// Binds the listening socket. Returns a message when the address cannot be bound.
tl::expected<std::unique_ptr<Server>, std::string> makeServer(Knobs knobs);

}  // namespace runway::demo
