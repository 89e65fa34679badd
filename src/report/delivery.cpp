#include "runway/report/delivery.hpp"

#include <algorithm>
#include <map>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace runway::report {
namespace {

namespace json = boost::json;
using std::chrono::days;
using std::chrono::hours;

// Phases a deployment ends in without succeeding (Superseded is neither: a newer release took
// over; Degraded waits for a person, but its change did not land).
bool endedUnsuccessfully(const std::string& phase) {
  return phase == "RolledBack" || phase == "Failed" || phase == "Rejected" || phase == "Degraded";
}

// Everything the report says about one deployment, decided once.
struct Facts {
  const DeploymentHistory* h = nullptr;
  // A change: a release (not a rollback) that reached production traffic and ended there:
  // it succeeded, was rolled back, or degraded. Deployments that ended before anything was
  // deployed (Failed pre-flight, Rejected) changed nothing.
  bool change = false;
  std::optional<TimePoint> succeeded_at;
  std::optional<Duration> lead_time;
  std::string lead_from;  // "commit" | "firstDeployment"
  bool failed = false;    // a failed change
  std::string failure;    // "rolledBack" | "degraded" | "rollbackRequested" | "incident"
  std::optional<TimePoint> failure_at;
  std::optional<TimePoint> restored_at;
  std::string rollback;  // "automatic" | "manual" | ""
  std::string rollback_reason_kind;
  std::string rollback_reason;
  Duration approval_wait{0};
  Duration window_wait{0};
};

double seconds(Duration d) { return static_cast<double>(d.count()) / 1000.0; }

json::value optSeconds(const std::optional<Duration>& d) {
  return d ? json::value(seconds(*d)) : json::value(nullptr);
}
json::value optTime(const std::optional<TimePoint>& t) {
  return t ? json::value(formatTimestamp(*t)) : json::value(nullptr);
}
json::value optRate(std::size_t part, std::size_t whole) {
  if (whole == 0) return nullptr;
  return static_cast<double>(part) / static_cast<double>(whole);
}

// The median; the mean of the two middle values for an even count.
std::optional<Duration> median(std::vector<Duration> values) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const auto n = values.size();
  if (n % 2 == 1) return values[n / 2];
  return (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::vector<Facts> decide(const std::vector<DeploymentHistory>& all, const DeliveryOptions& o,
                          const std::vector<IncidentSpan>& incidents) {
  // When each version of each application was first deployed anywhere: the start of its lead
  // time when no commit time was given.
  std::map<std::pair<std::string, std::string>, TimePoint> first_deployed;
  for (const auto& h : all) {
    auto [it, inserted] = first_deployed.emplace(std::make_pair(h.application, h.version), h.created_at);
    if (!inserted && h.created_at < it->second) it->second = h.created_at;
  }
  std::vector<Facts> facts(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& h = all[i];
    Facts& f = facts[i];
    f.h = &h;
    f.succeeded_at = h.entered("Succeeded");
    f.change = !h.rollback && (h.phase == "Succeeded" || h.phase == "RolledBack" || h.phase == "Degraded");
    f.approval_wait = h.timeIn("AwaitingApproval", o.now);
    f.window_wait = h.timeIn("WaitingForWindow", o.now);
    if (!h.rollback && f.succeeded_at) {
      if (h.commit_time) {
        f.lead_time = *f.succeeded_at - *h.commit_time;
        f.lead_from = "commit";
      } else {
        f.lead_time = *f.succeeded_at - first_deployed.at({h.application, h.version});
        f.lead_from = "firstDeployment";
      }
    }
    if (h.rollback) {
      f.rollback = "manual";
      f.rollback_reason_kind = "requested";
      f.rollback_reason = h.reason;
    }
    if (!f.change) continue;
    if (h.phase == "RolledBack") {
      f.failed = true;
      f.failure = "rolledBack";
      const auto* aborting = h.transitionInto("Aborting");
      f.failure_at = aborting != nullptr ? aborting->at : h.updated_at;
      f.rollback = "automatic";
      f.rollback_reason_kind = aborting != nullptr ? aborting->kind : "unknown";
      f.rollback_reason = h.abort_reason;
    } else if (h.phase == "Degraded") {
      f.failed = true;
      f.failure = "degraded";
      f.failure_at = h.entered("Degraded").value_or(h.updated_at);
    } else {
      // Succeeded, then the next deployment of its environment was a rollback: that took it out.
      for (std::size_t j = i + 1; j < all.size(); ++j) {
        if (all[j].environment != h.environment) continue;
        if (all[j].rollback) {
          f.failed = true;
          f.failure = "rollbackRequested";
          f.failure_at = all[j].created_at;
        }
        break;
      }
    }
    for (const auto& inc : incidents) {
      if (inc.deployment_id != h.id || !f.succeeded_at) continue;
      if (inc.opened_at < *f.succeeded_at || inc.opened_at - *f.succeeded_at > o.incident_attribution) continue;
      if (!f.failed || inc.opened_at < *f.failure_at) {
        f.failed = true;
        f.failure = "incident";
        f.failure_at = inc.opened_at;
        f.restored_at = inc.resolved_at;
      }
    }
    if (f.failed && f.failure != "incident") {
      // Restored by the next deployment of the environment to succeed after the failure.
      for (std::size_t j = i + 1; j < all.size(); ++j) {
        if (all[j].environment != h.environment) continue;
        const auto s = all[j].entered("Succeeded");
        if (s && *s >= *f.failure_at && (!f.restored_at || *s < *f.restored_at)) f.restored_at = *s;
      }
    }
  }
  return facts;
}

struct Period {
  TimePoint from;
  TimePoint to;
};

std::vector<Period> periods(const DeliveryOptions& o) {
  std::vector<Period> out;
  if (o.by == Grouping::None) return {Period{o.since, o.until}};
  TimePoint start;
  if (o.by == Grouping::Week) {
    const auto day = std::chrono::floor<days>(o.since);
    const std::chrono::weekday wd{day};
    const auto since_monday = (wd.c_encoding() + 6) % 7;  // Monday = 0
    start = std::chrono::time_point_cast<Duration>(day - days(since_monday));
  } else {
    const std::chrono::year_month_day ymd{std::chrono::floor<days>(o.since)};
    start = std::chrono::time_point_cast<Duration>(
        std::chrono::sys_days{ymd.year() / ymd.month() / std::chrono::day{1}});
  }
  while (start < o.until) {
    TimePoint next;
    if (o.by == Grouping::Week) {
      next = start + days(7);
    } else {
      const std::chrono::year_month_day ymd{std::chrono::floor<days>(start)};
      next = std::chrono::time_point_cast<Duration>(
          std::chrono::sys_days{(ymd.year() / ymd.month() + std::chrono::months(1)) / std::chrono::day{1}});
    }
    out.push_back(Period{std::max(start, o.since), std::min(next, o.until)});
    start = next;
  }
  return out;
}

json::object periodJson(const Period& p, const std::vector<const Facts*>& in) {
  const double period_days = seconds(p.to - p.from) / 86400.0;
  std::size_t deployed = 0;  // releases that reached Succeeded (deployment frequency)
  std::size_t changes = 0;
  std::size_t failed = 0;
  std::size_t succeeded = 0;  // every deployment, rollbacks too (success rate)
  std::size_t ended = 0;
  std::size_t unrestored = 0;
  std::size_t automatic = 0;
  std::size_t manual = 0;
  std::vector<Duration> leads, restores, approval_waits, window_waits;
  Duration approval_total{0}, window_total{0};
  std::map<std::string, std::size_t> reasons;
  for (const Facts* f : in) {
    const auto& h = *f->h;
    if (!h.rollback && f->succeeded_at) ++deployed;
    if (f->lead_time) leads.push_back(*f->lead_time);
    if (f->change) ++changes;
    if (f->failed) {
      ++failed;
      if (f->restored_at) {
        restores.push_back(*f->restored_at - *f->failure_at);
      } else {
        ++unrestored;
      }
    }
    if (h.phase == "Succeeded") ++succeeded;
    if (h.phase == "Succeeded" || endedUnsuccessfully(h.phase)) ++ended;
    if (f->rollback == "automatic") ++automatic;
    if (f->rollback == "manual") ++manual;
    if (!f->rollback.empty()) ++reasons[f->rollback_reason_kind];
    approval_total += f->approval_wait;
    window_total += f->window_wait;
    if (f->approval_wait.count() > 0) approval_waits.push_back(f->approval_wait);
    if (f->window_wait.count() > 0) window_waits.push_back(f->window_wait);
  }
  const double per_day = period_days > 0 ? static_cast<double>(deployed) / period_days : 0;
  const auto lead = median(leads);
  const auto restore = median(restores);
  json::array reason_list;
  for (const auto& [kind, count] : reasons) reason_list.push_back(json::object{{"kind", kind}, {"count", count}});
  return json::object{
      {"from", formatTimestamp(p.from)},
      {"to", formatTimestamp(p.to)},
      {"days", period_days},
      {"deployments", in.size()},
      {"deploymentFrequency",
       json::object{{"deployments", deployed}, {"perDay", per_day}, {"band", toString(frequencyBand(per_day))}}},
      {"leadTime", json::object{{"changes", leads.size()},
                                {"medianSeconds", optSeconds(lead)},
                                {"band", toString(lead ? leadTimeBand(*lead) : Band::None)}}},
      {"changeFailureRate",
       json::object{{"changes", changes},
                    {"failed", failed},
                    {"rate", optRate(failed, changes)},
                    {"band", toString(changes > 0 ? changeFailureBand(static_cast<double>(failed) /
                                                                      static_cast<double>(changes))
                                                  : Band::None)}}},
      {"timeToRestore", json::object{{"restored", restores.size()},
                                     {"unrestored", unrestored},
                                     {"medianSeconds", optSeconds(restore)},
                                     {"band", toString(restore ? restoreBand(*restore) : Band::None)}}},
      {"successRate", json::object{{"succeeded", succeeded}, {"ended", ended}, {"rate", optRate(succeeded, ended)}}},
      {"rollbacks", json::object{{"automatic", automatic}, {"manual", manual}, {"reasons", std::move(reason_list)}}},
      {"waiting", json::object{{"approvalSeconds", seconds(approval_total)},
                               {"approvalWaits", approval_waits.size()},
                               {"approvalMedianSeconds", optSeconds(median(approval_waits))},
                               {"windowSeconds", seconds(window_total)},
                               {"windowWaits", window_waits.size()},
                               {"windowMedianSeconds", optSeconds(median(window_waits))}}},
  };
}

json::object deploymentJson(const Facts& f) {
  const auto& h = *f.h;
  std::optional<Duration> restore;
  if (f.failed && f.restored_at) restore = *f.restored_at - *f.failure_at;
  return json::object{{"id", h.id},
                      {"environment", h.environment},
                      {"version", h.version},
                      {"phase", h.phase},
                      {"rollback", h.rollback},
                      {"createdAt", formatTimestamp(h.created_at)},
                      {"succeededAt", optTime(f.succeeded_at)},
                      {"commitTime", optTime(h.commit_time)},
                      {"change", f.change},
                      {"leadTimeSeconds", optSeconds(f.lead_time)},
                      {"leadTimeFrom", f.lead_from.empty() ? json::value(nullptr) : json::value(f.lead_from)},
                      {"failedChange", f.failed},
                      {"failure", f.failure.empty() ? json::value(nullptr) : json::value(f.failure)},
                      {"failureAt", optTime(f.failure_at)},
                      {"restoredAt", optTime(f.restored_at)},
                      {"timeToRestoreSeconds", optSeconds(restore)},
                      {"rollbackKind", f.rollback.empty() ? json::value(nullptr) : json::value(f.rollback)},
                      {"rollbackReasonKind", f.rollback_reason_kind.empty() ? json::value(nullptr)
                                                                            : json::value(f.rollback_reason_kind)},
                      {"rollbackReason", f.rollback_reason},
                      {"approvalWaitSeconds", seconds(f.approval_wait)},
                      {"windowWaitSeconds", seconds(f.window_wait)}};
}

}  // namespace

Result<Grouping> parseGrouping(std::string_view text) {
  if (text.empty() || text == "none") return Grouping::None;
  if (text == "week") return Grouping::Week;
  if (text == "month") return Grouping::Month;
  return fail(ErrorCode::InvalidArgument, fmt::format("by must be week or month, not \"{}\"", text));
}

std::string_view toString(Grouping grouping) {
  switch (grouping) {
    case Grouping::Week: return "week";
    case Grouping::Month: return "month";
    case Grouping::None: break;
  }
  return "none";
}

std::string_view toString(Band band) {
  switch (band) {
    case Band::Elite: return "elite";
    case Band::High: return "high";
    case Band::Medium: return "medium";
    case Band::Low: return "low";
    case Band::None: break;
  }
  return "none";
}

// Thresholds: docs/reports.md, "Performance bands".
Band frequencyBand(double deployments_per_day) {
  if (deployments_per_day >= 1.0) return Band::Elite;
  if (deployments_per_day >= 1.0 / 7.0) return Band::High;
  if (deployments_per_day >= 1.0 / 30.0) return Band::Medium;
  return Band::Low;
}

Band leadTimeBand(Duration median) {
  if (median < hours(24)) return Band::Elite;
  if (median < days(7)) return Band::High;
  if (median < days(30)) return Band::Medium;
  return Band::Low;
}

Band changeFailureBand(double rate) {
  if (rate <= 0.15) return Band::Elite;
  if (rate <= 0.30) return Band::High;
  if (rate <= 0.45) return Band::Medium;
  return Band::Low;
}

Band restoreBand(Duration median) {
  if (median < hours(1)) return Band::Elite;
  if (median < hours(24)) return Band::High;
  if (median < days(7)) return Band::Medium;
  return Band::Low;
}

Result<TimePoint> parseReportTime(std::string_view text) {
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    return parseTimestamp(std::string(text) + "T00:00:00Z");
  }
  return parseTimestamp(text);
}

