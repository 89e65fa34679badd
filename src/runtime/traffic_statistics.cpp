#include "runway/runtime/traffic_statistics.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "runway/router/admin_client.hpp"

namespace runway::runtime {
namespace {

using std::chrono::seconds;

constexpr Duration kHistory = std::chrono::minutes(15);
// A range ending this close to now counts as ending now (one query, with latency).
constexpr Duration kNowSlack = std::chrono::seconds(2);

Duration roundUpToSeconds(Duration d) {
  const auto s = std::chrono::ceil<seconds>(d);
  return std::clamp<Duration>(std::chrono::duration_cast<Duration>(s), seconds(1), kHistory);
}

analysis::TrafficSnapshot toSnapshot(const router::TrafficCounts& counts, bool with_latency) {
  analysis::TrafficSnapshot snap;
  snap.requests = counts.requests;
  for (std::size_t i = 0; i < snap.responses_by_class.size(); ++i) {
    snap.responses_by_class[i] = counts.by_class[i + 1];
  }
  snap.gateway_errors = counts.router_errors;
  if (with_latency && counts.requests > 0) {
    snap.quantiles = analysis::TrafficSnapshot::Quantiles{
        counts.latency.p50_ms / 1000.0, counts.latency.p95_ms / 1000.0,
        counts.latency.p99_ms / 1000.0};
  }
  return snap;
}

std::uint64_t minus(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; }

class RouterTrafficStatistics final : public analysis::TrafficStatistics {
 public:
  RouterTrafficStatistics(std::string socket, std::string environment, std::shared_ptr<Clock> clock)
      : socket_(std::move(socket)), environment_(std::move(environment)), clock_(std::move(clock)) {}

  // analysis::TrafficStatistics
  Result<analysis::TrafficSnapshot> snapshot(const std::string& service, const std::string& version,
                                             TimePoint from, TimePoint to) const override {
    const auto now = clock_->now();
    if (to > now) to = now;
    if (from >= to || now - from > kHistory + kNowSlack) {
      analysis::TrafficSnapshot empty;  // nothing the router still remembers
      return empty;
    }
    const auto listener = fmt::format("{}.{}", service, environment_);
    router::AdminClient client(socket_);
    const auto outer_window = roundUpToSeconds(now - from);
    auto outer = client.stats(outer_window);
    if (!outer) return fail(outer.error());
    const auto* outer_stats = outer->find(listener, version);
    const router::TrafficCounts none;
    const auto& outer_counts = outer_stats != nullptr ? outer_stats->total : none;
    if (now - to <= kNowSlack) {
      auto snap = toSnapshot(outer_counts, true);
      snap.covered = outer_window;
      return snap;
    }
    // [from, to) = last (now - from) minus last (now - to).
    const auto inner_window = roundUpToSeconds(now - to);
    auto inner = client.stats(inner_window);
    if (!inner) return fail(inner.error());
    const auto* inner_stats = inner->find(listener, version);
    const auto& inner_counts = inner_stats != nullptr ? inner_stats->total : none;
    router::TrafficCounts diff;
    diff.requests = minus(outer_counts.requests, inner_counts.requests);
    for (std::size_t i = 0; i < diff.by_class.size(); ++i) {
      diff.by_class[i] = minus(outer_counts.by_class[i], inner_counts.by_class[i]);
    }
    diff.router_errors = minus(outer_counts.router_errors, inner_counts.router_errors);
    auto snap = toSnapshot(diff, false);
    snap.covered = outer_window - inner_window;
    return snap;
  }

 private:
  std::string socket_;
  std::string environment_;
  std::shared_ptr<Clock> clock_;
};

}  // namespace

std::shared_ptr<analysis::TrafficStatistics> routerTrafficStatistics(
    std::string admin_socket, std::string environment, std::shared_ptr<Clock> clock) {
  return std::make_shared<RouterTrafficStatistics>(std::move(admin_socket), std::move(environment),
                                                   std::move(clock));
}

}  // namespace runway::runtime
