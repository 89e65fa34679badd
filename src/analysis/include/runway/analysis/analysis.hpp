#pragma once

// Analysis runs: measurements taken on a schedule and turned into outcomes with Argo Rollouts'
// semantics (four outcomes, failure/inconclusive limits, an error budget), plus `for` and a
// per-metric no-data policy. Time is passed in (tick(now)), so a 15-minute analysis is a test
// that takes milliseconds.
//
// Not thread-safe: a run belongs to one strand. Providers block; the controller may instead
// call dueMetrics() / record() and measure elsewhere.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runway/analysis/condition.hpp"
#include "runway/analysis/provider.hpp"
#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::analysis {

// A metric's or a run's phase. Precedence (worst last), as Argo:
// Pending < Running < Successful < Inconclusive < Error < Failed.
enum class Phase { Pending, Running, Successful, Inconclusive, Error, Failed };

// One measurement's outcome.
enum class MeasurementOutcome {
  Successful,
  Failed,
  Inconclusive,
  Error,
  // The failure condition holds but has not yet held for the metric's `for` duration: recorded
  // for charts, counted towards nothing.
  Breaching,
};

std::string_view toString(Phase phase);
std::string_view toString(MeasurementOutcome outcome);
bool isComplete(Phase phase);  // Successful, Inconclusive, Error, Failed
// True when `candidate` is worse than `current` in the precedence above.
bool isWorse(Phase current, Phase candidate);

struct Measurement {
  TimePoint time;
  std::optional<double> value;  // nullopt = no data or error
  MeasurementOutcome outcome = MeasurementOutcome::Successful;
  std::string message;  // provider message, error text, or why the outcome was chosen
};

// The state of one metric in a run.
struct MetricStatus {
  std::string name;
  Phase phase = Phase::Pending;
  bool dry_run = false;
  int count = 0;  // measurements that are not Errors (Argo's Count)
  int successful = 0;
  int failed = 0;
  int inconclusive = 0;
  int breaching = 0;
  int errors = 0;
  int consecutive_errors = 0;
  std::string message;  // why the phase is what it is
  std::vector<Measurement> measurements;  // every measurement, oldest first
};

// Argo's retry delay after an Error measurement (shortened to the interval if that is less).
inline constexpr Duration kErrorRetryInterval{std::chrono::seconds(10)};

// One metric's schedule and outcome.
class MetricRun {
 public:
  // Parses the metric's conditions. InvalidArgument (naming the field and column) if one does
  // not parse.
  static Result<MetricRun> create(config::MetricSpec spec, TimePoint start);

  const config::MetricSpec& spec() const { return spec_; }
  const MetricStatus& status() const { return status_; }

  // When the next measurement is due; nullopt once the metric is complete.
  std::optional<TimePoint> nextMeasurementAt() const;
  bool isDue(TimePoint now) const;

  // Records a provider's answer taken at `now` and re-assesses the phase. Ignored once the
  // metric is complete.
  void record(TimePoint now, const Result<MetricValue>& answer);

  // Stops scheduling: a metric that is still running (no limit exceeded) becomes Successful,
  // as Argo does when a run is terminated.
  void terminate(TimePoint now, std::string_view reason);

  // The outcome one value gets from the conditions alone (Argo's evaluateResult): both empty
  // -> Successful; failure true -> Failed; success true -> Successful; only a success
  // condition and it is false -> Failed; neither true -> Inconclusive.
  MeasurementOutcome evaluate(double value) const;

 private:
  MetricRun(config::MetricSpec spec, std::optional<Condition> success,
            std::optional<Condition> failure, TimePoint start);
  void assess();
  int effectiveCount() const;  // 0 = unbounded

  config::MetricSpec spec_;
  std::optional<Condition> success_;
  std::optional<Condition> failure_;
  TimePoint start_;
  std::optional<TimePoint> breaching_since_;
  MetricStatus status_;
};

// The metrics one analysis measures, as its run is built: the named templates' metrics in
// order, each with `interval` when it is non-zero (the per-step interval) and every
// `${threshold}` in its conditions replaced by thresholds[metric name] (the per-step "more
// stringent thresholds"). InvalidArgument naming the cause when a template is not configured,
// two metrics share a name, or a condition uses ${threshold} and no threshold is given for its
// metric; nothing of this can be measured, so the run cannot be set up.
Result<std::vector<config::MetricSpec>> buildMetrics(
    const config::Config& config, const std::vector<std::string>& templates, Duration interval,
    const std::map<std::string, std::string>& thresholds);

// Several metrics (from one or more templates) measured together. Phase = worst metric phase
// once every non-dry-run metric is complete; as soon as one non-dry-run metric is Failed,
// Error or Inconclusive the run terminates (the other metrics become Successful) and takes the
// worst phase. Dry-run metrics are measured and recorded but never decide the run.
class AnalysisRun {
 public:
  static Result<AnalysisRun> create(std::string name, std::vector<config::MetricSpec> metrics,
                                    MeasureContext context, TimePoint start);

  const std::string& name() const { return name_; }
  Phase phase() const;
  std::string message() const;  // the deciding metric's message
  const std::vector<MetricRun>& metrics() const { return metrics_; }
  const MeasureContext& context() const { return context_; }

  // Indexes of metrics whose measurement is due at `now`.
  std::vector<std::size_t> dueMetrics(TimePoint now) const;
  // REQUIRES: metric < metrics().size().
  void record(std::size_t metric, TimePoint now, const Result<MetricValue>& answer);

  // Measures every due metric through `provider` (blocking) and records the answers.
  void tick(TimePoint now, MetricProvider& provider);

  // The earliest time a metric is due; nullopt when nothing is left to measure.
  std::optional<TimePoint> nextWakeup() const;

  // Stops the run (e.g. the rollout moved on): running metrics become Successful.
  void terminate(TimePoint now, std::string_view reason);

 private:
  AnalysisRun(std::string name, std::vector<MetricRun> metrics, MeasureContext context)
      : name_(std::move(name)), metrics_(std::move(metrics)), context_(std::move(context)) {}
  void terminateIfDecided(TimePoint now);

  std::string name_;
  std::vector<MetricRun> metrics_;
  MeasureContext context_;
};

}  // namespace runway::analysis
