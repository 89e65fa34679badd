#pragma once

// /api/v1/incidents...: open, list, show, acknowledge, update, mitigate, resolve, note,
// commander, postmortem (docs/api.md).

#include <memory>
#include <vector>

#include "runway/api/http_server.hpp"
#include "runway/api/v1.hpp"

namespace runway::api {

std::vector<Route> incidentRoutes(std::shared_ptr<ApiContext> context);

}  // namespace runway::api
