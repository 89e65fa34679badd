#pragma once

// The analysis runner: the measurements behind a deployment's running analysis runs. A run is
// built from the deployment's spec snapshot (templates, the per-use interval and thresholds),
// one analysis::AnalysisRun per service; due measurements are taken off the strand, recorded
// on it, and each decided measurement goes to the engine as an AnalysisResult carrying the
// analysis module's verdict for that (service, metric). What runs is known again after a crash
// from the committed document (PersistedDeployment::analyses): runs restart from scratch.
//
// Strand only.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "deployment_repository.hpp"
#include "due_index.hpp"
#include "metrics.hpp"
#include "runway/analysis/analysis.hpp"
#include "runway/analysis/provider.hpp"
#include "runway/core/clock.hpp"
#include "runway/engine/actions.hpp"
#include "runway/engine/inputs.hpp"
#include "scheduler.hpp"

namespace runway::controller {

class AnalysisRunner {
 public:
  // Called on the strand with every decided measurement of deployment `id`.
  using Report = std::function<void(const std::string& id, const engine::AnalysisResult&)>;

  AnalysisRunner(std::shared_ptr<analysis::MetricProvider> provider, std::shared_ptr<Clock> clock,
                 Scheduler& scheduler, MetricsRecorder& metrics, Report report);

  // Sets up run `a` of deployment `d`. When it cannot be set up (a template that does not
  // resolve, a colliding metric name, no services), returns the one Error result that fails
  // the step, for the caller to feed to the engine; nothing runs then.
  std::optional<engine::AnalysisResult> start(const LiveDeployment& d, const engine::StartAnalysis& a);
  void stop(const std::string& id, std::uint32_t run);
  void forget(const std::string& id);

  // Takes every due measurement of every run off the strand (the runs due, from a schedule:
  // not a scan of every run).
  void measureDue();

  // The earliest time a measurement of a running run is due; nullopt when none is.
  std::optional<TimePoint> nextWakeup() const;

 private:
  struct ServiceRun {
    std::string service;
    analysis::AnalysisRun run;
    std::set<std::size_t> in_flight;
  };
  struct RunExec {
    engine::StartAnalysis spec;
    std::vector<ServiceRun> services;
  };

  void record(const std::string& id, std::uint32_t run_id, std::size_t si, std::size_t mi,
              const Result<analysis::MetricValue>& answer);
  // Deployment, run, service index: one service's AnalysisRun.
  using RunKey = std::tuple<std::string, std::uint32_t, std::size_t>;
  // Keeps `sr`'s place in due_: its next measurement not already being taken.
  void schedule(const RunKey& key, const ServiceRun& sr);
  void unschedule(const std::string& id, std::uint32_t run_id, const RunExec& exec);

  std::shared_ptr<analysis::MetricProvider> provider_;
  std::shared_ptr<Clock> clock_;
  Scheduler& scheduler_;
  MetricsRecorder& metrics_;
  Report report_;
  std::map<std::string, std::map<std::uint32_t, RunExec>> runs_;  // deployment -> run -> exec
  DueIndex<RunKey> due_;
};

}  // namespace runway::controller
