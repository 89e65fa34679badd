#pragma once

// The admin API on a Unix socket, served on its own thread:
//   PUT /table            routing table JSON → {"revision":N}
//   GET /table            the table being served
//   GET /stats?window=60s statistics JSON over the window (1s..15m)
//   GET /metrics          Prometheus text 0.0.4
//   POST /drain           {"instance":"id"}
//   GET /healthz          {"status":"ok"}
// Errors are {"error":{"code":"invalid_argument","message":"..."}} with the code's HTTP status.

#include <memory>
#include <string>

#include "runway/core/error.hpp"
#include "runway/router/router.hpp"

namespace runway::router {

class AdminServer {
 public:
  virtual ~AdminServer() = default;
  // Binds `path` (0600). A stale socket file is replaced; one a live process answers on is a
  // Conflict.
  static Result<std::unique_ptr<AdminServer>> start(Router& router, const std::string& path);
};

// Conflict when a live process answers on the socket at `path`; fine when there is no file or a
// stale one.
Result<void> checkAdminSocketFree(const std::string& path);

// One request, as the admin server answers it (exposed for tests). `target` includes the query.
struct AdminReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};
AdminReply handleAdminRequest(Router& router, std::string_view method, std::string_view target,
                              std::string_view body);

}  // namespace runway::router
