#pragma once

// The Prometheus HTTP API (docs/querying/api.md): instant and range queries, the response
// envelope, and the reduction of a result to one measurement value.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runway/analysis/provider.hpp"
#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::analysis {

struct PromSample {
  double time = 0;  // Unix seconds
  double value = 0;  // "NaN", "+Inf", "-Inf" included
};

struct PromSeries {
  std::map<std::string, std::string> labels;
  std::vector<PromSample> samples;  // one for a vector element, several for a matrix series
};

struct PromResult {
  std::string type;  // "vector" | "matrix" | "scalar" | "string"
  std::vector<PromSeries> series;  // vector and matrix
  std::optional<PromSample> scalar;  // scalar
  std::string string_value;          // string
  std::vector<std::string> warnings;
};

// Parses a response body. An error envelope ({"status":"error","errorType":"bad_data",
// "error":"..."}) becomes an error whose message is "<errorType>: <error>" verbatim
// (InvalidArgument for bad_data/execution, Timeout for timeout, Unavailable for unavailable
// and HTTP 503, Internal otherwise); a body that is not the envelope names the HTTP status.
Result<PromResult> parsePrometheusResponse(std::string_view body, long http_status);

// Reduces a result to one measurement: a vector or matrix of one series gives its (last)
// value; an empty vector or matrix is no data; several series are an InvalidArgument error
// that says to aggregate; a scalar is its value; a string is an error.
Result<MetricValue> prometheusValue(const PromResult& result);

// An instant query at `at` (now when `at` is the epoch) against provider.address, with the
// provider's timeout, auth and TLS settings. Transport failures: Unavailable / Timeout.
Result<PromResult> prometheusQuery(const config::PrometheusProvider& provider,
                                   const std::string& query, TimePoint at);

// A range query over [start, end] with `step`; the result is a matrix.
Result<PromResult> prometheusQueryRange(const config::PrometheusProvider& provider,
                                        const std::string& query, TimePoint start, TimePoint end,
                                        Duration step);

}  // namespace runway::analysis
