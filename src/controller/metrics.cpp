#include "metrics.hpp"

namespace runway::controller {

MetricsRecorder::MetricsRecorder() {
  metrics_.reconcile_bounds = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 1e300};
  metrics_.reconcile_buckets.assign(metrics_.reconcile_bounds.size(), 0);
}

void MetricsRecorder::countFailure(const std::string& action) {
  std::lock_guard lock(mu_);
  metrics_.action_failures[action]++;
}

void MetricsRecorder::countOutcome(const std::string& outcome) {
  std::lock_guard lock(mu_);
  metrics_.analysis_outcomes[outcome]++;
}

void MetricsRecorder::observeReconcile(std::chrono::steady_clock::duration took) {
  const double s = std::chrono::duration<double>(took).count();
  std::lock_guard lock(mu_);
  metrics_.reconcile_count++;
  metrics_.reconcile_sum_seconds += s;
  for (std::size_t i = 0; i < metrics_.reconcile_bounds.size(); ++i) {
    if (s <= metrics_.reconcile_bounds[i]) metrics_.reconcile_buckets[i]++;
  }
}

void MetricsRecorder::setLiveByPhase(std::map<std::string, std::uint64_t> by_phase) {
  std::lock_guard lock(mu_);
  metrics_.live_by_phase = std::move(by_phase);
}

ControllerMetrics MetricsRecorder::snapshot() const {
  std::lock_guard lock(mu_);
  return metrics_;
}

}  // namespace runway::controller
