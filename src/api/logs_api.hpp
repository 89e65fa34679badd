#pragma once

// GET /api/v1/environments/{env}/services/{service}/logs: the output of a service's instances
// on a runtime that keeps it (Kubernetes: the pods' log API), read once as JSON or followed as
// server-sent events (docs/api.md).

#include <memory>
#include <vector>

#include "runway/api/http_server.hpp"
#include "runway/api/v1.hpp"

namespace runway::api {

// The log routes (role: viewer).
std::vector<Route> logRoutes(std::shared_ptr<ApiContext> context);

}  // namespace runway::api
