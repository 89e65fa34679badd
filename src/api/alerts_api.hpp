#pragma once

// POST /api/v1/alerts/alertmanager: Alertmanager's webhook (docs/api.md, docs/oncall.md).

#include <memory>
#include <vector>

#include "runway/api/http_server.hpp"
#include "runway/api/v1.hpp"

namespace runway::api {

// The alert receiver's routes (role: deployer, as a rollback needs).
std::vector<Route> alertRoutes(std::shared_ptr<ApiContext> context);

}  // namespace runway::api
