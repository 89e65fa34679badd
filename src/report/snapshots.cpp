#include "runway/report/snapshots.hpp"

#include <algorithm>
#include <cmath>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/report/history.hpp"

namespace runway::report {
namespace {

namespace json = boost::json;

// Newest deployments looked at per pass: far more than can start within one window.
constexpr int kRecentDeployments = 50;

bool hasSnapshot(const DeploymentHistory& h, std::string_view when) {
  for (const auto& e : h.events) {
    if (e.kind != kTrafficSnapshotKind) continue;
    json::error_code ec;
    const auto data = json::parse(e.data_json, ec);
    if (!ec && data.is_object() && data.get_object().contains("when") && data.at("when").is_string() &&
        data.at("when").get_string() == when) {
      return true;
    }
  }
  return false;
}

std::optional<TimePoint> endedAt(const DeploymentHistory& h) {
  for (const char* phase : {"Succeeded", "RolledBack", "Superseded"}) {
    if (h.phase == phase) return h.entered(phase).value_or(h.updated_at);
  }
  return std::nullopt;
}

// A percentile of the whole service from its versions' own: their request-weighted mean. Exact
// when one version served the window, which is the usual case on either side of a deployment.
double weighted(const std::vector<runtime::VersionStatistics>& versions,
                double runtime::VersionStatistics::*field) {
  double sum = 0;
  double weight = 0;
  for (const auto& v : versions) {
    sum += v.*field * static_cast<double>(v.requests);
    weight += static_cast<double>(v.requests);
  }
  return weight > 0 ? sum / weight : 0;
}

}  // namespace

TrafficSnapshots::TrafficSnapshots(SnapshotOptions options) : o_(std::move(options)) {}

Result<void> TrafficSnapshots::record(const store::DeploymentRecord& d, const char* when) {
  const auto now = o_.clock->now();
  const auto window = std::chrono::duration_cast<Duration>(std::chrono::ceil<std::chrono::seconds>(o_.window));
  json::array services;
  auto cfg = o_.config();
  const auto* env = cfg ? cfg->findEnvironment(d.environment) : nullptr;
  const auto* app = env != nullptr ? cfg->applicationFor(*env) : nullptr;
  if (app != nullptr) {
    for (const auto& s : app->services) {
      json::object o{{"service", s.name}};
      auto stats = o_.runtime->statistics(d.environment, s.name, window);
      if (stats && std::string_view(when) == "before") {
        // Before: what served until now, without the new version's first requests (it may have
        // started taking traffic within the slack).
        std::erase_if(*stats, [&](const runtime::VersionStatistics& v) { return v.version == d.version; });
      }
      if (!stats) {
        o["available"] = false;
        o["error"] = stats.error().message;
        services.push_back(std::move(o));
        continue;
      }
      std::uint64_t requests = 0;
      std::uint64_t errors = 0;
      json::array versions;
      for (const auto& v : *stats) {
        requests += v.requests;
        errors += v.responses_5xx + v.upstream_errors;
        versions.push_back(json::object{{"version", v.version},
                                        {"requests", v.requests},
                                        {"errors", v.responses_5xx + v.upstream_errors},
                                        {"p50Ms", v.latency_p50_ms},
                                        {"p95Ms", v.latency_p95_ms},
                                        {"p99Ms", v.latency_p99_ms}});
      }
      const double seconds = std::chrono::duration<double>(window).count();
      o["available"] = true;
      o["requests"] = requests;
      o["errors"] = errors;
      o["throughput"] = seconds > 0 ? static_cast<double>(requests) / seconds : 0.0;
      o["p50Ms"] = weighted(*stats, &runtime::VersionStatistics::latency_p50_ms);
      o["p95Ms"] = weighted(*stats, &runtime::VersionStatistics::latency_p95_ms);
      o["p99Ms"] = weighted(*stats, &runtime::VersionStatistics::latency_p99_ms);
      o["versions"] = std::move(versions);
      services.push_back(std::move(o));
    }
  }
  json::object data{{"when", when},
                    {"windowMs", window.count()},
                    {"from", formatTimestamp(now - window)},
                    {"to", formatTimestamp(now)},
                    {"services", std::move(services)}};
  auto appended = o_.store->appendEvent(store::NewEvent{now, "runway", std::string(kTrafficSnapshotKind), d.id,
                                                        fmt::format("{} traffic over {} s", when, window.count() / 1000),
                                                        json::serialize(data)});
  if (!appended) return fail(appended.error());
  return {};
}

Result<void> TrafficSnapshots::tick() {
  auto recent = o_.store->listDeployments(store::DeploymentFilter{"", "", "", kRecentDeployments});
  if (!recent) return fail(recent.error());
  const auto now = o_.clock->now();
  for (const auto& d : *recent) {
    const bool need_before = before_done_.count(d.id) == 0;
    const bool need_after = after_done_.count(d.id) == 0;
    if (!need_before && !need_after) continue;
    if (d.phase == "Failed" || d.phase == "Rejected") {
      before_done_.insert(d.id);
      after_done_.insert(d.id);
      continue;
    }
    const bool young = now - d.created_at <= kSnapshotSlack;
    const bool ended = d.phase == "Succeeded" || d.phase == "RolledBack" || d.phase == "Superseded";
    if (!young && !ended) {
      before_done_.insert(d.id);  // too late for "before"; nothing due "after" yet
      continue;
    }
    auto h = loadDeployment(*o_.store, d.id);
    if (!h) return fail(h.error());
    if (need_before) {
      if (!hasSnapshot(*h, "before") && young) {
        if (auto r = record(d, "before"); !r) return r;
      }
      before_done_.insert(d.id);
    }
    if (need_after) {
      const auto end = endedAt(*h);
      if (!end) continue;
      if (hasSnapshot(*h, "after")) {
        after_done_.insert(d.id);
      } else if (now >= *end + o_.window) {
        // Only right after the window: read later (the server was down), "the last window" would
        // be traffic long after the deployment, not the window after it.
        if (now - (*end + o_.window) <= kSnapshotSlack) {
          if (auto r = record(d, "after"); !r) return r;
        }
        after_done_.insert(d.id);
      }
    }
  }
  return {};
}

}  // namespace runway::report
