#pragma once

// The delivery report (docs/reports.md): how a team delivers, per period, from what the store
// remembers — the DORA four keys (deployment frequency, lead time for changes, change failure
// rate, time to restore) with the performance band of each, plus success rate, rollbacks and
// their reasons, and time spent waiting for approvals and change windows.
//
// The report is a JSON document (its form is stable and documented in docs/api.md); the
// Markdown and table renderings are made from that document, so the server (which computes it)
// and the CLI (which prints it) cannot disagree.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/report/history.hpp"
#include "runway/store/store.hpp"

namespace runway::report {

// An incident as the delivery report counts it. Incidents are kept elsewhere (the incident
// module); until one is connected, change failures are rollbacks only and time to restore runs
// from a failed deployment to the next success in its environment.
struct IncidentSpan {
  std::string deployment_id;  // the deployment it is attributed to; "" = none
  TimePoint opened_at;
  std::optional<TimePoint> resolved_at;
};

// Where the delivery report reads incidents from. Called on the caller's thread.
class IncidentSource {
 public:
  virtual ~IncidentSource() = default;
  virtual Result<std::vector<IncidentSpan>> incidents() = 0;
};

enum class Grouping { None, Week, Month };
// "none", "week", "month"; InvalidArgument for anything else.
Result<Grouping> parseGrouping(std::string_view text);
std::string_view toString(Grouping grouping);

// The DORA performance bands (docs/reports.md names the thresholds and their source).
enum class Band { Elite, High, Medium, Low, None };  // None: nothing to judge in the period
std::string_view toString(Band band);
Band frequencyBand(double deployments_per_day);
Band leadTimeBand(Duration median);
Band changeFailureBand(double rate);
Band restoreBand(Duration median);

struct DeliveryOptions {
  std::string environment;  // "" = every environment
  TimePoint since;          // deployments created in [since, until)
  TimePoint until;
  Grouping by = Grouping::None;
  TimePoint now;  // waits still open are counted up to here
  // A deployment followed within this time of its success by an incident attributed to it is
  // a failed change.
  Duration incident_attribution{std::chrono::hours(24)};
  std::shared_ptr<IncidentSource> incidents;  // null: none connected
};

// The report over `history` (loadHistory(): every deployment, every environment, oldest
// first). InvalidArgument when until <= since. Errors of the incident source are returned.
Result<boost::json::value> deliveryReport(const std::vector<DeploymentHistory>& history,
                                          const DeliveryOptions& options);

// Renderings of a deliveryReport() document: Markdown, and the terminal's plain table.
std::string deliveryMarkdown(const boost::json::value& report);
std::string deliveryTable(const boost::json::value& report);
// One self-contained HTML page: a trend chart per key (inline SVG, bars coloured by band), the
// per-period table, rollback reasons and the deployments; no script, nothing fetched.
std::string deliveryHtml(const boost::json::value& report);

// A report bound: an RFC 3339 timestamp, or a date "2026-12-01" (midnight UTC).
Result<TimePoint> parseReportTime(std::string_view text);

}  // namespace runway::report
