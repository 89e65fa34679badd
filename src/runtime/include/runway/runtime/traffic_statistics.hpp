#pragma once

// The router's per-version statistics as analysis reads them: the bridge that lets the builtin
// metric provider (error_rate, latency_p95, availability, ...) judge a version on the traffic
// the embedded router actually served.

#include <memory>
#include <string>

#include "runway/analysis/provider.hpp"
#include "runway/core/clock.hpp"

namespace runway::runtime {

// Reads statistics of `environment`'s listeners (named "<service>.<environment>") from the
// router behind `admin_socket`. Thread-safe (one admin connection per call).
//
// The router keeps the last 15 minutes in 1-second buckets and answers "the last W seconds".
// A range that ends now is one query and carries latency quantiles. A range that ended earlier
// is the difference of two windows ending now: request and status counts are exact, latency is
// not available (latency queries then have no data). A range older than 15 minutes has no data.
// An unreachable router is an error (Unavailable), which analysis records as Error, never as
// "no data".
std::shared_ptr<analysis::TrafficStatistics> routerTrafficStatistics(
    std::string admin_socket, std::string environment, std::shared_ptr<Clock> clock);

}  // namespace runway::runtime
