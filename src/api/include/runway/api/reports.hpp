#pragma once

// The report routes of API v1 (docs/api.md, "Reports"): GET /api/v1/reports/delivery and
// GET /api/v1/reports/deployments/{id}, both JSON, both for viewers.

#include <memory>
#include <vector>

#include "runway/api/v1.hpp"

namespace runway::api {

std::vector<Route> reportRoutes(std::shared_ptr<ApiContext> context);

}  // namespace runway::api