Result<json::value> deliveryReport(const std::vector<DeploymentHistory>& history,
                                   const DeliveryOptions& options) {
  if (options.until <= options.since) {
    return fail(ErrorCode::InvalidArgument, "the report's end (until) must be after its start (since)");
  }
  std::vector<IncidentSpan> incidents;
  if (options.incidents) {
    auto got = options.incidents->incidents();
    if (!got) return fail(got.error());
    incidents = std::move(*got);
  }
  const auto facts = decide(history, options, incidents);
  std::vector<const Facts*> selected;
  for (const auto& f : facts) {
    const auto& h = *f.h;
    if (!options.environment.empty() && h.environment != options.environment) continue;
    if (h.created_at < options.since || h.created_at >= options.until) continue;
    selected.push_back(&f);
  }
  json::array period_list;
  for (const auto& p : periods(options)) {
    std::vector<const Facts*> in;
    for (const Facts* f : selected) {
      if (f->h->created_at >= p.from && f->h->created_at < p.to) in.push_back(f);
    }
    period_list.push_back(periodJson(p, in));
  }
  json::array deployments;
  for (const Facts* f : selected) deployments.push_back(deploymentJson(*f));
  return json::object{{"report", "delivery"},
                      {"environment", options.environment},
                      {"since", formatTimestamp(options.since)},
                      {"until", formatTimestamp(options.until)},
                      {"by", toString(options.by)},
                      {"incidents", options.incidents ? "connected" : "none"},
                      {"total", periodJson(Period{options.since, options.until}, selected)},
                      {"periods", std::move(period_list)},
                      {"deployments", std::move(deployments)}};
}

}  // namespace runway::report
