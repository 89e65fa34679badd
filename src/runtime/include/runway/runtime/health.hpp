#pragma once

// Readiness probing behind an interface: the supervisor asks, the prober answers later through
// a callback, so a slow or hanging instance never blocks the supervisor.

#include <functional>
#include <memory>
#include <string>

#include "runway/core/clock.hpp"

namespace runway::runtime {

struct ProbeRequest {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/health";
  Duration timeout{1000};
};

struct ProbeResult {
  bool ok = false;     // a 2xx or 3xx answer within the timeout
  std::string detail;  // "status 503", "connection refused", "timed out after 1s", ...
};

class HealthProber {
 public:
  virtual ~HealthProber() = default;
  // Starts one probe. `done` is called exactly once, possibly on another thread and possibly
  // before probe() returns; it must not block.
  virtual void probe(const ProbeRequest& request, std::function<void(ProbeResult)> done) = 0;
};

// HTTP/1.1 GET over Boost.Beast on its own I/O thread, each probe bounded by its timeout.
// Destroying it abandons outstanding probes (their callbacks are not called) and joins the
// thread, so callbacks must own (not borrow) what they touch.
std::unique_ptr<HealthProber> httpHealthProber();

}  // namespace runway::runtime
