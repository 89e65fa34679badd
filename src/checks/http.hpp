#pragma once

// How the checks (health endpoints, smoke requests, dependencies, webhook hooks, the registry
// API, the pre-flight Prometheus probe, the load generator) use runway's one HTTP client,
// runway::http, and its policy (http/https only, no redirects, no proxy from the environment).

#include <string>

#include "runway/core/clock.hpp"
#include "runway/http/client.hpp"

namespace runway::checks::detail {

// A request with the checks' defaults: a body over 1 MiB is cut there, not an error (a check
// shows the start of what it got); Accept */* unless the check sets one (what a browser or curl
// would send: an endpoint answers with its default).
http::Request checkRequest(std::string method, std::string url, Duration timeout);

// A 2xx status.
bool isSuccess(long status);

}  // namespace runway::checks::detail
