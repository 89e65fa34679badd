#pragma once

// The release report of one deployment (docs/reports.md): its timeline (steps, bakes, approvals
// with who and when, checks, hooks), every analysis metric's measurements against its
// conditions, and the before/after comparison of the traffic each service served in the window
// before the deployment started and the same-length window after it ended (snapshots.hpp),
// judged with the environment's performance tolerances (the perf check's comparePerformance).
//
// Like the delivery report it is a JSON document (stable, docs/api.md); Markdown and HTML are
// rendered from that document.

#include <string>

#include <boost/json/value.hpp>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/store/store.hpp"

namespace runway::report {

// The report of deployment `id` as of `now`. `config` (may be null) gives the metrics'
// conditions and the environment's tolerances (defaults without it). NotFound for an unknown id.
Result<boost::json::value> releaseReport(store::Store& store, const std::string& id,
                                         const config::Config* config, TimePoint now);

std::string releaseMarkdown(const boost::json::value& report);
// One self-contained HTML page: inline CSS and SVG charts, no script, nothing fetched.
std::string releaseHtml(const boost::json::value& report);

}  // namespace runway::report
