#pragma once

// Static and live checks of AnalysisTemplates for `runway validate [--check-queries]`.

#include <string>
#include <vector>

#include "runway/config/loader.hpp"
#include "runway/config/model.hpp"

namespace runway::analysis {

// Every problem in the config's analysis templates that would make a run fail or mislead:
// conditions that do not parse (with the column inside the expression), unknown builtin
// queries, missing or malformed provider settings (address, URL, JSON pointer, judge weights and
// thresholds), impossible limits (count > 1 without interval, a `for` longer than the run).
// Located at the metric (or its provider block when that has a location). Does no I/O.
std::vector<config::Diagnostic> validateTemplates(const config::Config& config);

// The outcome of sending one Prometheus query.
struct QueryCheck {
  std::string template_name;
  std::string metric;  // "<metric>" or "<metric>/<judge metric>"
  std::string query;   // as sent (placeholders filled with sample values)
  std::string address;
  config::SourceLocation location;
  bool ok = false;
  std::string message;  // Prometheus' "errorType: error" or the transport error; "" when ok
};

// Sends each Prometheus query of every template once (an instant query at "now"; ${service},
// ${version}, ${environment} and args are filled with "runway-check", ${window} with the
// metric's window) and reports the outcome of each, failures and successes, in config order.
// Blocking: one request at a time, each bounded by the provider's timeout.
std::vector<QueryCheck> checkQueries(const config::Config& config);

}  // namespace runway::analysis
